//! The send path against a scripted server with a manual clock: exact wait sequences for
//! throttling, pacing, backoff and the wait cap (no real waiting).

use std::sync::Arc;
use std::time::Duration;

use quip_client::{ErrorKind, QuipClient, RefreshRequest, RetryPolicy, WaitCaps};
use secrecy::SecretString;
use sync_engine::{ConnectorError, ErrorKind as EngineKind};

use crate::common::{ManualClock, Reply, ScriptedServer, T0, config};

const USER: &str = r#"{"id":"UTUAEAiZl6B","name":"Jane Doe","company_id":"IMbAcASGu56"}"#;
const ORL: &str = r#"{"error_description":"Over Rate Limit"}"#;

fn client(
    server: &ScriptedServer,
    clock: &Arc<ManualClock>,
    policy: Option<RetryPolicy>,
) -> QuipClient {
    let mut cfg = config(&server.url);
    if let Some(p) = policy {
        cfg = cfg.retry(p);
    }
    QuipClient::with_clock(cfg, clock.clone()).unwrap()
}

#[tokio::test]
async fn over_rate_limit_503_waits_until_the_reset_plus_slack() {
    let server = ScriptedServer::start(vec![
        Reply::json(503, ORL)
            .header("X-Ratelimit-Limit", 50)
            .header("X-Ratelimit-Remaining", 0)
            .header("X-Ratelimit-Reset", T0 + 10),
        Reply::json(200, USER),
    ])
    .await;
    let clock = ManualClock::new();
    let c = client(&server, &clock, None);
    let user = c.users().current().await.unwrap();
    assert_eq!(user.id, "UTUAEAiZl6B");
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(11)]);
    let stats = c.stats();
    assert_eq!((stats.calls, stats.throttled, stats.retries), (2, 1, 1));
    assert_eq!(stats.rate_limit_wait, Duration::from_secs(11));
    server.assert_done();
}

#[tokio::test]
async fn status_429_with_reset_zero_waits_the_61_second_fallback() {
    let server = ScriptedServer::start(vec![
        Reply::json(429, "{}")
            .header("X-Ratelimit-Limit", 50)
            .header("X-Ratelimit-Remaining", 0)
            .header("X-Ratelimit-Reset", 0)
            .header("X-Company-RateLimit-Remaining", 100)
            .header("X-Company-RateLimit-Reset", T0 + 20),
        Reply::json(200, USER),
    ])
    .await;
    let clock = ManualClock::new();
    let c = client(&server, &clock, None);
    c.users().current().await.unwrap();
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(61)]);
    assert_eq!(c.stats().throttled, 1);
    server.assert_done();
}

#[tokio::test]
async fn company_retry_after_longer_than_reset_wins() {
    let server = ScriptedServer::start(vec![
        Reply::json(503, ORL)
            .header("X-Ratelimit-Reset", T0 + 5)
            .header("X-Company-Retry-After", 30),
        Reply::json(200, USER),
    ])
    .await;
    let clock = ManualClock::new();
    let c = client(&server, &clock, None);
    c.users().current().await.unwrap();
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(30)]);
    server.assert_done();
}

#[tokio::test]
async fn plain_5xx_backs_off_exponentially_with_jitter_then_succeeds() {
    let server = ScriptedServer::start(vec![
        Reply::json(503, r#"{"error_description":"Service Unavailable"}"#),
        Reply::json(500, "oops"),
        Reply::json(502, ""),
        Reply::json(200, USER),
    ])
    .await;
    let clock = ManualClock::new();
    let c = client(&server, &clock, None);
    c.users().current().await.unwrap();
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 3);
    // base 500 ms, equal jitter: step n lies in [base*2^(n-1)/2, base*2^(n-1)].
    for (n, s) in sleeps.iter().enumerate() {
        let full = Duration::from_millis(500 * (1 << n));
        assert!(*s >= full / 2 && *s <= full, "sleep {n} = {s:?}");
    }
    let stats = c.stats();
    assert_eq!((stats.calls, stats.throttled, stats.retries), (4, 0, 3));
    assert_eq!(
        stats.rate_limit_wait,
        Duration::ZERO,
        "backoff is not rate-limit wait"
    );
    assert_eq!(c.backoff_wait(), sleeps.iter().sum());
    server.assert_done();
}

#[tokio::test]
async fn persistent_5xx_fails_as_transient_after_max_attempts() {
    let server =
        ScriptedServer::start(vec![Reply::json(500, r#"{"error_description":"boom"}"#); 3]).await;
    let clock = ManualClock::new();
    let c = client(
        &server,
        &clock,
        Some(RetryPolicy::default().max_attempts(3)),
    );
    let e = c.users().current().await.unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Api { status, .. } if *status == 500),
        "{e:?}"
    );
    assert_eq!(e.request().map(|r| r.attempts), Some(3), "{e:?}");
    assert!(e.to_string().contains("boom"), "{e}");
    assert_eq!(ConnectorError::from(e).kind, EngineKind::Transient);
    assert_eq!(clock.sleeps().len(), 2);
    server.assert_done();
}

#[tokio::test]
async fn other_4xx_is_final_and_keeps_status_and_description() {
    let server = ScriptedServer::start(vec![Reply::json(
        400,
        r#"{"error":"Bad Request","error_code":400,"error_description":"Invalid ids"}"#,
    )])
    .await;
    let clock = ManualClock::new();
    let c = client(&server, &clock, None);
    let e = c.users().lookup(&["x"]).await.unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(
        e.api_body().and_then(|b| b.error_description.as_deref()),
        Some("Invalid ids")
    );
    assert!(clock.sleeps().is_empty());
    assert_eq!(c.stats().calls, 1);
    assert_eq!(ConnectorError::from(e).kind, EngineKind::Api);
    server.assert_done();
}

#[tokio::test]
async fn exhausted_window_is_paced_before_the_next_request() {
    let server = ScriptedServer::start(vec![
        Reply::json(200, USER)
            .header("X-Ratelimit-Limit", 50)
            .header("X-Ratelimit-Remaining", 0)
            .header("X-Ratelimit-Reset", T0 + 30),
        Reply::json(200, USER)
            .header("X-Ratelimit-Limit", 50)
            .header("X-Ratelimit-Remaining", 49)
            .header("X-Ratelimit-Reset", T0 + 91),
        // The Admin API has its own per-user window: no wait.
        Reply::json(200, r#"{"user":null}"#),
    ])
    .await;
    let clock = ManualClock::new();
    let c = client(&server, &clock, None);
    c.users().current().await.unwrap();
    assert!(clock.sleeps().is_empty());
    c.users().current().await.unwrap();
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(31)]);
    c.admin().user_info("C", "U", true).await.unwrap();
    assert_eq!(clock.sleeps().len(), 1);
    let stats = c.stats();
    assert_eq!((stats.calls, stats.throttled), (3, 0));
    assert_eq!(stats.rate_limit_wait, Duration::from_secs(31));
    let seen = server.seen();
    let paths: Vec<&str> = seen.iter().map(|s| s.path_and_query.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/1/users/current",
            "/1/users/current",
            "/1/admin/users/U?company_id=C&threads_meta=true"
        ]
    );
    for s in &seen {
        assert_eq!(s.method, "GET");
        assert_eq!(s.authorization.as_deref(), Some("Bearer CANARY-quip-7f3a9"));
        assert_eq!((s.content_type.as_deref(), s.body.as_str()), (None, ""));
    }
    server.assert_done();
}

#[tokio::test]
async fn wait_cap_stops_with_a_clear_throttled_error() {
    let server = ScriptedServer::start(vec![
        Reply::json(429, "{}").header("X-Ratelimit-Reset", 0),
        Reply::json(429, "{}").header("X-Ratelimit-Reset", 0),
    ])
    .await;
    let clock = ManualClock::new();
    let c = client(
        &server,
        &clock,
        Some(RetryPolicy::default().wait_caps(WaitCaps::run(Duration::from_secs(100)))),
    );
    let e = c.users().current().await.unwrap_err();
    assert!(e.is_throttled(), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("gave up after waiting 61s"), "{msg}");
    assert!(msg.contains("wait cap of 100s"), "{msg}");
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(61)]);
    assert_eq!(ConnectorError::from(e).kind, EngineKind::Throttled);
    assert_eq!(c.run_waited(), Duration::from_secs(61));
    server.assert_done();
}

#[tokio::test]
async fn throttled_responses_are_capped_in_number_too() {
    let server = ScriptedServer::start(vec![
        Reply::json(503, ORL)
            .header("X-Ratelimit-Reset", T0 + 1);
        3
    ])
    .await;
    let clock = ManualClock::new();
    let c = client(
        &server,
        &clock,
        Some(RetryPolicy::default().max_throttled(2)),
    );
    let e = c.users().current().await.unwrap_err();
    assert!(e.is_throttled());
    assert!(e.to_string().contains("3 throttled responses"), "{e}");
    assert_eq!(c.stats().throttled, 3);
    server.assert_done();
}

#[tokio::test]
async fn token_refresh_is_not_repeated_after_a_server_error() {
    let server = ScriptedServer::start(vec![Reply::json(500, "{}")]).await;
    let clock = ManualClock::new();
    let c = client(&server, &clock, None);
    let e = c
        .oauth()
        .refresh(&RefreshRequest {
            client_id: "cid".into(),
            client_secret: SecretString::from("s"),
            refresh_token: SecretString::from("r"),
        })
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(500));
    assert_eq!(ConnectorError::from(e).kind, EngineKind::Transient);
    assert_eq!(c.stats().calls, 1);
    server.assert_done();
}

#[tokio::test]
async fn timeout_is_transient_and_retried() {
    let server = ScriptedServer::start(vec![Reply::hang(), Reply::json(200, USER)]).await;
    let clock = ManualClock::new();
    let cfg = config(&server.url).timeout(Duration::from_secs(1));
    let c = QuipClient::with_clock(cfg, clock.clone()).unwrap();
    c.users().current().await.unwrap();
    assert_eq!(clock.sleeps().len(), 1);
    assert_eq!((c.stats().calls, c.stats().retries), (2, 1));
    server.assert_done();
}

#[tokio::test]
async fn decode_errors_name_the_field_path() {
    let server = ScriptedServer::start(vec![
        Reply::json(200, r#"{"id":"U","emails":["a@x", 7]}"#),
        Reply::json(
            200,
            r#"{"schemas":[],"totalResults":1,"Resources":[{"id":"A","active":"yes"}]}"#,
        ),
    ])
    .await;
    let clock = ManualClock::new();
    let c = client(&server, &clock, None);
    let e = c.users().current().await.unwrap_err();
    match e.kind() {
        ErrorKind::Decode { path, .. } => assert_eq!(path, "emails[1]"),
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("`emails[1]`"), "{e}");
    let e = c.scim().list_users().page(1).await.unwrap_err();
    match e.kind() {
        ErrorKind::Decode { path, .. } => assert_eq!(path, "Resources[0].active"),
        other => panic!("{other:?}"),
    }
    assert_eq!(ConnectorError::from(e).kind, EngineKind::Decode);
    server.assert_done();
}
