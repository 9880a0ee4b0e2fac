//! The session report's JSON contract and human rendering.

use std::time::Duration;

use chrono::DateTime;
use sync_engine::{
    ApiStats, Collection, Counts, HeldDeactivation, RecordError, SessionReport, SessionStatus,
};

fn sample() -> SessionReport {
    let started = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let mut r = SessionReport::new("Roster users", started);
    r.mode = Some("users_and_saas".into());
    r.counts = Counts {
        created: 3,
        updated: 1,
        deactivated: 0,
        reactivated: 0,
        unchanged: 120,
        skipped: 2,
        failed: 1,
    };
    r.saas_counts = Some(Counts {
        created: 3,
        unchanged: 121,
        ..Counts::default()
    });
    r.errors.push(RecordError {
        key: "u7".into(),
        message: "HTTP 400: email is not valid".into(),
        collection: Collection::Users,
    });
    r.add_api_stats(
        "roster",
        &ApiStats {
            calls: 12,
            throttled: 1,
            retries: 1,
            rate_limit_wait: Duration::from_millis(2500),
        },
    );
    r.add_api_stats(
        "people",
        &ApiStats {
            calls: 9,
            ..ApiStats::default()
        },
    );
    r.finish(false);
    r
}

#[test]
fn json_contract() {
    let r = sample();
    assert_eq!(r.status, SessionStatus::SucceededWithErrors);
    assert_eq!(r.id.get_version_num(), 7);
    insta::assert_json_snapshot!("report_json", r, {
        ".id" => "[uuid]",
        ".started_at" => "[time]",
        ".finished_at" => "[time]",
    });
    let v = serde_json::to_value(&r).unwrap();
    for key in [
        "id",
        "integration",
        "mode",
        "dry_run",
        "status",
        "started_at",
        "finished_at",
        "counts",
        "held_deactivations",
        "saas_counts",
        "errors",
        "warnings",
        "api_calls",
        "rate_limit_wait_s",
        "fatal",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    let back: SessionReport = serde_json::from_value(v).unwrap();
    assert_eq!(back, r);
}

#[test]
fn status_rules() {
    let started = DateTime::from_timestamp(0, 0).unwrap();
    let mut r = SessionReport::new("x", started);
    r.finish(false);
    assert_eq!(r.status, SessionStatus::Succeeded);
    assert_eq!(r.exit_code(), 0);
    r.finish(true);
    assert_eq!(r.status, SessionStatus::SucceededWithErrors);
    r.held_deactivations.push(HeldDeactivation {
        collection: Collection::Users,
        key: "u1".into(),
        id: "t1".into(),
        reason: None,
    });
    r.finish(true);
    assert_eq!(r.status, SessionStatus::Held);
    r.fatal = Some("boom".into());
    r.finish(false);
    assert_eq!(r.status, SessionStatus::Failed);

    let failed = SessionReport::failed("x", started, "reading the source (roster) failed: 401");
    assert_eq!(failed.status, SessionStatus::Failed);
    let v = serde_json::to_value(&failed).unwrap();
    assert_eq!(v["status"], "failed");
    assert_eq!(v["saas_counts"], serde_json::Value::Null);
    assert_eq!(v["fatal"], "reading the source (roster) failed: 401");
    assert!(v.get("mode").is_none());
}

#[test]
fn human_summary() {
    let mut r = sample();
    r.id = uuid::Uuid::nil();
    r.finished_at = r.started_at + chrono::Duration::milliseconds(4200);
    r.warnings.push("users: 3 deactivation(s) held".into());
    insta::assert_snapshot!("report_human", r.render_human());
}
