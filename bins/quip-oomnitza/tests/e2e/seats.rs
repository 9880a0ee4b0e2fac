//! Issue 18: `seats` (seat usage of the synced application, read from Oomnitza only) and
//! the idle-seat policy of `run`.

use std::time::{SystemTime, UNIX_EPOCH};

use api_sandbox::SandboxConfig;
use api_sandbox::oomnitza::SeatStatus;
use serde_json::{Value, json};

use crate::support::{Harness, sandbox_config};

const DAY: i64 = 86_400;

fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    i64::try_from(secs).expect("seconds fit")
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "[NOW]");
    s.add_filter(r"\d{4}-\d{2}-\d{2}", "[DATE]");
    s
}

/// Activity of seat `i`: 5, 100 or 200 days ago, or none.
fn activity(i: usize) -> Option<i64> {
    [Some(5), Some(100), Some(200), None][i % 4]
}

/// A first sync in users_and_saas mode, then the app priced 12,000 a year for 100
/// licences and every seat's activity set by [`activity`]. Returns the seats in order and
/// resets both emulators' counters.
async fn synced_app(h: &Harness) -> Vec<api_sandbox::oomnitza::SaasSeat> {
    h.cli(["run", "--json", "--config"])
        .arg(h.saas_config())
        .run()
        .await
        .expect_code(0);
    let state = h.sandbox.oomnitza.state();
    let id = state.saas_app_id("Quip").expect("the sync created the app");
    state
        .set_saas_app_fields(
            id,
            &[
                ("annual_spend", json!(12_000)),
                ("total_licenses", json!(100)),
            ],
        )
        .expect("app fields");
    let seats = state.saas_users(id);
    assert!(seats.len() >= 12, "{}", seats.len());
    let now = now();
    for (i, seat) in seats.iter().enumerate() {
        assert!(state.set_seat_last_visit(seat.saas_user_id, activity(i).map(|d| now - d * DAY)));
    }
    h.sandbox.quip.counters().reset();
    h.sandbox.oomnitza.counters().reset();
    seats
}

fn expected(n: usize, idle: impl Fn(Option<i64>) -> bool) -> (u64, u64, u64) {
    let mut counts = (0, 0, 0);
    for i in 0..n {
        match activity(i) {
            None => counts.2 += 1,
            a if idle(a) => counts.1 += 1,
            _ => counts.0 += 1,
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_counts_prices_and_sorts_without_a_single_write() {
    let h = Harness::start(40, 18).await;
    let seats = synced_app(&h).await;
    let config = h.saas_config();
    let out = h
        .cli(["seats", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    out.expect_code(0);
    let v = out.json();
    let (active, idle, never) = expected(seats.len(), |a| a.is_some_and(|d| d > 90));
    assert_eq!(v["app"], "Quip");
    assert_eq!(v["idle_for_days"], 90);
    assert_eq!(
        v["counts"],
        json!({"seats": seats.len(), "active": active, "idle": idle, "never": never})
    );
    assert_eq!(
        v["price_per_seat"],
        json!({"amount": 120.0, "source": "oomnitza"})
    );
    assert_eq!(v["estimated_annual_saving"], json!(idle as f64 * 120.0));
    let rows = v["seats"].as_array().expect("seats");
    assert_eq!(rows.len(), seats.len());
    let days: Vec<Option<u64>> = rows.iter().map(|r| r["idle_days"].as_u64()).collect();
    let mut sorted = days.clone();
    sorted.sort_by(|a, b| b.is_some().cmp(&a.is_some()).then(b.cmp(a)));
    assert_eq!(days, sorted, "longest idle first, no activity last");
    assert_eq!(days[0], Some(200));
    let first = &rows[0];
    assert_eq!(first["state"], "idle");
    assert_eq!(first["status"], "active");
    assert!(first["email"].as_str().is_some_and(|e| e.contains('@')));
    assert!(first["last_activity"].as_str().is_some(), "{first}");
    assert!(rows.last().expect("a row")["last_activity"].is_null());

    // The idle period moves the 100-day seats to active; CSV has a header and one row each.
    let out = h
        .cli(["seats", "--idle-for", "150d", "--csv", "--config"])
        .arg(&config)
        .run()
        .await;
    out.expect_code(0);
    let mut lines = out.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("person,email,role,last_activity,idle_days,state,status")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), seats.len());
    let state_of =
        |d: &str| -> Vec<&str> { rows.iter().filter(|r| r[4] == d).map(|r| r[5]).collect() };
    assert!(state_of("100").iter().all(|s| *s == "active"), "{rows:?}");
    assert!(state_of("200").iter().all(|s| *s == "idle"));
    assert!(state_of("").iter().all(|s| *s == "never"));
    let (_, idle_150, _) = expected(seats.len(), |a| a.is_some_and(|d| d > 150));
    assert_eq!(
        rows.iter().filter(|r| r[5] == "idle").count() as u64,
        idle_150
    );

    // Read-only: nothing was asked of Quip, nothing written to Oomnitza.
    assert_eq!(h.sandbox.quip.counters().total(), 0);
    assert_eq!(h.oomnitza_writes(), 0);

    // The terminal view.
    let out = h
        .cli(["seats", "--limit", "3", "--config"])
        .arg(&config)
        .run()
        .await;
    out.expect_code(0);
    settings().bind(|| insta::assert_snapshot!("seats_terminal", out.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_price_in_oomnitza_the_configuration_prices_or_nothing_does() {
    let h = Harness::start(24, 19).await;
    synced_app(&h).await;
    let state = h.sandbox.oomnitza.state();
    let id = state.saas_app_id("Quip").expect("app");
    state
        .set_saas_app_fields(id, &[("annual_spend", Value::Null)])
        .expect("app fields");
    let plain = h.saas_config();
    let out = h
        .cli(["seats", "--json", "--config"])
        .arg(&plain)
        .run()
        .await;
    out.expect_code(0);
    let v = out.json();
    assert!(v["price_per_seat"].is_null(), "{v:#}");
    assert!(v["estimated_annual_saving"].is_null(), "null, not zero");
    let out = h.cli(["seats", "--config"]).arg(&plain).run().await;
    out.expect_code(0);
    assert!(
        out.stdout.contains(
            "Price per seat: unknown (Oomnitza's application Quip has no annual_spend and \
             total_licenses, and [insights] price_per_seat is not set)"
        ),
        "{}",
        out.stdout
    );

    let priced = h.config(
        "priced.toml",
        r#"mode = "users_and_saas""#,
        "\n[insights]\nprice_per_seat = 96.0\n",
    );
    let out = h
        .cli(["seats", "--json", "--config"])
        .arg(&priced)
        .run()
        .await;
    out.expect_code(0);
    let v = out.json();
    assert_eq!(
        v["price_per_seat"],
        json!({"amount": 96.0, "source": "config"})
    );
    let idle = v["counts"]["idle"].as_f64().expect("idle");
    assert_eq!(v["estimated_annual_saving"], json!(idle * 96.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_activity_anywhere_is_explained_and_a_missing_app_too() {
    let h = Harness::start(20, 20).await;
    let config = h.saas_config();
    // Before any sync: no application yet.
    let out = h.cli(["seats", "--config"]).arg(&config).run().await;
    out.expect_code(0);
    assert!(
        out.stdout
            .contains("Oomnitza has no SaaS application named \"Quip\" yet"),
        "{}",
        out.stdout
    );
    let seats = synced_app(&h).await;
    let state = h.sandbox.oomnitza.state();
    for seat in &seats {
        state.set_seat_last_visit(seat.saas_user_id, None);
    }
    let out = h.cli(["seats", "--config"]).arg(&config).run().await;
    out.expect_code(0);
    assert!(
        out.stdout.contains("No seat has any recorded activity"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Events API add-on"), "{}", out.stdout);
    assert!(!out.stdout.contains("Idle seats"), "no table of never");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_seats_options_exit_2_before_any_request() {
    let h = Harness::start(20, 21).await;
    let config = h.saas_config();
    for args in [
        vec!["seats", "--idle-for", "soon"],
        vec!["seats", "--idle-for", "2h"],
        vec!["seats", "--json", "--csv"],
    ] {
        let out = h.cli(args.clone()).arg("--config").arg(&config).run().await;
        out.expect_code(2);
        assert_eq!(out.stdout, "", "{args:?}");
    }
    assert_eq!(h.sandbox.quip.counters().total(), 0);
    assert_eq!(h.sandbox.oomnitza.counters().total(), 0);
}

/// 60 people, none disabled or a robot, nobody logged in yet.
fn policy_sandbox() -> SandboxConfig {
    let mut config = sandbox_config(60, 7);
    config.data.disabled_share = 0.0;
    config.data.robot_share = 0.0;
    config.data.admin_share = 0.1;
    config.data.active_login_share = 0.0;
    config
}

fn policy_config(h: &Harness, name: &str, max_percent: &str) -> std::path::PathBuf {
    h.config(
        name,
        &format!(
            "mode = \"users_and_saas\"\n\n[integration.deactivate]\nidle_seats_after = \
             \"120d\"\nmax_percent = {max_percent}"
        ),
        "",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idle_seat_policy_reclaims_seats_not_people_through_the_guards() {
    let h = Harness::start_with(policy_sandbox()).await;
    let quip = h.sandbox.quip.state();
    for p in h.quip_people().iter().take(3) {
        assert!(quip.set_admin_role(&p.quip_id, Some("Site Admin")));
    }
    let people = h.quip_people();
    let (admins, members): (Vec<_>, Vec<_>) = people.iter().partition(|p| p.admin_role.is_some());
    assert!(!admins.is_empty() && members.len() > 20, "{}", admins.len());
    let usec = |days: i64| (now() - days * DAY) * 1_000_000;
    // Admins: long idle, but their seats are kept. 13 members idle for 200 days; the rest
    // used Quip this week.
    for a in &admins {
        assert!(quip.record_login(&a.quip_id, usec(400)));
    }
    let idle: Vec<&str> = members
        .iter()
        .take(13)
        .map(|p| p.quip_id.as_str())
        .collect();
    for (i, m) in members.iter().enumerate() {
        assert!(quip.record_login(&m.quip_id, usec(if i < 13 { 200 } else { 2 })));
    }

    // First sync: every user gets a seat (the policy reclaims existing seats only).
    let guarded = policy_config(&h, "guarded.toml", "10");
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&guarded)
        .run()
        .await;
    out.expect_code(0);
    assert_eq!(out.json()["saas_counts"]["created"], 60);

    // Default thresholds: 13 of 60 is over 10 %: held, listed with the reason.
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&guarded)
        .run()
        .await;
    out.expect_code(3);
    let report = out.json();
    assert_eq!(report["status"], "held");
    let held = report["held_deactivations"].as_array().expect("held");
    assert_eq!(held.len(), 13, "{report:#}");
    assert!(held.iter().all(|h| h["collection"] == "saas_users"));
    assert!(
        held.iter()
            .all(|h| h["reason"].as_str() == Some("idle 200 days")),
        "{held:?}"
    );
    let mut keys: Vec<&str> = held.iter().filter_map(|h| h["key"].as_str()).collect();
    keys.sort_unstable();
    let mut expected_keys = idle.clone();
    expected_keys.sort_unstable();
    assert_eq!(keys, expected_keys);

    // Raised threshold: the 13 seats inactive, their people active, admins untouched.
    let raised = policy_config(&h, "raised.toml", "50");
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&raised)
        .run()
        .await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(report["saas_counts"]["deactivated"], 13, "{report:#}");
    assert_eq!(report["counts"]["deactivated"], 0);
    let reclaimed = report["reclaimed_seats"].as_array().expect("reclaimed");
    assert_eq!(reclaimed.len(), 13);
    assert_eq!(reclaimed[0]["reason"], "idle 200 days");
    let oomnitza = h.sandbox.oomnitza.state();
    let app = oomnitza.saas_app_id("Quip").expect("app");
    let seat_of = |quip_id: &str| {
        oomnitza
            .saas_users(app)
            .into_iter()
            .find(|s| s.user_external_id.as_deref() == Some(quip_id))
            .expect("a seat")
    };
    for id in &idle {
        assert_eq!(seat_of(id).status, SeatStatus::Inactive, "{id}");
    }
    for a in &admins {
        assert_eq!(seat_of(&a.quip_id).status, SeatStatus::Active, "admin kept");
    }
    assert!(
        oomnitza
            .people()
            .iter()
            .all(|p| p["suspended"] != json!(true)),
        "nobody's person is deactivated"
    );

    // One of them is back, and one recent seat is deactivated by hand in Oomnitza.
    assert!(quip.record_login(idle[0], usec(0)));
    let by_hand = &members[20];
    assert!(oomnitza.set_seat_status(seat_of(&by_hand.quip_id).saas_user_id, SeatStatus::Inactive));
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&raised)
        .run()
        .await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(report["saas_counts"]["reactivated"], 1, "{report:#}");
    assert_eq!(report["saas_counts"]["deactivated"], 0);
    assert_eq!(seat_of(idle[0]).status, SeatStatus::Active);
    assert_eq!(
        seat_of(&by_hand.quip_id).status,
        SeatStatus::Inactive,
        "deactivated by hand stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_seats_after_needs_users_and_saas_mode() {
    let h = Harness::start(20, 22).await;
    let config = h.config(
        "users.toml",
        "mode = \"users\"\n\n[integration.deactivate]\nidle_seats_after = \"120d\"",
        "",
    );
    let out = h.cli(["validate", "--config"]).arg(&config).run().await;
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("integration.deactivate.idle_seats_after"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("users_and_saas"), "{}", out.stderr);
    assert_eq!(h.sandbox.quip.counters().total(), 0);
}
