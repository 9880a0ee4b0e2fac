//! Sessions kept in the state directory, dry-run plans, saved plans and stale plans.

use serde_json::{Value, json};

use crate::support::{Harness, active_humans, count};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_list_and_show_with_per_record_errors() {
    let h = Harness::start(40, 21).await;
    let people = h.quip_people();
    let active = active_humans(&people);
    // Someone in Oomnitza already uses this user's email as a username, with another
    // email: no adoption (emails differ), and the create would collide on the unique
    // username, so planning already makes it a per-record error and nothing is sent.
    let victim = active[2];
    h.sandbox
        .oomnitza
        .state()
        .add_person(json!({"username": victim.email(), "email": "someone.else@acme.example"}))
        .expect("a hand-entered person");
    let config = h.saas_config();

    let out = h.cli(["sessions", "list"]).run().await;
    out.expect_code(0);
    assert!(out.stdout.starts_with("no sessions in "), "{}", out.stdout);

    let plan = h
        .cli(["plan", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    plan.expect_code(3);
    let plan = plan.json();
    assert_eq!(plan["status"], "succeeded_with_errors", "{plan:#}");
    let run = h
        .cli(["run", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    run.expect_code(3);
    let run = run.json();
    assert_eq!(run["status"], "succeeded_with_errors", "{run:#}");
    assert_eq!(count(&run, "counts", "failed"), 0, "never sent: {run:#}");
    let errors = run["errors"].as_array().expect("errors");
    let error = errors
        .iter()
        .find(|e| e["collection"] == "users")
        .unwrap_or_else(|| panic!("{errors:?}"));
    assert_eq!(error["key"], victim.quip_id.as_str());
    let message = error["message"].as_str().expect("message");
    assert!(message.contains("username"), "{message}");
    assert!(message.contains("already holds it"), "{message}");
    assert_eq!(
        h.sandbox.oomnitza.counters().with_status(409),
        0,
        "no create that was sure to fail"
    );
    let ids = [
        plan["id"].as_str().expect("id").to_owned(),
        run["id"].as_str().expect("id").to_owned(),
    ];

    // JSON list: newest first, the dry run marked.
    let out = h.cli(["sessions", "list", "--json"]).run().await;
    out.expect_code(0);
    let list = out.json();
    let listed: Vec<&str> = list
        .as_array()
        .expect("an array")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(listed, [ids[1].as_str(), ids[0].as_str()]);
    assert_eq!(list[1]["dry_run"], true);
    assert_eq!(list[0], run, "the stored report is the printed one");

    // Table.
    let out = h.cli(["sessions", "list"]).run().await;
    out.expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert!(lines[0].starts_with("ID "), "{}", lines[0]);
    assert!(lines[1].starts_with(&ids[1]) && lines[1].contains("succeeded_with_errors"));
    assert!(lines[2].starts_with(&ids[0]) && lines[2].contains("(dry run)"));
    assert!(lines[1].ends_with("E2E users"), "{}", lines[1]);

    // Show: the report with its per-record errors; a unique prefix is enough.
    let out = h.cli(["sessions", "show"]).arg(&ids[1]).run().await;
    out.expect_code(0);
    assert!(
        out.stdout.contains("succeeded_with_errors"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("per-record errors:"), "{}", out.stdout);
    let line = format!("  users {}: {message}", victim.quip_id);
    assert!(out.stdout.contains(&line), "{line:?} in\n{}", out.stdout);
    let out = h
        .cli(["sessions", "show", "--json"])
        .arg(&ids[1])
        .run()
        .await;
    out.expect_code(0);
    assert_eq!(out.json(), run);
    // uuid v7 ids of one second share a prefix; the last 12 characters are random.
    let out = h
        .cli(["sessions", "show", "--json"])
        .arg(&ids[0][..ids[0].len() - 4])
        .run()
        .await;
    out.expect_code(0);
    assert_eq!(out.json()["id"], ids[0].as_str());

    // Unknown id: a failure naming it.
    let out = h.cli(["sessions", "show", "ffffffff-0000"]).run().await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("no session \"ffffffff-0000\""),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_writes_nothing_and_run_applies_the_saved_plan() {
    let h = Harness::start(60, 22).await;
    let config = h.saas_config();
    let plan_file = h.path("plan.json");
    let out = h
        .cli(["plan", "--json", "--out"])
        .arg(&plan_file)
        .arg("--config")
        .arg(&config)
        .run()
        .await;
    out.expect_code(0);
    let planned = out.json();
    assert_eq!(planned["dry_run"], true);
    assert_eq!(h.oomnitza_writes(), 0, "a plan writes nothing");
    assert_eq!(h.sandbox.oomnitza.state().people_count(), 0);
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_file).expect("plan file"))
            .expect("the plan is JSON");
    let n = active_humans(&h.quip_people()).len() as u64;
    assert_eq!(count(&planned, "counts", "created"), n);
    assert_eq!(plan["collections"][0]["counts"]["create"], n);

    let out = h
        .cli(["run", "--json", "--plan"])
        .arg(&plan_file)
        .arg("--config")
        .arg(&config)
        .run()
        .await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(report["plan_id"], plan["id"], "the saved plan was applied");
    assert_eq!(count(&report, "counts", "created"), n);
    assert_eq!(count(&report, "saas_counts", "created"), n);
    assert_eq!(h.sandbox.oomnitza.state().people_count() as u64, n);
    assert_eq!(h.quip_seats().len() as u64, n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_plan_is_refused() {
    let h = Harness::start(60, 23).await;
    let config = h.saas_config();
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    out.expect_code(0);

    // Oomnitza changes after the plan was made.
    let person = active_humans(&h.quip_people())[0].clone();
    let quip_id = person.quip_id.clone();
    h.sandbox.quip.state().set_name(&quip_id, "Someone Renamed");
    let plan_file = h.path("plan.json");
    h.cli(["plan", "--out"])
        .arg(&plan_file)
        .arg("--config")
        .arg(&config)
        .run()
        .await
        .expect_code(0);
    let user_id = h.person_by_quip_id(&quip_id)["user_id"]
        .as_str()
        .expect("user_id")
        .to_owned();
    h.sandbox
        .oomnitza
        .state()
        .set_field(&user_id, "email", json!("edited.by.hand@acme.example"))
        .expect("edit by hand");
    let writes = h.oomnitza_writes();
    let out = h
        .cli(["run", "--json", "--plan"])
        .arg(&plan_file)
        .arg("--config")
        .arg(&config)
        .run()
        .await;
    out.expect_code(1);
    let report = out.json();
    assert_eq!(report["status"], "failed");
    let fatal = report["fatal"].as_str().expect("fatal");
    assert!(fatal.contains("the plan is stale"), "{fatal}");
    assert!(fatal.contains("make a new plan"), "{fatal}");
    assert_eq!(h.oomnitza_writes(), writes, "nothing applied");
    let now = h.person_by_quip_id(&quip_id);
    assert_eq!(
        now["full_name"],
        person.name.as_str(),
        "the rename was not applied"
    );
    assert_eq!(
        now["email"], "edited.by.hand@acme.example",
        "the edit was not undone"
    );

    // A plan made before Quip changed is refused as well.
    let out = h
        .cli(["plan", "--json", "--out"])
        .arg(&plan_file)
        .arg("--config")
        .arg(&config)
        .run()
        .await;
    out.expect_code(0);
    h.sandbox.quip.state().set_disabled(&quip_id, true);
    let out = h
        .cli(["run", "--json", "--plan"])
        .arg(&plan_file)
        .arg("--config")
        .arg(&config)
        .run()
        .await;
    out.expect_code(1);
    assert!(
        out.json()["fatal"]
            .as_str()
            .is_some_and(|f| f.contains("stale"))
    );
    assert_eq!(h.oomnitza_writes(), writes, "nothing applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_of_the_same_integration_is_refused() {
    let h = Harness::start(20, 24).await;
    let config = h.saas_config();
    // Another process holds the integration's run lock.
    let locks = h.state_dir().join("locks");
    std::fs::create_dir_all(&locks).expect("locks directory");
    let lock = std::fs::File::create(locks.join("e2e-users.lock")).expect("lock file");
    lock.try_lock().expect("take the lock");
    for command in ["run", "plan"] {
        let out = h
            .cli([command, "--json", "--config"])
            .arg(&config)
            .run()
            .await;
        out.expect_code(1);
        // A report all the same (issue 10 item 5): failed, naming the lock.
        let report = out.json();
        assert_eq!(report["status"], "failed", "{report:#}");
        assert!(
            report["fatal"]
                .as_str()
                .expect("fatal")
                .contains("another run of integration \"E2E users\" is in progress"),
            "{report:#}"
        );
    }
    assert_eq!(h.sandbox.quip.counters().total(), 0, "nothing read");
    assert_eq!(
        h.sandbox.oomnitza.counters().total(),
        0,
        "nothing read or written"
    );
    // Released: the next run goes ahead.
    drop(lock);
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    out.expect_code(0);
}
