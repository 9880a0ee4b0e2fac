//! Several OS processes claiming from one database never run one integration twice at
//! once. The test binary runs itself as the worker processes (`worker_process`, ignored
//! unless started that way).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sync_store::{ClaimFilter, Store};

use crate::support::{Kind, TestDb, report};

both!(several_processes_claim_without_overlap);

const ENV_DB: &str = "SYNC_STORE_WORKER_DB";
const ENV_ID: &str = "SYNC_STORE_WORKER_ID";
const ENV_TARGETS: &str = "SYNC_STORE_WORKER_TARGETS";

fn micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros()
}

/// The worker: RUN NOW on each integration, claim, hold the run briefly, finish; prints
/// `CLAIM integration run start end` per run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "started by several_processes_claim_without_overlap as a child process"]
async fn worker_process() {
    let db = std::env::var(ENV_DB).expect("run by several_processes_claim_without_overlap");
    let id = std::env::var(ENV_ID).unwrap();
    let targets: Vec<(String, String)> = std::env::var(ENV_TARGETS)
        .unwrap()
        .split(',')
        .map(|t| {
            let (o, i) = t.split_once(':').unwrap();
            (o.to_owned(), i.to_owned())
        })
        .collect();
    let store = Store::open(&db).await.unwrap();
    for round in 0..12 {
        let (owner, integration) = &targets[round % targets.len()];
        store.run_now(owner, integration).await.unwrap();
        let Some(lease) = store.claim(&id, &ClaimFilter::cloud()).await.unwrap() else {
            continue;
        };
        let start = micros();
        tokio::time::sleep(Duration::from_millis(15)).await;
        let end = micros();
        println!(
            "CLAIM {} {} {start} {end}",
            lease.integration_id, lease.run_id
        );
        store
            .finish(&lease, &report(&lease.integration_name, None))
            .await
            .unwrap();
    }
}

async fn several_processes_claim_without_overlap(kind: Kind) {
    let db = TestDb::new(kind).await;
    let mut targets = Vec::new();
    for n in 0..2 {
        let (owner, integration) = db.launched("it-ops", &format!("Integration {n}")).await;
        targets.push(format!("{}:{}", owner.id, integration.id));
    }
    let exe = std::env::current_exe().unwrap();
    let mut children = Vec::new();
    for w in 0..3 {
        children.push(
            tokio::process::Command::new(&exe)
                .args([
                    "--exact",
                    "process::worker_process",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(ENV_DB, &db.location)
                .env(ENV_ID, format!("process-{w}"))
                .env(ENV_TARGETS, targets.join(","))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap(),
        );
    }
    let mut claims: Vec<(String, String, u128, u128)> = Vec::new();
    for child in children {
        let out = tokio::time::timeout(Duration::from_secs(240), child.wait_with_output())
            .await
            .expect("worker process hung")
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "worker failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in stdout.lines().filter(|l| l.starts_with("CLAIM ")) {
            let f: Vec<&str> = line.split(' ').collect();
            claims.push((
                f[1].to_owned(),
                f[2].to_owned(),
                f[3].parse().unwrap(),
                f[4].parse().unwrap(),
            ));
        }
    }
    assert!(claims.len() >= 6, "only {} claims", claims.len());
    let runs: HashSet<&str> = claims.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(runs.len(), claims.len(), "a run was claimed twice");
    let mut by_integration: HashMap<&str, Vec<(u128, u128)>> = HashMap::new();
    for (integration, _, start, end) in &claims {
        by_integration
            .entry(integration)
            .or_default()
            .push((*start, *end));
    }
    for (integration, mut spans) in by_integration {
        spans.sort_unstable();
        for pair in spans.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "integration {integration} ran twice at once: {pair:?}"
            );
        }
    }
}
