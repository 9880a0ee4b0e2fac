//! Queue benchmark (issue 13): 1,000 launched integrations whose daily slot is due at
//! once; worker processes tick the schedules, claim the runs, finish them at once (no sync:
//! this measures the queue, not the connectors) and report each claim. On SQLite one
//! process; on PostgreSQL (`SYNC_STORE_TEST_PG`, a server URL) three processes on one
//! database. Prints the time from "due" (the moment every worker is released) to each run's
//! claim — median and max — and runs per minute, and checks that every due run was claimed
//! exactly once.
//!
//! Run with `cargo bench -p sync-store --bench queue` (`-- 200` for another count).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // a bench binary prints its results

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::{SignedDuration, Timestamp};
use sync_store::{
    ClaimFilter, Every, IntegrationStatus, NewIntegration, ScheduleSpec, Store, StoreOptions,
    TestClock,
};

const TASKS_PER_PROCESS: usize = 4;

fn wall_us() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros(),
    )
    .unwrap()
}

fn report(name: &str) -> sync_engine::SessionReport {
    let mut r = sync_engine::SessionReport::new(name, chrono::Utc::now());
    r.finish(false);
    r
}

/// A worker process: waits until `go_us`, then `TASKS_PER_PROCESS` tasks tick, claim and
/// finish until the queue stays empty; prints `CLAIM run_id claim_us finish_us` per run.
async fn worker(location: &str, id: &str, go_us: u64) {
    let store = Arc::new(Store::open(location).await.unwrap());
    let wait = go_us.saturating_sub(wall_us());
    tokio::time::sleep(Duration::from_micros(wait)).await;
    let mut tasks = Vec::new();
    for t in 0..TASKS_PER_PROCESS {
        let store = Arc::clone(&store);
        let name = format!("{id}-{t}");
        tasks.push(tokio::spawn(async move {
            let mut lines = Vec::new();
            let mut idle = 0;
            while idle < 20 {
                store.tick().await.unwrap();
                if let Some(lease) = store.claim(&name, &ClaimFilter::cloud()).await.unwrap() {
                    idle = 0;
                    let claimed = wall_us();
                    store
                        .finish(&lease, &report(&lease.integration_name))
                        .await
                        .unwrap();
                    lines.push(format!("CLAIM {} {claimed} {}", lease.run_id, wall_us()));
                } else {
                    idle += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            lines
        }));
    }
    for task in tasks {
        for line in task.await.unwrap() {
            println!("{line}");
        }
    }
}

/// `n` launched integrations with a daily schedule whose slot lies in the past, so every
/// one is due as soon as a worker ticks.
async fn seed(location: &str, n: usize) {
    // The schedules are computed a day and a half ago: their next slot is already due.
    let then = Timestamp::now()
        .checked_sub(SignedDuration::from_hours(36))
        .unwrap();
    let clock = Arc::new(TestClock::new(then));
    let store = Store::open_with(location, StoreOptions::default(), clock)
        .await
        .unwrap();
    let owner = store.ensure_owner("bench").await.unwrap();
    let spec = ScheduleSpec::new(Every::Days(1), 2, 0, "Europe/Berlin").unwrap();
    for i in 0..n {
        let integration = store
            .create_integration(
                &owner.id,
                &NewIntegration::new(format!("Integration {i}"), "{}"),
            )
            .await
            .unwrap();
        store
            .set_status(
                &owner.id,
                &integration.id,
                IntegrationStatus::Launched,
                None,
            )
            .await
            .unwrap();
        store
            .set_schedule(&owner.id, &integration.id, &spec)
            .await
            .unwrap();
    }
    store.close().await;
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seeds, starts `processes` workers released together, and prints the figures.
async fn measure(label: &str, location: &str, n: usize, processes: usize) {
    seed(location, n).await;
    let exe = std::env::current_exe().unwrap();
    let go_us = wall_us() + 1_500_000;
    let mut children = Vec::new();
    for p in 0..processes {
        children.push(
            tokio::process::Command::new(&exe)
                .args(["--worker", location, &format!("p{p}"), &go_us.to_string()])
                .output(),
        );
    }
    let mut claims: HashMap<String, (u64, u64)> = HashMap::new();
    let mut duplicates = 0;
    for child in children {
        let out = child.await.unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.first() != Some(&"CLAIM") {
                continue;
            }
            let at = (parts[2].parse().unwrap(), parts[3].parse().unwrap());
            if claims.insert(parts[1].to_owned(), at).is_some() {
                duplicates += 1;
            }
        }
    }
    assert_eq!(duplicates, 0, "a run was claimed twice");
    assert_eq!(claims.len(), n, "every due run claimed once");
    let latencies: Vec<f64> = claims
        .values()
        .map(|(claimed, _)| claimed.saturating_sub(go_us) as f64 / 1000.0)
        .collect();
    let last = claims
        .values()
        .map(|(_, finished)| *finished)
        .max()
        .unwrap();
    let span_s = last.saturating_sub(go_us) as f64 / 1e6;
    println!(
        "{label}: {n} runs due at once, {processes} process(es) x {TASKS_PER_PROCESS} tasks: \
         due→started median {:.0} ms, max {:.0} ms; all finished after {span_s:.2} s \
         ({:.0} runs per minute); each run claimed exactly once",
        median(latencies.clone()),
        latencies.iter().copied().fold(0.0, f64::max),
        n as f64 / span_s * 60.0
    );
}

async fn fresh_pg_database(admin: &str, name: &str) -> String {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(admin).await.unwrap();
    sqlx::Executor::execute(
        &mut conn,
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
    )
    .await
    .unwrap();
    sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    format!("{base}/{name}")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // Test runners list a bench target's tests with `--list`: it has none.
    if args.iter().any(|a| a == "--list") {
        return;
    }
    if args.get(1).map(String::as_str) == Some("--worker") {
        let go_us: u64 = args[4].parse().unwrap();
        runtime.block_on(worker(&args[2], &args[3], go_us));
        return;
    }
    // `cargo test --all-targets` runs bench targets without `--bench`: a small smoke run on
    // SQLite keeps the harness compiled and working without the full benchmark.
    let full = args.iter().any(|a| a == "--bench");
    let n: usize = if full {
        args.iter()
            .skip(1)
            .find_map(|a| a.parse().ok())
            .unwrap_or(1000)
    } else {
        20
    };
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = dir.path().join("bench.db");
        measure("SQLite", sqlite.to_str().unwrap(), n, 1).await;
        match std::env::var("SYNC_STORE_TEST_PG") {
            Ok(admin) if full && !admin.is_empty() => {
                let url = fresh_pg_database(&admin, "sync_store_bench").await;
                measure("PostgreSQL", &url, n, 3).await;
            }
            _ => println!(
                "PostgreSQL: skipped (it runs with `cargo bench` and SYNC_STORE_TEST_PG set to a \
                 server URL)"
            ),
        }
    });
}
