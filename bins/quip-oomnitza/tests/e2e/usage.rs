//! Command-line usage: exit 2 for bad usage, and the scheduled loop's clean shutdown.

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
