//! `create_only`, `update_only` and users-only mode behave as named.

use std::collections::{BTreeMap, BTreeSet};

use api_sandbox::Person;
use serde_json::Value;

use crate::support::{Harness, active_humans, count, counts};

fn new_hire() -> Person {
    Person {
        quip_id: "UE2Enewhire".to_owned(),
        name: "Nova Hire".to_owned(),
        first_name: "Nova".to_owned(),
        last_name: "Hire".to_owned(),
        emails: vec!["nova.hire@acme.example".to_owned()],
        disabled: false,
        is_robot: false,
        created_usec: 1_700_000_000_000_000,
        admin_role: None,
        last_login_usec: None,
    }
}

/// Oomnitza People by email (panics if an email appears twice: a duplicate).
fn people_by_email(h: &Harness) -> BTreeMap<String, Value> {
    let mut map = BTreeMap::new();
    for p in h.oomnitza_people() {
        let email = p["email"].as_str().expect("email").to_lowercase();
        assert!(
            map.insert(email.clone(), p).is_none(),
            "duplicate person {email}"
        );
    }
    map
}

fn run_json(h: &Harness, config: &std::path::Path) -> impl Future<Output = Value> {
    let cli = h.cli(["run", "--json", "--config"]).arg(config);
    async move {
        let out = cli.run().await;
        out.expect_code(0);
        out.json()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_only_creates_and_never_modifies() {
    let h = Harness::start(80, 11).await;
    let quip = h.sandbox.quip.state();
    let people = h.quip_people();
    let preexisting: BTreeSet<String> = h
        .sandbox
        .oomnitza
        .state()
        .seed_people_from(&people, 0.25)
        .into_iter()
        .collect();
    let before = people_by_email(&h);
    let config = h.config("create_only.toml", r#"preference = "create_only""#, "");

    let report = run_json(&h, &config).await;
    let active = active_humans(&people);
    let fresh: Vec<&&Person> = active
        .iter()
        .filter(|p| !preexisting.contains(p.email()))
        .collect();
    assert!(
        fresh.len() < active.len(),
        "some users exist in Oomnitza already"
    );
    assert_eq!(
        count(&report, "counts", "created"),
        fresh.len() as u64,
        "{report:#}"
    );
    assert_eq!(count(&report, "counts", "updated"), 0, "{report:#}");
    assert_eq!(report["saas_counts"], Value::Null, "users mode by default");
    let after = people_by_email(&h);
    assert_eq!(after.len(), preexisting.len() + fresh.len());
    for (email, person) in &before {
        assert_eq!(
            &after[email], person,
            "a hand-entered person is not touched"
        );
    }
    for p in &fresh {
        assert_eq!(h.person_by_quip_id(&p.quip_id)["email"], p.email());
    }

    // Changes in Quip: only the new user is written.
    let renamed = fresh[0];
    let disabled = fresh[1];
    quip.set_name(&renamed.quip_id, "Renamed Person");
    quip.set_disabled(&disabled.quip_id, true);
    assert!(quip.add_person(new_hire()));
    let writes = h.oomnitza_writes();
    let report = run_json(&h, &config).await;
    assert_eq!(count(&report, "counts", "created"), 1, "{report:#}");
    assert_eq!(count(&report, "counts", "updated"), 0, "{report:#}");
    assert_eq!(count(&report, "counts", "deactivated"), 0, "{report:#}");
    assert_eq!(h.oomnitza_writes() - writes, 1, "one create, nothing else");
    assert_eq!(h.person_by_quip_id("UE2Enewhire")["full_name"], "Nova Hire");
    assert_eq!(
        h.person_by_quip_id(&renamed.quip_id)["full_name"],
        renamed.name.as_str()
    );
    assert_eq!(h.person_by_quip_id(&disabled.quip_id)["suspended"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_only_updates_deactivates_reactivates_and_never_creates() {
    let h = Harness::start(80, 12).await;
    let quip = h.sandbox.quip.state();
    let people = h.quip_people();
    let preexisting: BTreeSet<String> = h
        .sandbox
        .oomnitza
        .state()
        .seed_people_from(&people, 0.25)
        .into_iter()
        .collect();
    let total = h.sandbox.oomnitza.state().people_count();
    let config = h.config("update_only.toml", r#"preference = "update_only""#, "");

    let report = run_json(&h, &config).await;
    let adopted: Vec<&Person> = active_humans(&people)
        .into_iter()
        .filter(|p| preexisting.contains(p.email()))
        .collect();
    assert!(adopted.len() > 5, "{}", adopted.len());
    assert_eq!(count(&report, "counts", "created"), 0, "{report:#}");
    assert_eq!(
        count(&report, "counts", "updated"),
        adopted.len() as u64,
        "{report:#}"
    );
    assert_eq!(
        h.sandbox.oomnitza.state().people_count(),
        total,
        "nobody created"
    );
    for p in &adopted {
        assert_eq!(h.person_by_quip_id(&p.quip_id)["email"], p.email());
    }

    // A leaver, a rename and a new hire.
    let leaver = adopted[0];
    let renamed = adopted[1];
    quip.set_disabled(&leaver.quip_id, true);
    quip.set_name(&renamed.quip_id, "Renamed Person");
    assert!(quip.add_person(new_hire()));
    let report = run_json(&h, &config).await;
    assert_eq!(
        counts(&report, "counts")[..4],
        [0, 1, 1, 0],
        "created, updated, deactivated, reactivated: {report:#}"
    );
    assert_eq!(h.person_by_quip_id(&leaver.quip_id)["suspended"], true);
    assert_eq!(
        h.person_by_quip_id(&renamed.quip_id)["full_name"],
        "Renamed Person"
    );
    assert_eq!(
        h.sandbox.oomnitza.state().people_count(),
        total,
        "no new hire"
    );

    // The leaver comes back.
    quip.set_disabled(&leaver.quip_id, false);
    let report = run_json(&h, &config).await;
    assert_eq!(counts(&report, "counts")[..4], [0, 0, 0, 1], "{report:#}");
    assert_eq!(h.person_by_quip_id(&leaver.quip_id)["suspended"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_mode_writes_no_saas_seats() {
    let h = Harness::start(60, 13).await;
    let people = h.quip_people();
    let config = h.config("users.toml", r#"mode = "users""#, "");
    let report = run_json(&h, &config).await;
    let active = active_humans(&people);
    assert_eq!(report["mode"], "users");
    assert_eq!(report["saas_counts"], Value::Null, "{report:#}");
    assert_eq!(count(&report, "counts", "created"), active.len() as u64);
    assert_eq!(h.oomnitza_people().len(), active.len());

    // A leaver is deactivated as a person; still no seats anywhere.
    h.sandbox
        .quip
        .state()
        .set_disabled(&active[0].quip_id, true);
    let report = run_json(&h, &config).await;
    assert_eq!(count(&report, "counts", "deactivated"), 1, "{report:#}");

    let oomnitza = h.sandbox.oomnitza.state();
    assert!(oomnitza.all_saas_users().is_empty(), "no seats");
    assert_eq!(
        oomnitza.saas_app_id("Quip"),
        None,
        "no Quip application created"
    );
    let saas_requests: Vec<_> = h
        .sandbox
        .oomnitza
        .counters()
        .snapshot()
        .into_iter()
        .filter(|r| r.route.contains("saas") || r.route.contains("roles"))
        .collect();
    assert!(
        saas_requests.is_empty(),
        "no SaaS requests at all: {saas_requests:?}"
    );
}
