//! `/metrics` is Prometheus text and counts a finished run.

// The samples compared are counts: whole numbers, exact in an f64.
#![allow(clippy::float_cmp)]

use std::collections::BTreeMap;

use serde_json::json;

use crate::both;
use crate::support::{Db, Kind, Service, create_credentials, launched_integration, sandbox};

both!(metrics_count_a_finished_run);

/// Parses the text exposition format strictly enough to catch a broken page: every line
/// is a `# HELP`/`# TYPE`/`# UNIT`/`# EOF` comment or `name{labels} value`; returns the
/// samples by `name{labels}`.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    let mut eof = false;
    for line in text.lines() {
        assert!(!eof, "nothing after # EOF: {line}");
        if line == "# EOF" {
            eof = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let kind = rest.split(' ').next().unwrap();
            assert!(matches!(kind, "HELP" | "TYPE" | "UNIT"), "comment: {line}");
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("sample: {line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "metric name: {line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "labels: {line}");
        }
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value: {line}"));
        samples.insert(series.to_owned(), value);
    }
    assert!(eof, "the page ends with # EOF");
    samples
}

async fn metrics_count_a_finished_run(kind: Kind) {
    let sandbox = sandbox(8).await;
    let db = Db::new(kind).await;
    let token = db.token("acme", false).await;
    let service = Service::start(&db).await;
    let before = service
        .http
        .get(service.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(before.status(), 200);
    let before = parse(&before.text().await.unwrap());
    assert_eq!(
        before["sync_runs{state=\"succeeded\",trigger=\"manual\"}"],
        0.0
    );
    assert_eq!(before["sync_queue_depth"], 0.0);

    create_credentials(&service, &token, &sandbox).await;
    let id = launched_integration(&service, &token, &sandbox, "Measured").await;
    let r = service
        .post(
            &format!("/api/v1/integrations/{id}/runs"),
            &token,
            &json!({}),
        )
        .await;
    let run = service
        .wait_run(&token, r.json["id"].as_str().unwrap())
        .await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    let created = run["report"]["counts"]["created"].as_f64().unwrap();
    let calls = run["report"]["api_calls"]["oomnitza"].as_f64().unwrap();

    let page = service
        .http
        .get(service.url("/metrics"))
        .send()
        .await
        .unwrap();
    let ct = page.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    let m = parse(&page.text().await.unwrap());
    assert_eq!(
        m["sync_runs{state=\"succeeded\",trigger=\"manual\"}"], 1.0,
        "{m:?}"
    );
    assert_eq!(m["sync_runs_finished_total{status=\"succeeded\"}"], 1.0);
    assert_eq!(
        m["sync_records_total{collection=\"users\",outcome=\"created\"}"],
        created
    );
    assert_eq!(m["sync_api_calls_total{vendor=\"oomnitza\"}"], calls);
    assert!(m.contains_key("sync_rate_limit_wait_seconds_total{vendor=\"quip\"}"));
    assert_eq!(m["sync_queue_depth"], 0.0);
    assert_eq!(m["sync_queue_oldest_age_seconds"], 0.0);
    assert_eq!(m["sync_lease_reclaims"], 0.0);
    assert!(m.contains_key("sync_notifications{kind=\"run_failed\",read=\"false\"}"));
    assert!(m.contains_key("sync_email_outbox{state=\"pending\"}"));
    assert!(
        m.keys().any(|k| k.starts_with("sync_http_requests_total{")
            && k.contains("route=\"/api/v1/runs/{id}\"")),
        "{m:?}"
    );
    assert!(service.terminate().await.success());
    sandbox.shutdown().await;
}
