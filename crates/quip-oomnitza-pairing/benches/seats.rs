//! `seats` benchmark: the seat usage of an application with N seats (default 100,000),
//! read from the Oomnitza emulator page after page, classified and rendered as JSON, the
//! way `quip-oomnitza seats --json` does it (the same `Integration::seats` call).
//!
//! The emulator runs in the parent process, seeded with N people and seats (a quarter each
//! used 5, 100 and 200 days ago, a quarter never); every measured run is a child process,
//! so its peak memory (`VmHWM`) is the seats command's own, not the emulator's. Run with
//! `cargo bench -p quip-oomnitza-pairing --bench seats` (`-- 10000` for another size).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // a bench binary prints its results

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use api_sandbox::{OomnitzaConfig, OomnitzaEmulator};
use quip_oomnitza_pairing::PAIRING;
use secrecy::SecretString;
use serde_json::json;
use sync_engine::NoProgress;
use sync_runtime::credentials::Secret;
use sync_runtime::{Config, Secrets, SectionSecrets};

const RUNS: usize = 5;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// One measured run: `seats` against the emulator at `url` (its token in
/// `BENCH_OOMNITZA_TOKEN`); prints `ms peak_mib seats`.
async fn child(url: &str) {
    let text = format!(
        r#"[integration]
mode = "users_and_saas"

[quip]
base_url = "http://127.0.0.1:9"
scim_url = "http://127.0.0.1:9"
credential = {{ env = "UNUSED_QUIP_TOKEN" }}

[oomnitza]
base_url = "{url}"
credential = {{ env = "UNUSED_OOMNITZA_TOKEN" }}
"#
    );
    let config = Config::parse(Path::new("bench.toml"), text, &PAIRING).expect("config");
    let token = |t: String| Secret::Token(SecretString::from(t));
    let oomnitza = std::env::var("BENCH_OOMNITZA_TOKEN").expect("BENCH_OOMNITZA_TOKEN");
    let secrets = Secrets {
        source: SectionSecrets::new("quip").with("credential", token("unused".to_owned())),
        target: SectionSecrets::new("oomnitza").with("credential", token(oomnitza)),
    };
    let integration = sync_runtime::build_with_secrets(&config, &secrets).expect("build");
    let started = Instant::now();
    let report = integration
        .seats(Duration::from_secs(90 * 86_400), None, &NoProgress)
        .await
        .expect("seats");
    let json = serde_json::to_string(&report.usage).expect("json");
    let elapsed = started.elapsed();
    assert!(json.len() > 100);
    println!(
        "{} {:.1} {}",
        elapsed.as_millis(),
        peak_rss_mib(),
        report.usage.counts.seats
    );
}

/// Seeds `n` people, each with a seat of the `Quip` application.
fn seed(emulator: &OomnitzaEmulator, n: usize) {
    let state = emulator.state();
    let app = state.add_saas_app("Quip");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let now = i64::try_from(now).unwrap();
    for i in 0..n {
        let person = state
            .add_person(json!({
                "username": format!("user{i}@acme.example"),
                "email": format!("user{i}@acme.example"),
                "full_name": format!("User {i}"),
                "quip_user_id": format!("QUIPUSR{i:09}"),
            }))
            .expect("person");
        let user_id = person["user_id"].as_str().expect("user_id").to_owned();
        let last_visit = [Some(5), Some(100), Some(200), None][i % 4].map(|d| now - d * 86_400);
        state.assign_seat(app, &user_id, last_visit).expect("seat");
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
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
    if args.get(1).map(String::as_str) == Some("--child") {
        runtime.block_on(child(&args[2]));
        return;
    }
    // `cargo test --all-targets` runs bench targets without `--bench`: a small smoke run
    // keeps the harness compiled and working without the full benchmark.
    let n: usize = if args.iter().any(|a| a == "--bench") {
        args.iter()
            .skip(1)
            .find_map(|a| a.parse().ok())
            .unwrap_or(100_000)
    } else {
        200
    };
    runtime.block_on(async {
        let emulator = OomnitzaEmulator::start(OomnitzaConfig::default())
            .await
            .expect("emulator");
        let seeding = Instant::now();
        seed(&emulator, n);
        println!(
            "seeded {n} people and seats in {:.1} s",
            seeding.elapsed().as_secs_f64()
        );
        let exe = std::env::current_exe().unwrap();
        let url = emulator.base_url().clone();
        let token = emulator.token().to_owned();
        let mut times = Vec::new();
        let mut peaks = Vec::new();
        for _ in 0..RUNS {
            let out = tokio::process::Command::new(&exe)
                .arg("--child")
                .arg(&url)
                .env("BENCH_OOMNITZA_TOKEN", &token)
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line = String::from_utf8(out.stdout).unwrap();
            let parts: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(parts[2].parse::<usize>().unwrap(), n, "{line}");
            times.push(parts[0].parse::<f64>().unwrap());
            peaks.push(parts[1].parse::<f64>().unwrap());
        }
        let requests = emulator.counters().total() / RUNS as u64;
        println!(
            "seats over {n} seats: median {:.0} ms (min {:.0}, max {:.0}) over {RUNS} runs, \
             peak memory median {:.1} MiB, {requests} requests per run",
            median(times.clone()),
            times.iter().copied().fold(f64::INFINITY, f64::min),
            times.iter().copied().fold(0.0, f64::max),
            median(peaks)
        );
        emulator.shutdown().await;
    });
}
