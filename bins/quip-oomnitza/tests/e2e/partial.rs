//! Partial knowledge and doomed writes (issue 10, sync-safety.md S14): an optional Quip
//! API that is not licensed or fails is a warning, never a reason to stop deactivating;
//! optional APIs are not even asked when nothing needs them; records Oomnitza would refuse
//! are per-record errors and are never sent.

use std::collections::BTreeMap;

use api_sandbox::oomnitza::SaasSeat;
use api_sandbox::{EventsApi, Fault, FaultRule, Person};
use serde_json::Value;

use crate::support::{Harness, Output, active_humans};

const EVENTS: &str = "/1/admin/events/";
const ADMIN_ROLES: &str = "/1/admin/company/admin-roles";

/// Seats by the Quip id they belong to.
fn seats_by_quip_id(h: &Harness) -> BTreeMap<String, SaasSeat> {
    h.quip_seats()
        .into_iter()
        .map(|s| (s.user_external_id.clone().expect("external id"), s))
        .collect()
}

fn warnings(out: &Output) -> Vec<String> {
    out.json()["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| w.as_str().expect("text").to_owned())
        .collect()
}

/// A run that must end `succeeded`, exit 0.
async fn run_ok(h: &Harness, config: &std::path::Path) -> Output {
    let out = h.cli(["run", "--json", "--config"]).arg(config).run().await;
    out.expect_code(0);
    assert_eq!(out.json()["status"], "succeeded", "{}", out.stdout);
    out
}

/// The first active human who is not the token owner (disabling the owner would break the
/// emulator's admin token).
fn someone(h: &Harness) -> String {
    let owner = h.sandbox.quip.state().token_owner_id();
    active_humans(&h.quip_people())
        .iter()
        .map(|p| p.quip_id.clone())
        .find(|id| *id != owner)
        .expect("an active human")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_without_the_events_add_on_still_succeeds_and_deactivates() {
    for (events, status) in [(EventsApi::NotFound, "404"), (EventsApi::Forbidden, "403")] {
        let h = Harness::start(30, 11).await;
        let quip = h.sandbox.quip.state();
        quip.set_events_api(events);
        let config = h.saas_config();

        // First sync: succeeded, exit 0, a warning naming the API and the status.
        let out = run_ok(&h, &config).await;
        let report = out.json();
        let active = active_humans(&h.quip_people()).len() as u64;
        assert_eq!(report["counts"]["created"], active, "{report:#}");
        let w = warnings(&out);
        assert!(
            w.iter()
                .any(|w| w.contains("Events API") && w.contains(&format!("HTTP {status}"))),
            "{w:?}"
        );
        assert!(
            h.quip_seats().iter().all(|s| s.last_visit.is_none()),
            "nothing known, nothing written"
        );

        // The add-on is bought, then lapses again: what it told us stays.
        quip.set_events_api(EventsApi::Available);
        run_ok(&h, &config).await;
        let before = seats_by_quip_id(&h);
        assert!(before.values().any(|s| s.last_visit.is_some()));
        quip.set_events_api(events);

        let leaver = someone(&h);
        assert!(quip.set_disabled(&leaver, true));
        let out = run_ok(&h, &config).await;
        let report = out.json();
        assert_eq!(report["counts"]["deactivated"], 1, "{report:#}");
        assert_eq!(report["saas_counts"]["deactivated"], 1, "{report:#}");
        assert_eq!(report["saas_counts"]["updated"], 0, "{report:#}");
        assert!(warnings(&out).iter().any(|w| w.contains("Events API")));
        assert_eq!(h.person_by_quip_id(&leaver)["suspended"], true);
        let after = seats_by_quip_id(&h);
        for (id, seat) in &before {
            assert_eq!(
                after[id].last_visit, seat.last_visit,
                "last_visit of {id} kept"
            );
        }
        // And a re-sync in that state writes nothing.
        let writes = h.oomnitza_writes();
        run_ok(&h, &config).await;
        assert_eq!(h.oomnitza_writes(), writes);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_users_mode_asks_neither_events_nor_admin_roles() {
    let h = Harness::start(30, 12).await;
    let quip = h.sandbox.quip.state();
    let config = h.config("users.toml", "", "");
    let out = run_ok(&h, &config).await;
    assert!(warnings(&out).is_empty(), "{:?}", warnings(&out));
    assert_eq!(quip.count_under(EVENTS), 0, "{:?}", quip.counts_by_route());
    assert_eq!(quip.count("GET", ADMIN_ROLES), 0);
    // users_and_saas maps role and last activity, so both are read there.
    run_ok(&h, &h.saas_config()).await;
    assert!(quip.count_under(EVENTS) > 0);
    assert_eq!(quip.count("GET", ADMIN_ROLES), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_roles_failing_leaves_roles_and_still_deactivates() {
    let h = Harness::start(40, 13).await;
    let quip = h.sandbox.quip.state();
    let config = h.saas_config();
    run_ok(&h, &config).await;
    let before = seats_by_quip_id(&h);
    let role = |s: &SaasSeat| s.roles.as_ref().map(|r| r.role_external_label.clone());
    assert!(
        before
            .values()
            .any(|s| role(s).as_deref() != Some("Member"))
    );

    h.sandbox.quip.faults().inject(FaultRule::new(
        http::Method::GET,
        ADMIN_ROLES,
        Fault::status(500, r#"{"error":"Internal Server Error"}"#),
    ));
    // Roles change in Quip meanwhile: unknown this run, so nothing is changed.
    let promoted = someone(&h);
    assert!(quip.set_admin_role(&promoted, Some("Site Admin")));
    let leaver = active_humans(&h.quip_people())
        .iter()
        .map(|p| p.quip_id.clone())
        .rfind(|id| *id != promoted && *id != quip.token_owner_id())
        .expect("another active human");
    assert!(quip.set_disabled(&leaver, true));

    let out = run_ok(&h, &config).await;
    let report = out.json();
    let w = warnings(&out);
    assert!(
        w.iter()
            .any(|w| w.contains("admin roles") && w.contains("HTTP 500")),
        "{w:?}"
    );
    assert_eq!(report["counts"]["deactivated"], 1, "{report:#}");
    assert_eq!(report["saas_counts"]["deactivated"], 1, "{report:#}");
    assert_eq!(h.person_by_quip_id(&leaver)["suspended"], true);
    let after = seats_by_quip_id(&h);
    for (id, seat) in &before {
        assert_eq!(role(&after[id]), role(seat), "role of {id} kept");
    }
    // Once the endpoint answers, the new role arrives.
    h.sandbox.quip.faults().clear();
    run_ok(&h, &config).await;
    assert_eq!(
        role(&seats_by_quip_id(&h)[&promoted]).as_deref(),
        Some("Site Admin")
    );
}

fn person(id: &str, name: &str, emails: &[&str]) -> Person {
    Person {
        quip_id: id.to_owned(),
        name: name.to_owned(),
        first_name: name.split_whitespace().next().unwrap_or("").to_owned(),
        last_name: String::new(),
        emails: emails.iter().map(|e| (*e).to_owned()).collect(),
        disabled: false,
        is_robot: false,
        created_usec: 1_600_000_000_000_000,
        admin_role: None,
        last_login_usec: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_oomnitza_would_refuse_are_errors_and_never_sent() {
    let h = Harness::start(5, 14).await;
    let quip = h.sandbox.quip.state();
    let long = "L".repeat(399) + "!";
    let odd = [
        ("UODDTMPL001", "{{ 7*7 }}", "template@odd.example"),
        (
            "UODDQUOTE01",
            "Ann \"The Hammer\" O'Neil",
            "ann.quote@odd.example",
        ),
        ("UODDBACKSL1", "Back\\slash \\n Person", "back@odd.example"),
        (
            "UODDNEWLIN1",
            "First Line\nSecond Line",
            "newline@odd.example",
        ),
        ("UODDEMOJI01", "Emoji 🎉 Person 👩‍💻", "emoji@odd.example"),
        ("UODDAPOS001", "Pat O'Brien", "o'brien@odd.example"),
    ];
    for (id, name, email) in odd {
        assert!(quip.add_person(person(id, name, &[email])), "{id}");
    }
    assert!(quip.add_person(person("UCASEUPPER1", "Casey Upper", &["Casey@Odd.example"])));
    assert!(quip.add_person_sharing_email(person(
        "UCASELOWER1",
        "Casey Lower",
        &["casey@odd.example"]
    )));
    assert!(quip.add_person(person("UNOMAIL0001", "No Mail", &[])));
    // Oomnitza's text fields hold 256 characters (its metadata says so): a 400-character
    // name cannot be stored as Quip has it, and is not cut short either.
    assert!(quip.add_person(person("UODDLONG001", &long, &["long@odd.example"])));
    let doomed = ["UCASELOWER1", "UCASEUPPER1", "UNOMAIL0001", "UODDLONG001"];

    let config = h.config("users.toml", "", "");
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    assert!(matches!(out.code, 0 | 3), "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    let mut keys: Vec<&str> = report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["key"].as_str().expect("key"))
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, doomed, "{report:#}");
    let errors = report["errors"].to_string();
    assert!(errors.contains("`username`"), "{errors}");
    assert!(
        errors.contains("would be 400 characters, longer than the 256"),
        "{errors}"
    );
    assert_eq!(
        report["counts"]["failed"], 0,
        "nothing was refused by Oomnitza"
    );
    for id in doomed {
        assert!(
            h.sandbox
                .oomnitza
                .state()
                .find_people("quip_user_id", &Value::String(id.to_owned()))
                .expect("field")
                .is_empty(),
            "{id} was written"
        );
    }
    for (id, name, email) in odd {
        let p = h.person_by_quip_id(id);
        assert_eq!(p["full_name"], name, "{p}");
        assert_eq!(p["email"], email, "{p}");
    }
    // 400s and 409s never happened.
    let oom = h.sandbox.oomnitza.counters();
    assert_eq!(oom.with_status(400) + oom.with_status(409), 0);

    let writes = h.oomnitza_writes();
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    out.expect_code(3);
    assert_eq!(h.oomnitza_writes(), writes, "a re-sync sends zero writes");
    assert_eq!(
        out.json()["errors"].as_array().map(Vec::len),
        Some(doomed.len())
    );
    assert_eq!(out.json()["counts"]["created"], 0);
    assert_eq!(out.json()["counts"]["updated"], 0);
}
