//! Planning benchmark: N source records against N target records (10 fields each, 1% of the
//! records changed, 1% removed from the source), for N = 10k, 100k and 1M; plus the cost of
//! mapping (templates) and filtering 100k source records, for comparison.
//!
//! Each size runs in its own child process so its peak memory (`VmHWM`) is its own.
//! Reports the median, min and max planning time over several runs, and the peak memory of
//! the process (input data included). Run with `cargo bench -p sync-engine`; pass sizes to
//! run only those, e.g. `cargo bench -p sync-engine -- 100000`.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // a bench binary prints its results

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use sync_engine::{
    Collection, CollectionSpec, DesiredRecord, FieldKind, FieldName, FieldSpec, Fields,
    FilterConfig, KeyMapping, MappingConfig, MappingContext, PlanContext, SourceRecord,
    TargetRecord, TargetSnapshot, plan_collection,
};

const FIELDS: [&str; 10] = [
    "department",
    "email",
    "employee_number",
    "first_name",
    "full_name",
    "last_name",
    "location",
    "manager_email",
    "roster_user_id",
    "title",
];

fn names() -> Vec<FieldName> {
    FIELDS.iter().map(|n| FieldName::from(*n)).collect()
}

fn spec(names: &[FieldName]) -> CollectionSpec {
    CollectionSpec {
        collection: Collection::Users,
        sync_key: names[8].clone(),
        fallback_keys: vec![names[1].clone()],
        fields: names.to_vec(),
    }
}

/// The fields of person `i`; `changed` alters the title.
fn fields(names: &[FieldName], i: usize, changed: bool) -> Fields {
    let key = format!("ROSTERUSR{i:09}");
    let title = if changed {
        "Principal Engineer".to_owned()
    } else {
        format!("Engineer {}", i % 7)
    };
    let values = [
        format!("Department {}", i % 40),
        format!("first.last{i}@example-company.com"),
        format!("{}", 100_000 + i),
        format!("First{}", i % 1000),
        format!("First{} Last{i}", i % 1000),
        format!("Last{i}"),
        format!("Office {}", i % 25),
        format!("manager{}@example-company.com", i / 10),
        key,
        title,
    ];
    names
        .iter()
        .cloned()
        .zip(values.into_iter().map(sync_engine::Value::from))
        .collect()
}

fn target(names: &[FieldName], n: usize) -> TargetSnapshot {
    TargetSnapshot {
        records: (0..n)
            .map(|i| TargetRecord {
                id: format!("{}", 9_000_000 + i).into(),
                key: Some(format!("ROSTERUSR{i:09}").into()),
                fields: fields(names, i, false),
                active: true,
                owned: true,
                deactivated_by_sync: false,
            })
            .collect(),
    }
}

/// Every record but each 100th (removed), each 100th + 1 with a changed title.
fn desired(names: &[FieldName], n: usize) -> Vec<DesiredRecord> {
    (0..n)
        .filter(|i| i % 100 != 0)
        .map(|i| {
            DesiredRecord::new(
                format!("ROSTERUSR{i:09}"),
                fields(names, i, i % 100 == 1),
                true,
            )
        })
        .collect()
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (nanoseconds): unlike
/// wall time it does not grow when other processes compete for the cores.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

fn child(n: usize, runs: usize) {
    let names = names();
    let spec = spec(&names);
    let actual = target(&names, n);
    let ctx = PlanContext::default();
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut cpu: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let input = desired(&names, n);
        let start = Instant::now();
        let cpu_start = thread_cpu();
        let plan = plan_collection(&spec, black_box(input), &actual, &ctx);
        cpu.push(thread_cpu().saturating_sub(cpu_start));
        times.push(start.elapsed());
        assert_eq!(plan.counts.deactivate as usize, n.div_ceil(100));
        assert_eq!(plan.counts.update as usize, n / 100);
        drop(black_box(plan));
    }
    times.sort();
    cpu.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{n:>9} x {n:<9} runs {runs:>2}  median {:>8.1} ms  min {:>8.1} ms  max {:>8.1} ms  cpu median {:>8.1} ms  peak {:>6.0} MiB",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        ms(cpu[cpu.len() / 2]),
        peak_rss_mib()
    );
}

/// Maps and filters `n` source records with a typical mapping of 10 target fields.
fn child_map(n: usize, runs: usize) {
    let fields = vec![
        FieldSpec::new("id", FieldKind::String, ""),
        FieldSpec::new("name", FieldKind::String, ""),
        FieldSpec::new("email", FieldKind::String, ""),
        FieldSpec::new("emails", FieldKind::List, ""),
        FieldSpec::new("title", FieldKind::String, ""),
        FieldSpec::new("is_robot", FieldKind::Bool, ""),
        FieldSpec::new("created_at", FieldKind::Timestamp, ""),
    ];
    let mapping = MappingConfig::new(KeyMapping::new("id", "roster_user_id"))
        .fallback(KeyMapping::new("email", "email"))
        .field("email", "{{ emails[0] | lower }}")
        .field("username", "{{ email }}")
        .field("full_name", "{{ name }}")
        .field("first_name", "{{ name | first_name }}")
        .field("last_name", "{{ name | last_name }}")
        .field("title", "{{ title }}")
        .field("created", "{{ created_at }}")
        .field("label", "{{ name }} ({{ title }})")
        .field("source", "Roster")
        .compile(Collection::Users, Some(&fields))
        .expect("valid mapping");
    let filter = FilterConfig {
        include: vec![],
        exclude: vec![
            "is_robot".to_owned(),
            r#"email.endswith("@robots.example")"#.to_owned(),
        ],
    }
    .compile(Some(&fields))
    .expect("valid filter");
    let ctx = MappingContext::new(chrono::DateTime::UNIX_EPOCH, "roster");
    let records: Vec<SourceRecord> = (0..n)
        .map(|i| SourceRecord {
            key: format!("ROSTERUSR{i:09}").into(),
            fields: Fields::new()
                .with("id", format!("ROSTERUSR{i:09}"))
                .with("name", format!("First{} Last{i}", i % 1000))
                .with("email", format!("first.last{i}@example-company.com"))
                .with("emails", vec![format!("First.Last{i}@Example-Company.com")])
                .with("title", format!("Engineer {}", i % 7))
                .with("is_robot", false)
                .with("created_at", chrono::DateTime::UNIX_EPOCH),
            active: true,
            roles: vec![],
            last_activity: None,
        })
        .collect();
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let mut kept = 0;
        for r in &records {
            if filter.keep(r, &ctx).expect("filter") {
                black_box(mapping.desired(r, &ctx).expect("mapping"));
                kept += 1;
            }
        }
        times.push(start.elapsed());
        assert_eq!(kept, n);
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "mapping + filtering {n} records (10 fields, 5 templates, 2 filter rules): median {:.1} ms, {:.2} µs per record",
        median.as_secs_f64() * 1000.0,
        median.as_secs_f64() * 1e6 / n as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Test runners list a bench target's tests with `--list`: it has none.
    if args.iter().any(|a| a == "--list") {
        return;
    }
    // `cargo test --all-targets` runs bench targets without `--bench`: a quick smoke run
    // (one small size) keeps the harness compiled and working without the full benchmark.
    if !args.iter().any(|a| a == "--bench") {
        child(1_000, 1);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--child-map") {
        child_map(args[i + 1].parse().expect("size"), 5);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let n = args[i + 1].parse().expect("size");
        let runs = args[i + 2].parse().expect("runs");
        child(n, runs);
        return;
    }
    let wanted: Vec<usize> = args.iter().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = [(10_000, 21), (100_000, 11), (1_000_000, 5)];
    let exe = std::env::current_exe().expect("current exe");
    println!("planning N source x N target records (10 fields, 1% changed, 1% removed)");
    for (n, runs) in sizes {
        if !wanted.is_empty() && !wanted.contains(&n) {
            continue;
        }
        let status = Command::new(&exe)
            .args(["--bench", "--child", &n.to_string(), &runs.to_string()])
            .status()
            .expect("run child");
        assert!(status.success(), "benchmark child for {n} failed");
    }
    if wanted.is_empty() || wanted.contains(&0) {
        let status = Command::new(&exe)
            .args(["--bench", "--child-map", "100000"])
            .status()
            .expect("run child");
        assert!(status.success(), "mapping benchmark failed");
    }
}
