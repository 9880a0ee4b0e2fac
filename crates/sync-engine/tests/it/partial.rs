//! Partial knowledge and doomed writes (sync-safety.md S14; issue 10): an enrichment that
//! could not be read leaves its fields as the target has them and never holds
//! deactivations; writes the target's metadata says must fail are never sent.

use chrono::DateTime;
use sync_engine::{
    Collection, FieldRule, MemorySource, MemoryTarget, SessionStatus, UnknownFields, Value,
};

use crate::support::{definition, run, seat, seen, source_fields, user};

#[test]
fn the_fields_a_definition_reads_come_from_its_templates() {
    let users = definition(false, &["is_robot"]).source_fields();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    assert_eq!(names, ["email", "id", "is_robot", "name"]);
    let saas = definition(true, &[]).source_fields();
    assert!(
        saas.contains("role") && saas.contains("last_activity"),
        "{saas:?}"
    );
    let filtered = definition(false, &["role == 'Admin'", "last_activity is none"]).source_fields();
    assert!(filtered.contains("role") && filtered.contains("last_activity"));
}

#[tokio::test]
async fn unknown_enrichments_leave_seats_alone_and_still_deactivate() {
    let def = definition(true, &[]);
    let source = MemorySource::new(
        source_fields(),
        vec![
            seen("u1", "Ada", "ada@example.com", "Admin", 1_700_000_000),
            seen("u2", "Bob", "bob@example.com", "Member", 1_700_000_100),
            seen("u3", "Cy", "cy@example.com", "Member", 1_700_000_200),
        ],
    )
    .with_system("roster");
    let target = MemoryTarget::new().with_system("people");
    let out = run(&def, &source, &target).await;
    assert_eq!(out.report.status, SessionStatus::Succeeded);
    let ada_before = seat(&target, "u1");

    // Roles and logins cannot be read now; Bob is disabled, Dee is new.
    let mut bob = seen("u2", "Bob", "bob@example.com", "Member", 1_700_000_100);
    bob.active = false;
    let mut dee = seen("u4", "Dee", "dee@example.com", "", 0);
    dee.roles.clear();
    dee.last_activity = None;
    let mut ada = seen("u1", "Ada Renamed", "ada@example.com", "", 0);
    ada.roles.clear();
    ada.last_activity = None;
    source.set_records(vec![
        ada,
        bob,
        seen("u3", "Cy", "cy@example.com", "Member", 1_700_000_200),
        dee,
    ]);
    source.set_unknown(vec![
        UnknownFields::all(["role", "roles"], "admin roles: HTTP 500"),
        UnknownFields::all(["last_activity"], "Events API: HTTP 404"),
    ]);
    let out = run(&def, &source, &target).await;
    let r = &out.report;
    assert_eq!(r.status, SessionStatus::Succeeded, "{}", r.render_human());
    assert_eq!(r.exit_code(), 0);
    assert!(
        r.warnings.iter().any(|w| w == "Events API: HTTP 404"),
        "{:?}",
        r.warnings
    );
    assert!(r.warnings.iter().any(|w| w == "admin roles: HTTP 500"));
    assert_eq!(
        (r.counts.deactivated, r.counts.created, r.counts.updated),
        (1, 1, 1)
    );
    let saas = r.saas_counts.expect("saas counts");
    assert_eq!((saas.deactivated, saas.created, saas.updated), (1, 1, 0));
    // Ada's seat: role and last visit exactly as before (not cleared, not "updated").
    assert_eq!(seat(&target, "u1").fields, ada_before.fields);
    // Dee's new seat carries neither field rather than an empty one.
    let dee = seat(&target, "u4");
    assert_eq!(dee.fields.get("role"), None);
    assert_eq!(dee.fields.get("last_visit"), None);
}

#[tokio::test]
async fn fields_unknown_for_some_records_only_spare_those_records() {
    let def = definition(true, &[]);
    let source = MemorySource::new(
        source_fields(),
        vec![
            seen("u1", "Ada", "ada@example.com", "Admin", 1_700_000_000),
            seen("u2", "Bob", "bob@example.com", "Member", 1_700_000_100),
        ],
    );
    let target = MemoryTarget::new();
    run(&def, &source, &target).await;
    source.set_records(vec![
        seen("u1", "Ada", "ada@example.com", "Member", 1_700_009_000),
        seen("u2", "Bob", "bob@example.com", "Admin", 1_700_009_100),
    ]);
    source.set_unknown(vec![
        UnknownFields::all(["role"], "roles of u1 not read").for_records(["u1"]),
    ]);
    let out = run(&def, &source, &target).await;
    assert_eq!(out.report.status, SessionStatus::Succeeded);
    assert_eq!(
        seat(&target, "u1").fields.get("role"),
        Some(&Value::from("Admin"))
    );
    assert_eq!(
        seat(&target, "u2").fields.get("role"),
        Some(&Value::from("Admin"))
    );
    // Known fields of the spared record still update.
    assert_eq!(
        seat(&target, "u1").fields.get("last_visit"),
        Some(&Value::Timestamp(
            DateTime::from_timestamp(1_700_009_000, 0).unwrap()
        ))
    );
}

#[tokio::test]
async fn a_filter_on_an_unknown_field_leaves_the_record_as_it_is() {
    let def = definition(false, &["role == 'Admin'"]);
    let source = MemorySource::new(
        source_fields(),
        vec![
            seen("u1", "Ada", "ada@example.com", "Member", 0),
            seen("u2", "Bob", "bob@example.com", "Member", 0),
        ],
    );
    let target = MemoryTarget::new();
    run(&def, &source, &target).await;
    source.set_unknown(vec![
        UnknownFields::all(["role"], "roles not read").for_records(["u2"]),
    ]);
    let out = run(&def, &source, &target).await;
    let r = &out.report;
    assert_eq!(
        r.counts.deactivated, 0,
        "an undecidable filter never deactivates"
    );
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert_eq!(r.errors[0].key, "u2");
    assert!(
        r.errors[0].message.contains("filters.exclude[0]"),
        "{:?}",
        r.errors
    );
}

fn people_rules(target: &MemoryTarget) {
    target.set_field_rules(
        Collection::Users,
        vec![
            FieldRule::new("username").required().unique(true),
            FieldRule::new("roster_user_id").unique(false),
            FieldRule::new("full_name").max_length(20),
        ],
    );
}

#[tokio::test]
async fn doomed_creates_are_errors_and_never_sent() {
    let def = definition(false, &[]);
    let mut nobody = user("u3", "No Mail", "", true);
    nobody.fields.remove("email");
    let source = MemorySource::new(
        source_fields(),
        vec![
            user("u1", "Jane", "Jane@Example.com", true),
            user("u2", "Jane Two", "jane@example.com", true),
            nobody,
            user("u4", "Fine", "fine@example.com", true),
            // 21 characters, 23 bytes: the limit counts characters.
            user("u5", "Zoë Zoë Zoë Zoë Zoë 1", "zoe@example.com", true),
            user("u6", "Zoë Zoë Zoë Zoë Zoë", "zoe2@example.com", true),
        ],
    );
    let target = MemoryTarget::new();
    people_rules(&target);
    let out = run(&def, &source, &target).await;
    let r = &out.report;
    assert_eq!(r.status, SessionStatus::SucceededWithErrors);
    assert_eq!(r.counts.created, 2, "{}", r.render_human());
    let mut keys: Vec<&str> = r.errors.iter().map(|e| e.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["u1", "u2", "u3", "u5"], "{:?}", r.errors);
    let u5 = r.errors.iter().find(|e| e.key == "u5").unwrap();
    assert!(
        u5.message
            .contains("`full_name` would be 21 characters, longer than the 20"),
        "{}",
        u5.message
    );
    let u1 = r.errors.iter().find(|e| e.key == "u1").unwrap();
    assert!(
        u1.message.contains("`username`") && u1.message.contains("u2"),
        "{}",
        u1.message
    );
    let u3 = r.errors.iter().find(|e| e.key == "u3").unwrap();
    assert!(
        u3.message.contains("`username` is required"),
        "{}",
        u3.message
    );
    assert_eq!(
        target.counters().changes(),
        2,
        "only the good records were sent"
    );
    assert_eq!(target.counters().failures, 0);

    // A re-sync with only doomed records left sends nothing at all.
    let before = target.counters();
    let out = run(&def, &source, &target).await;
    assert_eq!(out.report.counts.unchanged, 2);
    assert_eq!(out.report.errors.len(), 4);
    assert_eq!(target.counters().changes(), before.changes());
    assert_eq!(target.counters().apply_calls, before.apply_calls);
}

#[tokio::test]
async fn the_record_already_holding_a_unique_value_keeps_it() {
    let def = definition(false, &[]);
    let source = MemorySource::new(
        source_fields(),
        vec![user("u1", "Jane", "jane@example.com", true)],
    );
    let target = MemoryTarget::new();
    people_rules(&target);
    run(&def, &source, &target).await;
    // A second Roster account with the same address (other case) appears.
    source.set_records(vec![
        user("u1", "Jane", "jane@example.com", true),
        user("u2", "Jane Again", "JANE@example.com", true),
    ]);
    let before = target.counters();
    let out = run(&def, &source, &target).await;
    let r = &out.report;
    assert_eq!(r.counts.unchanged, 1);
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].key, "u2");
    assert!(
        r.errors[0].message.contains("u1 already holds it"),
        "{}",
        r.errors[0].message
    );
    assert_eq!(target.counters().changes(), before.changes());
}
