//! Command-line usage: exit 2 for bad usage, and the scheduled loop's clean shutdown.

use api_sandbox::{Fault, FaultRule};
use serde_json::Value;

use crate::support::{Cli, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_usage_exits_2_and_help_exits_0() {
    for args in [
        vec![],
        vec!["frobnicate"],
        vec!["run"],
        vec!["plan", "--json"],
        vec!["demo", "--users", "5"],
        vec![
            "run", "--config", "x.toml", "--every", "1h", "--plan", "p.json",
        ],
        vec!["sessions", "show"],
        vec!["-v", "-q", "sessions", "list"],
    ] {
        let out = Cli::new(args.clone()).run().await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        // An error, or the usage when no subcommand was given.
        assert!(
            out.stderr.starts_with("error: ") || out.stderr.contains("Usage: quip-oomnitza"),
            "{args:?}: {}",
            out.stderr
        );
        assert_eq!(out.stdout, "", "{args:?}");
    }
    let out = Cli::new(["--help"]).run().await;
    out.expect_code(0);
    for command in [
        "demo",
        "sandbox",
        "validate",
        "plan",
        "run",
        "credentials",
        "sessions",
    ] {
        assert!(out.stdout.contains(command), "{command} in --help");
    }
    let out = Cli::new(["--version"]).run().await;
    out.expect_code(0);
    assert!(out.stdout.starts_with("quip-oomnitza "), "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_schedule_options_exit_2_before_any_request() {
    let h = Harness::start(20, 41).await;
    let config = h.saas_config();
    let out = h
        .cli(["run", "--every", "sometimes", "--config"])
        .arg(&config)
        .run()
        .await;
    out.expect_code(2);
    assert!(out.stderr.contains("--every/--at"), "{}", out.stderr);
    assert!(out.stderr.contains("sometimes"), "{}", out.stderr);
    let out = h
        .cli(["run", "--every", "1d", "--at", "25:00", "--config"])
        .arg(&config)
        .run()
        .await;
    out.expect_code(2);
    assert!(out.stderr.contains("25:00"), "{}", out.stderr);
    assert_eq!(h.sandbox.quip.counters().total(), 0);
    assert_eq!(h.sandbox.oomnitza.counters().total(), 0);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_runs_stop_cleanly_on_sigterm() {
    let h = Harness::start(30, 42).await;
    let config = h.saas_config();
    let mut running = h
        .cli(["run", "--every", "1s", "--json", "--config"])
        .arg(&config)
        .spawn();
    // The first scheduled run prints its report (pretty JSON ends with a lone "}").
    let first = running.read_until_line("}").await.to_owned();
    let report: serde_json::Value = serde_json::from_str(&first).expect("one report");
    assert_eq!(report["status"], "succeeded");
    running.signal("TERM");
    let out = running.finish().await;
    // Stopped by SIGTERM (issue 10 item 4): 143, whether a run was in progress or not.
    out.expect_code(143);
    // Every run printed its report and kept its session; no run after the signal started
    // unreported.
    let reports = out.stdout.matches("\n}\n").count();
    assert!(reports >= 1, "{}", out.stdout);
    let sessions = std::fs::read_dir(h.state_dir().join("sessions"))
        .expect("sessions")
        .count();
    assert_eq!(sessions, reports, "one session per printed report");
}

/// Issue 11 item 5: every run of a scheduled loop opens its own connectors, so a report
/// counts its own requests and waits only, and a run that failed half-way leaves no cache
/// behind (People metadata, roles, the application's id).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_scheduled_run_counts_only_its_own_requests() {
    // The reference: one run in a fresh process, against the same data.
    let fresh = Harness::start(40, 43).await;
    let out = fresh
        .cli(["run", "--json", "--config"])
        .arg(fresh.saas_config())
        .run()
        .await;
    out.expect_code(0);
    let reference = out.json();

    let h = Harness::start(40, 43).await;
    // The first run fails before writing: Oomnitza refuses the application lookup once,
    // after the People metadata and records were read.
    h.sandbox.oomnitza.faults().inject(
        FaultRule::new(
            http::Method::GET,
            "/api/v3/saas",
            Fault::status(403, r#"{"errors":"forbidden"}"#),
        )
        .times(1),
    );
    let mut running = h
        .cli(["run", "--every", "1s", "--json", "--config"])
        .arg(h.saas_config())
        .spawn();
    running.read_until_line("}").await;
    running.read_until_line("}").await;
    running.signal("TERM");
    let out = running.finish().await;
    out.expect_code(143);
    let reports = serde_json::Deserializer::from_str(&out.stdout)
        .into_iter::<Value>()
        .collect::<Result<Vec<_>, _>>()
        .expect("one JSON report per run");
    assert!(reports.len() >= 2, "{}", out.stdout);
    assert_eq!(h.sandbox.oomnitza.faults().fired("/api/v3/saas"), 1);
    assert_eq!(reports[0]["status"], "failed", "{:#}", reports[0]);
    assert_eq!(reports[1]["status"], "succeeded", "{:#}", reports[1]);
    // The first good run made exactly the requests of a first run in a fresh process:
    // none of the failed run's counters added, none of its caches used.
    assert_eq!(
        reports[1]["api_calls"], reference["api_calls"],
        "{:#}",
        reports[1]
    );
    assert_eq!(reports[1]["counts"], reference["counts"]);
    assert_eq!(
        reports[1]["rate_limit_wait_s"],
        reference["rate_limit_wait_s"]
    );
    // Together the reports account for every request the emulators answered, each once.
    for (system, total) in [
        ("quip", h.sandbox.quip.counters().total()),
        ("oomnitza", h.sandbox.oomnitza.counters().total()),
    ] {
        let reported: u64 = reports
            .iter()
            .map(|r| r["api_calls"][system].as_u64().expect("api calls"))
            .sum();
        assert_eq!(reported, total, "{system}: {}", out.stdout);
    }
}
