//! Fault injection, list anomalies, the rate limit and request counters.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api_sandbox::scim::{RateLimit, ScimConfig};
use api_sandbox::{Clock, Fault, FaultRule};
use http::Method;
use reqwest::StatusCode;

use super::{Api, ids, scim_error, start};

fn small_pages() -> ScimConfig {
    ScimConfig {
        max_count: 5,
        ..ScimConfig::default()
    }
}

#[tokio::test]
async fn repeated_and_skipped_pages_keep_the_requested_start_index() {
    let scim = start(15, small_pages()).await;
    let api = Api::new(&scim);
    let all: Vec<String> = scim.state().users().into_iter().map(|u| u.id).collect();
    scim.faults().inject(
        FaultRule::new(Method::GET, "/scim/v2/Users", Fault::RepeatPage)
            .after(1)
            .times(1),
    );
    let first = api.ok("/Users", &[("startIndex", "1")]).await;
    let second = api.ok("/Users", &[("startIndex", "6")]).await;
    assert_eq!(ids(&second), ids(&first), "page 1 served again");
    assert_eq!(second["startIndex"], 6);
    let third = api.ok("/Users", &[("startIndex", "11")]).await;
    assert_eq!(ids(&third), all[10..]);

    scim.faults().clear();
    scim.faults()
        .inject(FaultRule::new(Method::GET, "/scim/v2/Users", Fault::SkipPage).times(1));
    let skipped = api.ok("/Users", &[("startIndex", "1")]).await;
    assert_eq!(ids(&skipped), all[5..10]);
    assert_eq!(skipped["startIndex"], 1);
    assert_eq!(scim.faults().fired("/scim/v2/Users"), 1);
    scim.shutdown().await;
}

#[tokio::test]
async fn total_offset_and_short_pages_misreport_the_listing() {
    let scim = start(12, small_pages()).await;
    let api = Api::new(&scim);
    let state = scim.state();
    state.set_total_offset(3);
    assert_eq!(api.ok("/Users", &[]).await["totalResults"], 15);
    state.set_total_offset(-20);
    assert_eq!(api.ok("/Users", &[]).await["totalResults"], 0);
    state.set_total_offset(0);
    state.set_short_page(Some(6));
    let short = api.ok("/Users", &[("startIndex", "6")]).await;
    assert_eq!(short["itemsPerPage"], 4);
    assert_eq!(short["totalResults"], 12);
    assert_eq!(
        api.ok("/Users", &[("startIndex", "1")]).await["itemsPerPage"],
        5
    );
    state.set_short_page(None);
    assert_eq!(
        api.ok("/Users", &[("startIndex", "6")]).await["itemsPerPage"],
        5
    );
    scim.shutdown().await;
}

/// A clock that only moves when told to.
#[derive(Debug)]
struct TestClock(Mutex<SystemTime>);

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().expect("clock lock")
    }
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_until_the_window_ends() {
    // 10 s into a minute window (1_800_000_000 is a multiple of 60).
    let clock = Arc::new(TestClock(Mutex::new(
        UNIX_EPOCH + Duration::from_secs(1_800_000_010),
    )));
    let config = ScimConfig {
        rate_limit: Some(RateLimit {
            requests: 2,
            window_secs: 60,
        }),
        clock: clock.clone(),
        ..ScimConfig::default()
    };
    let scim = start(3, config).await;
    let api = Api::new(&scim);
    // 401s consume no budget.
    let bad = reqwest::Client::new()
        .get(format!("{}/Users", scim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    api.ok("/Users", &[]).await;
    api.ok("/Groups", &[]).await;
    let throttled = api.get("/Users", &[]).await;
    assert_eq!(throttled.headers()["retry-after"], "50");
    assert_eq!(
        scim_error(throttled, StatusCode::TOO_MANY_REQUESTS).await,
        None
    );
    *clock.0.lock().unwrap() += Duration::from_secs(50);
    api.ok("/Users", &[]).await;
    // Switched off at run time.
    scim.state().set_rate_limit(None);
    for _ in 0..3 {
        api.ok("/Users", &[]).await;
    }
    assert_eq!(scim.counters().with_status(429), 1);
    scim.shutdown().await;
}

#[tokio::test]
async fn status_faults_and_counters() {
    let scim = start(3, ScimConfig::default()).await;
    let api = Api::new(&scim);
    scim.faults().inject(
        FaultRule::new(
            Method::GET,
            "/scim/v2/Users/{id}",
            Fault::Status {
                status: 503,
                body: String::new(),
                headers: vec![("Retry-After".into(), "7".into())],
            },
        )
        .times(1),
    );
    let id = scim.state().users()[0].id.clone();
    let r = api.get(&format!("/Users/{id}"), &[]).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "7");
    api.ok(&format!("/Users/{id}"), &[]).await;
    api.ok("/Users", &[]).await;
    let counters = scim.counters();
    assert_eq!(counters.count("GET", "/scim/v2/Users/{id}"), 2);
    assert_eq!(counters.count("GET", "/scim/v2/Users"), 1);
    assert_eq!(counters.with_status(503), 1);
    assert_eq!(counters.total(), 3);
    assert_eq!(counters.writes(), 0);
    scim.shutdown().await;
}
