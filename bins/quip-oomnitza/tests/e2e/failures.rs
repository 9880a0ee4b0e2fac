//! Quip failing: exit 1, a clear message, and not a single write to Oomnitza.

use api_sandbox::{Fault, FaultRule};
use serde_json::Value;

use crate::support::{Harness, QUIP_VAR};

/// Every route of the Quip emulator (see `api_sandbox::quip`).
const QUIP_ROUTES: &[&str] = &[
    "/1/users/current",
    "/1/users/contacts",
    "/1/users/",
    "/1/users/{id_or_email}",
    "/1/oauth/verify_token",
    "/1/oauth/access_token",
    "/1/admin/users/list",
    "/1/admin/users/{id}",
    "/1/admin/company/admin-roles",
    "/1/admin/events/1/cursor/realtime/create",
    "/1/admin/events/1/events/realtime/get",
    "/1/admin/events/1/cursor/create",
    "/1/admin/events/1/events/get",
    "/2/Users",
    "/2/Users/{id}",
];

fn server_error() -> Fault {
    Fault::status(500, r#"{"error":"Internal Server Error"}"#)
}

/// A failed run's report and stderr: status `failed`, a `fatal` message naming Quip, and
/// nothing written to Oomnitza.
fn assert_failed_cleanly(h: &Harness, out: &crate::support::Output, expect_in_fatal: &str) {
    out.expect_code(1);
    let report = out.json();
    assert_eq!(report["status"], "failed", "{report:#}");
    let fatal = report["fatal"].as_str().expect("a fatal message");
    assert!(fatal.contains("quip"), "{fatal}");
    assert!(fatal.contains(expect_in_fatal), "{fatal}");
    assert!(
        out.stderr.contains(expect_in_fatal),
        "the log says it too: {}",
        out.stderr
    );
    assert_eq!(report["counts"]["created"], 0);
    assert_eq!(h.oomnitza_writes(), 0, "zero writes to Oomnitza");
    assert_eq!(h.sandbox.oomnitza.state().people_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_quip_route_answering_500_fails_the_run_without_writes() {
    let h = Harness::start(50, 3).await;
    for route in QUIP_ROUTES {
        h.sandbox.quip.faults().inject(FaultRule {
            method: None,
            ..FaultRule::new(http::Method::GET, *route, server_error())
        });
    }
    let config = h.saas_config();
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    assert_failed_cleanly(&h, &out, "HTTP 500");
    // Retried (transient), then given up within `max_wait`.
    let quip_calls = out.json()["api_calls"]["quip"]
        .as_u64()
        .expect("quip calls");
    assert!(quip_calls > 1, "500s are retried: {quip_calls}");
    assert_eq!(quip_calls, h.sandbox.quip.counters().with_status(500));

    // A plan fails the same way.
    let out = h
        .cli(["plan", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    assert_failed_cleanly(&h, &out, "HTTP 500");
    assert_eq!(out.json()["dry_run"], true);

    // The human summary shows the fatal error too.
    let out = h.cli(["run", "--config"]).arg(&config).run().await;
    out.expect_code(1);
    assert!(out.stdout.contains("Fatal: "), "{}", out.stdout);
    assert!(out.stdout.contains("HTTP 500"), "{}", out.stdout);
    assert_eq!(h.oomnitza_writes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quip_user_listing_answering_500_fails_the_run_without_writes() {
    let h = Harness::start(50, 3).await;
    h.sandbox.quip.faults().inject(FaultRule::new(
        http::Method::GET,
        "/2/Users",
        server_error(),
    ));
    let config = h.saas_config();
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    assert_failed_cleanly(&h, &out, "HTTP 500");
    assert!(h.sandbox.quip.faults().fired("/2/Users") > 1, "retried");

    // With the Admin API listing instead, its route failing has the same effect.
    let h = Harness::start(50, 3).await;
    h.sandbox.quip.faults().inject(FaultRule::new(
        http::Method::POST,
        "/1/admin/users/list",
        server_error(),
    ));
    let config = h.write(
        "admin.toml",
        &h.config_text_with_quip(r#"mode = "users_and_saas""#, r#"listing = "admin""#, ""),
    );
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    assert_failed_cleanly(&h, &out, "HTTP 500");
    assert!(
        h.sandbox.quip.faults().fired("/1/admin/users/list") > 1,
        "retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_quip_token_fails_with_401_without_writes() {
    let h = Harness::start(50, 3).await;
    let config = h.saas_config();
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&config)
        .env(QUIP_VAR, "not-the-quip-token")
        .run()
        .await;
    assert_failed_cleanly(&h, &out, "401");
    let fatal = out.json()["fatal"].as_str().map(str::to_owned);
    assert!(
        fatal
            .as_deref()
            .is_some_and(|f| f.contains("Invalid access_token")),
        "{fatal:?}"
    );
    // Not retried: one 401, nothing else.
    assert_eq!(h.sandbox.quip.counters().with_status(401), 1);
    assert_eq!(out.json()["api_calls"]["quip"], Value::from(1));

    // `validate` says so too, before anything is written.
    let out = h
        .cli(["validate", "--config"])
        .arg(&config)
        .env(QUIP_VAR, "not-the-quip-token")
        .run()
        .await;
    out.expect_code(1);
    assert!(out.stderr.contains("HTTP 401"), "{}", out.stderr);
    assert_eq!(h.oomnitza_writes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_failing_midway_deactivates_nobody_and_changes_nothing() {
    let h = Harness::start_with(crate::support::sandbox_config(250, 3)).await;
    let config = h.saas_config();
    h.cli(["run", "--json", "--config"])
        .arg(&config)
        .run()
        .await
        .expect_code(0);
    let people = h.oomnitza_people();
    let seats = h.quip_seats();
    // Two users leave, but the listing breaks after its first page of 100.
    let quip = h.sandbox.quip.state();
    let leavers: Vec<String> = crate::support::active_humans(&h.quip_people())[150..152]
        .iter()
        .map(|p| p.quip_id.clone())
        .collect();
    for id in &leavers {
        assert!(quip.remove_person(id));
    }
    let writes_before = h.oomnitza_writes();
    h.sandbox
        .quip
        .faults()
        .inject(FaultRule::new(http::Method::GET, "/2/Users", server_error()).after(1));
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    out.expect_code(3);
    let report = out.json();
    assert_eq!(report["status"], "succeeded_with_errors", "{report:#}");
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("the quip read was incomplete"),
        "{warnings}"
    );
    assert!(warnings.contains("deactivations are skipped"), "{warnings}");
    assert!(
        out.stderr.contains("Quip read is incomplete"),
        "{}",
        out.stderr
    );
    assert_eq!(report["counts"]["deactivated"], 0);
    assert_eq!(report["saas_counts"]["deactivated"], 0);
    assert_eq!(report["counts"]["created"], 0);
    // Roles and last activity that could not be read are not "updated" to nothing.
    assert_eq!(report["saas_counts"]["updated"], 0, "{report:#}");
    assert_eq!(report["counts"]["updated"], 0, "{report:#}");
    assert_eq!(h.oomnitza_writes(), writes_before, "nothing was written");
    // Nobody deactivated, no role or last activity lost.
    assert_eq!(h.oomnitza_people(), people);
    assert_eq!(h.quip_seats(), seats);
    for id in &leavers {
        assert_eq!(h.person_by_quip_id(id)["suspended"], false);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_first_read_never_creates_robots() {
    // Robots are excluded by the default filter; when the listing breaks, the robot flag of
    // the users read so far is unknown, so none of them may be created.
    let mut config = crate::support::sandbox_config(250, 3);
    config.data.robot_share = 0.2;
    let h = Harness::start_with(config).await;
    let robots: Vec<String> = h
        .quip_people()
        .iter()
        .filter(|p| p.is_robot)
        .map(|p| p.quip_id.clone())
        .collect();
    assert!(!robots.is_empty());
    h.sandbox
        .quip
        .faults()
        .inject(FaultRule::new(http::Method::GET, "/2/Users", server_error()).after(1));
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(h.saas_config())
        .run()
        .await;
    out.expect_code(3);
    for id in &robots {
        assert!(
            h.sandbox
                .oomnitza
                .state()
                .find_people("quip_user_id", &serde_json::json!(id))
                .map_or(true, |found| found.is_empty()),
            "robot {id} was created from an incomplete read"
        );
    }
    // Once Quip answers again, a complete run deactivates nobody.
    h.sandbox.quip.faults().clear();
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(h.saas_config())
        .run()
        .await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(report["counts"]["deactivated"], 0, "{report:#}");
    assert_eq!(report["saas_counts"]["deactivated"], 0, "{report:#}");
}
