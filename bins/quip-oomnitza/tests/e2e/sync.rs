//! First sync, unchanged re-sync, deactivation, reactivation and the mass-removal guard.

use std::collections::{BTreeMap, BTreeSet};

use api_sandbox::Person;
use api_sandbox::oomnitza::SeatStatus;
use serde_json::Value;

use crate::support::{Harness, active_humans, count, counts};

/// `quip_user_id` → person, for every Oomnitza person that has one (panics on duplicates).
fn owned_people(h: &Harness) -> BTreeMap<String, Value> {
    let mut owned = BTreeMap::new();
    for person in h.oomnitza_people() {
        if let Some(id) = person["quip_user_id"].as_str().filter(|s| !s.is_empty()) {
            let previous = owned.insert(id.to_owned(), person.clone());
            assert!(previous.is_none(), "two people with quip_user_id {id}");
        }
    }
    owned
}

fn expected_role(p: &Person) -> &str {
    p.admin_role.as_deref().unwrap_or("Member")
}

/// Checks that Oomnitza holds exactly the active human Quip users active, once each, with
/// their active seat, role and last activity (deactivated people and seats may remain).
fn assert_in_step(h: &Harness, people: &[Person]) {
    let active = active_humans(people);
    let owned = owned_people(h);
    let expected: BTreeSet<&str> = active.iter().map(|p| p.quip_id.as_str()).collect();
    let actual: BTreeSet<&str> = owned
        .iter()
        .filter(|(_, person)| person["suspended"] != true)
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(
        actual, expected,
        "active owned people = active human Quip users"
    );

    let seats: Vec<_> = h
        .quip_seats()
        .into_iter()
        .filter(|s| s.status == SeatStatus::Active)
        .collect();
    assert_eq!(
        seats.len(),
        active.len(),
        "one active Quip seat per active user"
    );
    let seat_by_user: BTreeMap<&str, _> = seats.iter().map(|s| (s.user_id.as_str(), s)).collect();
    assert_eq!(seat_by_user.len(), seats.len(), "no person has two seats");
    let mut with_activity = 0;
    let mut admins = 0;
    for p in &active {
        let person = &owned[&p.quip_id];
        assert_eq!(person["email"], p.email(), "{person}");
        assert_eq!(person["full_name"], p.name.as_str(), "{person}");
        assert_eq!(person["suspended"], false, "{person}");
        let user_id = person["user_id"].as_str().expect("user_id");
        let seat = seat_by_user
            .get(user_id)
            .unwrap_or_else(|| panic!("no Quip seat for {}", p.quip_id));
        assert_eq!(seat.status, SeatStatus::Active, "{seat:?}");
        assert_eq!(seat.user_external_id.as_deref(), Some(p.quip_id.as_str()));
        let role = seat.roles.as_ref().expect("every seat has a role");
        assert_eq!(role.role_external_label, expected_role(p), "{seat:?}");
        if role.role_external_label != "Member" {
            admins += 1;
        }
        let want = p.last_login_usec.map(|us| us.div_euclid(1_000_000));
        assert_eq!(seat.last_visit, want, "last activity of {}", p.quip_id);
        with_activity += usize::from(want.is_some());
    }
    assert!(
        with_activity > active.len() / 2,
        "most users have logged in"
    );
    assert!(admins > 0, "some seats carry an admin role");
}

/// The session report JSON contract (architecture.md §6): every key, with its type.
fn assert_report_contract(report: &Value) {
    let keys = [
        "id",
        "status",
        "started_at",
        "finished_at",
        "counts",
        "held_deactivations",
        "saas_counts",
        "errors",
        "api_calls",
        "rate_limit_wait_s",
        "fatal",
    ];
    for key in keys {
        assert!(report.get(key).is_some(), "report has {key}: {report:#}");
    }
    for key in ["id", "status", "started_at", "finished_at"] {
        assert!(report[key].is_string(), "{key} is a string");
    }
    for section in ["counts", "saas_counts"] {
        let object = report[section].as_object().expect("counts object");
        let names: BTreeSet<&str> = object.keys().map(String::as_str).collect();
        let want: BTreeSet<&str> = [
            "created",
            "updated",
            "deactivated",
            "reactivated",
            "unchanged",
            "skipped",
            "failed",
        ]
        .into();
        assert_eq!(names, want, "{section}");
        assert!(object.values().all(Value::is_u64), "{section}");
    }
    for section in ["api_calls", "rate_limit_wait_s"] {
        let object = report[section].as_object().expect("per-system object");
        let names: Vec<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(names, ["oomnitza", "quip"], "{section}");
        assert!(object.values().all(Value::is_number), "{section}");
    }
    assert!(report["errors"].is_array() && report["held_deactivations"].is_array());
    let started = report["started_at"].as_str().expect("started_at");
    let finished = report["finished_at"].as_str().expect("finished_at");
    let started = chrono::DateTime::parse_from_rfc3339(started).expect("RFC 3339");
    let finished = chrono::DateTime::parse_from_rfc3339(finished).expect("RFC 3339");
    assert_eq!(started.offset().local_minus_utc(), 0, "UTC");
    assert!(started <= finished, "{started} {finished}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_of_2000_users_then_unchanged_resync() {
    let h = Harness::start(2_000, 2_024).await;
    let people = h.quip_people();
    // A fifth of the company was entered in Oomnitza by hand: adopted by email, not
    // duplicated.
    let preexisting: BTreeSet<String> = h
        .sandbox
        .oomnitza
        .state()
        .seed_people_from(&people, 0.2)
        .into_iter()
        .collect();
    let active = active_humans(&people);
    let adopted = active
        .iter()
        .filter(|p| preexisting.contains(p.email()))
        .count() as u64;
    assert!(adopted > 300, "the data set has adoptions ({adopted})");
    let skipped = people.iter().filter(|p| p.disabled && !p.is_robot).count() as u64;
    let config = h.saas_config();

    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    out.expect_code(0);
    let report = out.json();
    assert_report_contract(&report);
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["mode"], "users_and_saas");
    assert_eq!(report["fatal"], Value::Null);
    assert_eq!(report["errors"], serde_json::json!([]));
    assert_eq!(report["held_deactivations"], serde_json::json!([]));
    let n = active.len() as u64;
    assert_eq!(
        counts(&report, "counts"),
        [n - adopted, adopted, 0, 0, 0, skipped, 0],
        "{report:#}"
    );
    assert_eq!(
        counts(&report, "saas_counts"),
        [n, 0, 0, 0, 0, skipped, 0],
        "{report:#}"
    );
    assert_in_step(&h, &people);
    // The report matches the emulator: created + updated = owned people; every person
    // there is either owned or one of the untouched hand-entered ones.
    let owned = owned_people(&h).len() as u64;
    assert_eq!(
        count(&report, "counts", "created") + count(&report, "counts", "updated"),
        owned
    );
    assert_eq!(
        h.sandbox.oomnitza.state().people_count() as u64,
        preexisting.len() as u64 + count(&report, "counts", "created")
    );
    assert_eq!(
        count(&report, "saas_counts", "created"),
        h.quip_seats().len() as u64
    );
    let oomnitza_calls = report["api_calls"]["oomnitza"].as_u64().expect("calls");
    let received = h.sandbox.oomnitza.counters().total();
    assert_eq!(
        oomnitza_calls, received,
        "api_calls.oomnitza counts every request"
    );
    let quip_calls = report["api_calls"]["quip"].as_u64().expect("calls");
    assert_eq!(quip_calls, h.sandbox.quip.counters().total());

    // Re-sync with nothing changed: zero writes, everything unchanged.
    let writes = h.oomnitza_writes();
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(
        h.oomnitza_writes() - writes,
        0,
        "an unchanged re-sync writes nothing"
    );
    assert_eq!(report["status"], "succeeded");
    assert_eq!(counts(&report, "counts"), [0, 0, 0, 0, n, skipped, 0]);
    assert_eq!(counts(&report, "saas_counts"), [0, 0, 0, 0, n, skipped, 0]);
    assert_in_step(&h, &people);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leavers_are_deactivated_returners_reactivated_and_mass_removal_is_held() {
    let h = Harness::start(200, 7).await;
    let quip = h.sandbox.quip.state();
    let people = h.quip_people();
    let config = h.saas_config();
    let run = |extra: &'static [&'static str]| {
        let mut cli = h.cli(["run", "--json", "--config"]).arg(&config);
        for a in extra {
            cli = cli.arg(a);
        }
        cli.run()
    };
    run(&[]).await.expect_code(0);
    let active = active_humans(&people);
    let n = active.len() as u64;

    // One user disabled in Quip, another removed from Quip.
    let disabled = active[3].clone();
    let removed = active[4].clone();
    quip.set_disabled(&disabled.quip_id, true);
    assert!(quip.remove_person(&removed.quip_id));
    let out = run(&[]).await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(count(&report, "counts", "deactivated"), 2, "{report:#}");
    assert_eq!(
        count(&report, "saas_counts", "deactivated"),
        2,
        "{report:#}"
    );
    assert_eq!(count(&report, "counts", "unchanged"), n - 2);
    let seats = h.quip_seats();
    for p in [&disabled, &removed] {
        let person = h.person_by_quip_id(&p.quip_id);
        assert_eq!(person["suspended"], true, "{person}");
        let seat = seats
            .iter()
            .find(|s| s.user_external_id.as_deref() == Some(p.quip_id.as_str()))
            .expect("the seat is kept");
        assert_eq!(seat.status, SeatStatus::Inactive, "{seat:?}");
    }
    let still_active = seats
        .iter()
        .filter(|s| s.status == SeatStatus::Active)
        .count() as u64;
    assert_eq!(still_active, n - 2);

    // Both come back: reactivated, person and seat.
    quip.set_disabled(&disabled.quip_id, false);
    assert!(quip.add_person(removed.clone()));
    let out = run(&[]).await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(count(&report, "counts", "reactivated"), 2, "{report:#}");
    assert_eq!(
        count(&report, "saas_counts", "reactivated"),
        2,
        "{report:#}"
    );
    for p in [&disabled, &removed] {
        assert_eq!(h.person_by_quip_id(&p.quip_id)["suspended"], false);
    }
    assert!(
        h.quip_seats()
            .iter()
            .all(|s| s.status == SeatStatus::Active)
    );

    // A person suspended by hand in Oomnitza stays suspended (not this integration's doing).
    let by_hand = active[5];
    let user_id = h.person_by_quip_id(&by_hand.quip_id)["user_id"]
        .as_str()
        .expect("user_id")
        .to_owned();
    h.sandbox
        .oomnitza
        .state()
        .set_field(&user_id, "suspended", Value::Bool(true))
        .expect("suspend by hand");
    let out = run(&[]).await;
    out.expect_code(0);
    assert_eq!(count(&out.json(), "counts", "reactivated"), 0);
    assert_eq!(h.person_by_quip_id(&by_hand.quip_id)["suspended"], true);

    // 40% of the company vanishes: held, exit 3, nothing written.
    let vanished: Vec<&Person> = active
        .iter()
        .copied()
        .step_by(5)
        .chain(active.iter().copied().skip(1).step_by(5))
        .collect();
    for p in &vanished {
        assert!(quip.remove_person(&p.quip_id));
    }
    let expected_people = vanished
        .iter()
        .filter(|p| p.quip_id != by_hand.quip_id)
        .count() as u64;
    let writes = h.oomnitza_writes();
    let out = run(&[]).await;
    out.expect_code(3);
    let report = out.json();
    assert_eq!(h.oomnitza_writes() - writes, 0, "held: nothing written");
    assert_eq!(report["status"], "held");
    assert_eq!(count(&report, "counts", "deactivated"), 0);
    assert_eq!(count(&report, "saas_counts", "deactivated"), 0);
    let held = report["held_deactivations"].as_array().expect("held list");
    let held_keys = |collection: &str| -> BTreeSet<&str> {
        held.iter()
            .filter(|e| e["collection"] == collection)
            .map(|e| e["key"].as_str().expect("key"))
            .collect()
    };
    let vanished_keys: BTreeSet<&str> = vanished.iter().map(|p| p.quip_id.as_str()).collect();
    // The person suspended by hand is already inactive: nothing to deactivate there.
    let mut people_keys = vanished_keys.clone();
    people_keys.remove(by_hand.quip_id.as_str());
    assert_eq!(held_keys("users"), people_keys, "{report:#}");
    assert_eq!(held_keys("saas_users"), vanished_keys, "{report:#}");
    assert_eq!(held.len(), people_keys.len() + vanished_keys.len());
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("exceed the limit"), "{warnings}");
    for p in &vanished {
        assert_eq!(
            h.person_by_quip_id(&p.quip_id)["suspended"],
            p.quip_id == by_hand.quip_id
        );
    }

    // Approved: applied.
    let out = run(&["--allow-deactivations"]).await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(report["status"], "succeeded");
    assert_eq!(
        count(&report, "counts", "deactivated"),
        expected_people,
        "{report:#}"
    );
    assert_eq!(
        count(&report, "saas_counts", "deactivated"),
        vanished.len() as u64,
        "{report:#}"
    );
    assert_eq!(report["held_deactivations"], serde_json::json!([]));
    for p in &vanished {
        assert_eq!(h.person_by_quip_id(&p.quip_id)["suspended"], true);
    }
    let inactive: BTreeSet<String> = h
        .quip_seats()
        .into_iter()
        .filter(|s| s.status == SeatStatus::Inactive)
        .filter_map(|s| s.user_external_id)
        .collect();
    let inactive: BTreeSet<&str> = inactive.iter().map(String::as_str).collect();
    assert_eq!(
        inactive, vanished_keys,
        "exactly the vanished users' seats are inactive"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimal_configuration_runs_with_defaults() {
    let mut config = crate::support::sandbox_config(40, 9);
    config.data.robot_share = 0.1;
    let h = Harness::start_with(config).await;
    let quip = h.sandbox.quip.base_url();
    let config = h.write(
        "minimal.toml",
        &format!(
            "[quip]\nbase_url = \"{quip}\"\nscim_url = \"{quip}\"\ncredential = {{ env = \"E2E_QUIP_TOKEN\" }}\n\n\
             [oomnitza]\nbase_url = \"{}\"\ncredential = {{ env = \"E2E_OOMNITZA_TOKEN\" }}\n",
            h.sandbox.oomnitza.base_url()
        ),
    );
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(report["integration"], "Quip users", "default name");
    assert_eq!(report["mode"], "users", "default mode");
    assert_eq!(report["saas_counts"], Value::Null);
    let people = h.quip_people();
    let active = active_humans(&people);
    assert_eq!(count(&report, "counts", "created"), active.len() as u64);
    // Default mapping: username and email from the primary email, names from Quip.
    for p in &active {
        let person = h.person_by_quip_id(&p.quip_id);
        assert_eq!(person["username"], p.email());
        assert_eq!(person["email"], p.email());
        assert_eq!(person["full_name"], p.name.as_str());
        assert_eq!(person["first_name"], p.first_name.as_str());
        assert_eq!(person["last_name"], p.last_name.as_str());
    }
    // Robots are excluded by default.
    assert!(
        people.iter().any(|p| p.is_robot && !p.disabled),
        "the data set has an active robot"
    );
    assert_eq!(h.oomnitza_people().len(), active.len(), "no robot created");
}

/// Every request the Oomnitza emulator answered with a 4xx: its schema rules (Oomnitza's
/// OpenAPI document, issue 20) reject a wrong shape with 400.
fn rejected(h: &Harness) -> Vec<String> {
    h.sandbox
        .oomnitza
        .counters()
        .snapshot()
        .into_iter()
        .filter(|r| (400..500).contains(&r.status))
        .map(|r| format!("{} {} -> {} (x{})", r.method, r.route, r.status, r.count))
        .collect()
}

/// The users_and_saas story of issue 20 through the binary: first sync, three renames, two
/// new users, a role change, a disabled user, the user back. Every Oomnitza request passes
/// the emulator's schema rules, role overwrites go one user per PATCH, and the seats end
/// with the right roles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saas_story_follows_the_openapi_document_and_seats_end_with_the_right_roles() {
    const ROLES: &str = "/api/v3/saas/{ident}/roles/users";
    let h = Harness::start(60, 20).await;
    let quip = h.sandbox.quip.state();
    let config = h.saas_config();
    let run = || h.cli(["run", "--json", "--config"]).arg(&config).run();
    let oomnitza = h.sandbox.oomnitza.counters();

    run().await.expect_code(0);
    assert_in_step(&h, &h.quip_people());
    assert_eq!(rejected(&h), Vec::<String>::new(), "first sync");
    assert_eq!(
        oomnitza.count("PATCH", ROLES),
        0,
        "new seats get roles by POST"
    );
    assert_eq!(
        oomnitza.count("POST", "/api/v3/saas"),
        1,
        "the SaaS application is created once"
    );

    // Three renames, two new users, one member promoted, one user disabled.
    let people = h.quip_people();
    let active = active_humans(&people);
    for (i, p) in active.iter().take(3).enumerate() {
        assert!(quip.set_name(&p.quip_id, &format!("{} Renamed{i}", p.name)));
    }
    for (i, template) in active.iter().skip(10).take(2).enumerate() {
        let mut p = (*template).clone();
        p.quip_id = format!("NEWUSER{i:04}");
        p.emails = vec![format!("new.user{i}@example.com")];
        p.name = format!("New User{i}");
        p.last_login_usec = None;
        let login = template.created_usec + 86_400_000_000;
        assert!(quip.add_person(p.clone()));
        assert!(quip.record_login(&p.quip_id, login));
    }
    let promoted = active
        .iter()
        .find(|p| p.admin_role.is_none() && !p.disabled)
        .expect("a member")
        .quip_id
        .clone();
    assert!(quip.set_admin_role(&promoted, Some("Site Admin")));
    let disabled = active[5].quip_id.clone();
    assert_ne!(disabled, promoted);
    assert!(quip.set_disabled(&disabled, true));

    let out = run().await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(count(&report, "counts", "created"), 2, "{report:#}");
    assert_eq!(count(&report, "counts", "updated"), 3, "{report:#}");
    assert_eq!(count(&report, "counts", "deactivated"), 1, "{report:#}");
    assert_eq!(count(&report, "saas_counts", "created"), 2, "{report:#}");
    assert_eq!(
        count(&report, "saas_counts", "deactivated"),
        1,
        "{report:#}"
    );
    assert_in_step(&h, &h.quip_people());
    assert_eq!(
        oomnitza.count("PATCH", ROLES),
        1,
        "one role overwrite, for the one user whose role changed"
    );
    assert_eq!(rejected(&h), Vec::<String>::new(), "second sync");
    let seat = h
        .quip_seats()
        .into_iter()
        .find(|s| s.user_external_id.as_deref() == Some(promoted.as_str()))
        .expect("the promoted user's seat");
    assert_eq!(
        seat.roles.expect("a role").role_external_label,
        "Site Admin"
    );

    // The disabled user is back.
    assert!(quip.set_disabled(&disabled, false));
    let out = run().await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(count(&report, "counts", "reactivated"), 1, "{report:#}");
    assert_eq!(
        count(&report, "saas_counts", "reactivated"),
        1,
        "{report:#}"
    );
    assert_in_step(&h, &h.quip_people());

    // In step: nothing left to write, nothing ever rejected.
    let writes = h.oomnitza_writes();
    run().await.expect_code(0);
    assert_eq!(
        h.oomnitza_writes(),
        writes,
        "a no-change re-sync writes nothing"
    );
    assert_eq!(rejected(&h), Vec::<String>::new(), "whole story");
    assert_eq!(oomnitza.count("PATCH", ROLES), 1);
    assert_eq!(oomnitza.count("POST", "/api/v3/saas"), 1);
}
