//! Interrupted runs (issue 10 items 3 and 4; sync-safety S15): a SIGKILL at any point of
//! apply loses no state, and SIGTERM/SIGINT stop at a batch boundary with a saved
//! `interrupted` session and a report.
//!
//! Kill points come from the emulator, not from the clock: the Oomnitza writes are slowed
//! down with a latency fault and the test waits until a number of them have been applied
//! in the emulator's state, then signals while the rest are in flight or not yet sent.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use api_sandbox::faults::{Fault, FaultRule};
use serde_json::Value;

use crate::support::{Harness, active_humans, count};

/// Small batches, one at a time: many batch boundaries for a kill to land between.
const SLOW_RUN: &str = "[run]\nbatch_size = 2\nconcurrency = 1\n";

/// Every Oomnitza write waits this long before the emulator applies it.
const LATENCY: Duration = Duration::from_millis(300);

fn slow(h: &Harness, method: http::Method, route: &str) {
    h.sandbox
        .oomnitza
        .faults()
        .inject(FaultRule::new(method, route, Fault::Latency(LATENCY)));
}

/// Polls the emulator (every few milliseconds; a guard, not a timing assertion) until
/// `done` holds.
async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let poll = async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), poll)
        .await
        .unwrap_or_else(|_| panic!("never reached: {what}"));
}

/// Oomnitza people by `quip_user_id`, panicking on a duplicate sync key or email.
fn people(h: &Harness) -> BTreeMap<String, Value> {
    let mut by_key = BTreeMap::new();
    let mut emails = BTreeSet::new();
    for p in h.oomnitza_people() {
        if let Some(email) = p["email"].as_str() {
            assert!(
                emails.insert(email.to_lowercase()),
                "duplicate person by email {email}"
            );
        }
        if let Some(key) = p["quip_user_id"].as_str() {
            assert!(
                by_key.insert(key.to_owned(), p.clone()).is_none(),
                "duplicate person by sync key {key}"
            );
        }
    }
    by_key
}

fn suspended(h: &Harness, keys: &[String]) -> usize {
    keys.iter()
        .filter(|k| h.person_by_quip_id(k)["suspended"] == true)
        .count()
}

async fn run_ok(h: &Harness, config: &std::path::Path, extra: &[&str]) -> Value {
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(config)
        .args(extra)
        .run()
        .await;
    out.expect_code(0);
    out.json()
}

/// A synced tenant with `leavers` of its active users just disabled in Quip.
async fn tenant_with_leavers(
    seed: u64,
    leavers: usize,
) -> (Harness, std::path::PathBuf, Vec<String>) {
    let h = Harness::start(40, seed).await;
    let config = h.config("config.toml", "", SLOW_RUN);
    run_ok(&h, &config, &[]).await;
    let people = h.quip_people();
    let keys: Vec<String> = active_humans(&people)
        .iter()
        .take(leavers)
        .map(|p| p.quip_id.clone())
        .collect();
    assert_eq!(keys.len(), leavers, "enough active users");
    for k in &keys {
        h.sandbox.quip.state().set_disabled(k, true);
    }
    (h, config, keys)
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_deactivations_then_users_return_all_are_reactivated() {
    for (seed, kill_after) in [(71_u64, 1_usize), (72, 4), (73, 7)] {
        let (h, config, leavers) = tenant_with_leavers(seed, 10).await;
        let before = people(&h);
        slow(&h, http::Method::PATCH, "/api/v3/users/{ident}");
        let running = h
            .cli(["run", "--json", "--config"])
            .arg(&config)
            .arg("--allow-deactivations")
            .spawn();
        wait_for("deactivations reaching Oomnitza", || {
            suspended(&h, &leavers) >= kill_after
        })
        .await;
        running.kill().await;
        let cut = suspended(&h, &leavers);
        assert!(
            cut < leavers.len(),
            "killed mid-apply (seed {seed}): {cut} of {} deactivated",
            leavers.len()
        );
        h.sandbox.oomnitza.faults().clear();

        // They come back before the next run.
        for k in &leavers {
            h.sandbox.quip.state().set_disabled(k, false);
        }
        let report = run_ok(&h, &config, &[]).await;
        assert_eq!(count(&report, "counts", "created"), 0, "{report:#}");
        assert_eq!(count(&report, "counts", "deactivated"), 0, "{report:#}");
        let after = people(&h);
        for k in &leavers {
            assert_eq!(
                after[k]["suspended"], false,
                "{k} is active again (seed {seed}, kill after {kill_after}): {report:#}"
            );
        }
        // Nobody else changed.
        let others = |m: &BTreeMap<String, Value>| {
            m.iter()
                .filter(|(k, _)| !leavers.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            others(&before),
            others(&after),
            "nobody else changed (seed {seed})"
        );

        let writes = h.oomnitza_writes();
        run_ok(&h, &config, &[]).await;
        assert_eq!(h.oomnitza_writes(), writes, "a third run sends zero writes");
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_creates_leaves_no_duplicates() {
    for (seed, kill_after) in [(81_u64, 1_usize), (82, 6), (83, 15)] {
        let h = Harness::start(30, seed).await;
        let config = h.config("config.toml", "", SLOW_RUN);
        let base = h.oomnitza_people().len();
        slow(&h, http::Method::POST, "/api/v3/users");
        let running = h.cli(["run", "--json", "--config"]).arg(&config).spawn();
        wait_for("creates reaching Oomnitza", || {
            h.oomnitza_people().len() >= base + kill_after
        })
        .await;
        running.kill().await;
        h.sandbox.oomnitza.faults().clear();

        let report = run_ok(&h, &config, &[]).await;
        let after = people(&h);
        let quip = h.quip_people();
        for p in active_humans(&quip) {
            assert!(
                after.contains_key(&p.quip_id),
                "{} synced (seed {seed}): {report:#}",
                p.quip_id
            );
        }
        let writes = h.oomnitza_writes();
        run_ok(&h, &config, &[]).await;
        assert_eq!(
            h.oomnitza_writes(),
            writes,
            "a third run sends zero writes (seed {seed})"
        );
        people(&h);
    }
}

/// A signal during apply: exit code, `interrupted` report on stdout and in the state
/// directory, fewer deactivations than planned; then a rerun converges.
async fn signal_during_apply(name: &str, code: i32, seed: u64) {
    let (h, config, leavers) = tenant_with_leavers(seed, 10).await;
    slow(&h, http::Method::PATCH, "/api/v3/users/{ident}");
    let running = h
        .cli(["run", "--json", "--config"])
        .arg(&config)
        .arg("--allow-deactivations")
        .spawn();
    wait_for("deactivations reaching Oomnitza", || {
        suspended(&h, &leavers) >= 2
    })
    .await;
    running.signal(name);
    let out = running.finish().await;
    out.expect_code(code);
    let report = out.json();
    assert_eq!(report["status"], "interrupted", "{report:#}");
    let done = count(&report, "counts", "deactivated");
    assert!(done < 10, "stopped early: {report:#}");
    assert_eq!(
        usize::try_from(done).expect("small"),
        suspended(&h, &leavers),
        "the report counts what reached Oomnitza"
    );
    let id = report["id"].as_str().expect("session id");
    let saved = h.cli(["sessions", "show", "--json", id]).run().await;
    saved.expect_code(0);
    assert_eq!(saved.json()["status"], "interrupted");

    h.sandbox.oomnitza.faults().clear();
    let report = run_ok(&h, &config, &["--allow-deactivations"]).await;
    assert_eq!(
        count(&report, "counts", "deactivated"),
        10 - done,
        "{report:#}"
    );
    assert_eq!(suspended(&h, &leavers), 10, "the rerun converges");
    let writes = h.oomnitza_writes();
    run_ok(&h, &config, &[]).await;
    assert_eq!(h.oomnitza_writes(), writes, "then nothing is left to write");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_apply_saves_an_interrupted_session_and_exits_143() {
    signal_during_apply("TERM", 143, 91).await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_during_apply_exits_130() {
    signal_during_apply("INT", 130, 92).await;
}
