//! Retry classification, backoff, `Retry-After`, the wait cap, counters and pacing.

use std::time::Duration;

use connector_http::{ErrorKind, Idempotency, Request, WaitCaps, backoff_ceiling};
use http::{Method, StatusCode};

use crate::common::{ManualClock, Reply, ScriptedServer, T0, client, policy, url};

#[tokio::test]
async fn transient_failures_back_off_within_bounds_and_are_counted() {
    let server = ScriptedServer::start(vec![
        Reply::new(500, "boom"),
        Reply::new(502, ""),
        Reply::new(504, ""),
        Reply::new(200, r#"{"ok":true}"#),
    ])
    .await;
    let clock = ManualClock::new();
    let c = client(&clock, policy());
    let r = c
        .send(&Request::get((), url(&server.url, "/v1/users")))
        .await
        .unwrap();
    assert_eq!(r.json::<serde_json::Value>().unwrap()["ok"], true);
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 3);
    for (n, s) in sleeps.iter().enumerate() {
        let ceiling = backoff_ceiling(
            Duration::from_millis(500),
            Duration::from_secs(8),
            n as u32 + 1,
        );
        assert!(*s >= ceiling / 2 && *s <= ceiling, "sleep {n} = {s:?}");
    }
    let stats = c.stats();
    assert_eq!((stats.calls, stats.retries, stats.throttled), (4, 3, 0));
    assert_eq!(
        stats.rate_limit_wait,
        Duration::ZERO,
        "backoff is not rate-limit wait"
    );
    assert_eq!(c.backoff_wait(), sleeps.iter().sum());
    assert_eq!(c.run_waited(), sleeps.iter().sum());
    server.assert_done();
}

#[tokio::test]
async fn persistent_5xx_fails_with_the_last_answer_after_max_attempts() {
    let server = ScriptedServer::start(vec![Reply::new(503, "down"); 4]).await;
    let clock = ManualClock::new();
    let c = client(&clock, policy());
    let e = c
        .send(&Request::get((), url(&server.url, "/v1/users")))
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Api { status, .. } if *status == StatusCode::SERVICE_UNAVAILABLE),
        "{e:?}"
    );
    assert_eq!(e.request().map(|r| r.attempts), Some(4));
    assert_eq!(
        e.to_string(),
        "Acme GET /v1/users (after 4 attempts): answered HTTP 503 Service Unavailable: down"
    );
    assert!(e.is_transient());
    assert_eq!(clock.sleeps().len(), 3);
    server.assert_done();
}

#[tokio::test]
async fn a_request_that_is_not_idempotent_is_not_repeated_after_a_5xx() {
    let server = ScriptedServer::start(vec![Reply::new(500, "")]).await;
    let clock = ManualClock::new();
    let c = client(&clock, policy());
    let req =
        Request::new((), Method::POST, url(&server.url, "/v1/users")).json_bytes(b"{}".to_vec());
    assert_eq!(req.idempotency, Idempotency::NonIdempotent);
    let e = c.send(&req).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    assert!(clock.sleeps().is_empty());
    assert_eq!(server.seen().len(), 1);
    server.assert_done();
}

#[tokio::test]
async fn throttling_is_retried_even_for_a_create_and_waits_retry_after() {
    let server = ScriptedServer::start(vec![
        Reply::new(429, "slow down").header("retry-after", "7"),
        Reply::new(201, "{}"),
    ])
    .await;
    let clock = ManualClock::new();
    let c = client(&clock, policy());
    let req = Request::new((), Method::POST, url(&server.url, "/v1/users"));
    c.send(&req).await.unwrap();
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(7)]);
    let stats = c.stats();
    assert_eq!((stats.calls, stats.retries, stats.throttled), (2, 1, 1));
    assert_eq!(stats.rate_limit_wait, Duration::from_secs(7));
    assert_eq!(c.backoff_wait(), Duration::ZERO);
    server.assert_done();
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_a_wait_until_then() {
    // T0 is 2023-11-14 22:13:20 UTC; the server asks to come back 90 s later.
    let at =
        httpdate::fmt_http_date(std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(T0 + 90));
    let server = ScriptedServer::start(vec![
        Reply::new(429, "").header("retry-after", at),
        Reply::new(200, "{}"),
    ])
    .await;
    let clock = ManualClock::new();
    let c = client(&clock, policy());
    c.send(&Request::get((), url(&server.url, "/x")))
        .await
        .unwrap();
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(90)]);
    server.assert_done();
}

#[tokio::test]
async fn retry_after_zero_or_missing_falls_back_to_the_backoff() {
    let server = ScriptedServer::start(vec![
        Reply::new(429, "").header("retry-after", "0"),
        Reply::new(503, "").header("retry-after", "3"),
        Reply::new(200, "{}"),
    ])
    .await;
    let clock = ManualClock::new();
    let c = client(&clock, policy());
    c.send(&Request::get((), url(&server.url, "/x")))
        .await
        .unwrap();
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 2);
    assert!(sleeps[0] >= Duration::from_millis(250) && sleeps[0] <= Duration::from_millis(500));
    // 503 is transient: its Retry-After is honoured, and counted as backoff.
    assert_eq!(sleeps[1], Duration::from_secs(3));
    assert_eq!(c.stats().rate_limit_wait, sleeps[0]);
    assert_eq!(c.backoff_wait(), Duration::from_secs(3));
    server.assert_done();
}

#[tokio::test]
async fn the_run_wait_cap_stops_with_a_throttled_error_for_the_rest_of_the_run() {
    let server = ScriptedServer::start(vec![
        Reply::new(429, "").header("retry-after", "60"),
        Reply::new(429, "").header("retry-after", "60"),
        Reply::new(429, "").header("retry-after", "60"),
        Reply::new(429, "").header("retry-after", "60"),
        Reply::new(200, "{}"),
    ])
    .await;
    let clock = ManualClock::new();
    let mut p = policy();
    p.wait_caps = WaitCaps::run(Duration::from_secs(100));
    let c = client(&clock, p.clone());
    let req = Request::get((), url(&server.url, "/x"));
    let e = c.send(&req).await.unwrap_err();
    assert!(e.is_throttled(), "{e:?}");
    assert_eq!(e.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(e.engine_kind(), sync_engine::ErrorKind::Throttled);
    let msg = e.to_string();
    assert!(msg.contains("gave up after waiting 60s"), "{msg}");
    assert!(msg.contains("the run's wait cap of 100s"), "{msg}");
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(60)]);
    assert_eq!(c.run_waited(), Duration::from_secs(60));
    // The cap counts over the client's run, not per request: the next request may not
    // wait beyond what is left either.
    let e = c.send(&req).await.unwrap_err();
    assert!(e.to_string().contains("the run's wait cap"), "{e}");
    assert_eq!(clock.sleeps().len(), 1, "no second wait");
    // The next run opens its own client, with the whole budget.
    let next = client(&clock, p);
    next.send(&req).await.unwrap();
    assert_eq!(next.run_waited(), Duration::from_secs(60));
    server.assert_done();
}

#[tokio::test]
async fn a_request_wait_cap_counts_per_request() {
    let server = ScriptedServer::start(vec![
        Reply::new(429, "").header("retry-after", "60"),
        Reply::new(200, "{}"),
        Reply::new(429, "").header("retry-after", "60"),
        Reply::new(200, "{}"),
    ])
    .await;
    let clock = ManualClock::new();
    let mut p = policy();
    p.wait_caps = WaitCaps::request(Duration::from_secs(100));
    let c = client(&clock, p);
    let req = Request::get((), url(&server.url, "/x"));
    c.send(&req).await.unwrap();
    // A second request gets its own budget (the run has waited 60 s already).
    c.send(&req).await.unwrap();
    assert_eq!(c.run_waited(), Duration::from_secs(120));
    server.assert_done();
}

#[tokio::test]
async fn with_both_caps_the_first_one_reached_stops_the_wait() {
    let server = ScriptedServer::start(vec![
        // One request that would wait 2 x 40 s: over the request cap of 60 s.
        Reply::new(429, "").header("retry-after", "40"),
        Reply::new(429, "").header("retry-after", "40"),
        // Then requests of 40 s each, until the run cap of 100 s is reached.
        Reply::new(429, "").header("retry-after", "40"),
        Reply::new(200, "{}"),
        Reply::new(429, "").header("retry-after", "40"),
    ])
    .await;
    let clock = ManualClock::new();
    let mut p = policy();
    p.wait_caps = WaitCaps {
        run: Some(Duration::from_secs(100)),
        request: Some(Duration::from_secs(60)),
    };
    let c = client(&clock, p);
    let req = Request::get((), url(&server.url, "/x"));
    let e = c.send(&req).await.unwrap_err();
    assert!(
        e.to_string().contains("the request's wait cap of 60s"),
        "{e}"
    );
    c.send(&req).await.unwrap();
    assert_eq!(c.run_waited(), Duration::from_secs(80));
    let e = c.send(&req).await.unwrap_err();
    assert!(e.to_string().contains("the run's wait cap of 100s"), "{e}");
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(40); 2]);
    server.assert_done();
}

#[tokio::test]
async fn throttled_responses_are_capped_in_number() {
    let server =
        ScriptedServer::start(vec![Reply::new(429, "").header("retry-after", "1"); 4]).await;
    let clock = ManualClock::new();
    let c = client(&clock, policy());
    let e = c
        .send(&Request::get((), url(&server.url, "/x")))
        .await
        .unwrap_err();
    assert!(e.is_throttled());
    assert!(
        e.to_string()
            .contains("4 throttled responses (HTTP 429) in a row"),
        "{e}"
    );
    assert_eq!(c.stats().throttled, 4);
    server.assert_done();
}

#[tokio::test]
async fn a_shared_budget_counts_throttling_against_the_attempts() {
    let server = ScriptedServer::start(vec![
        Reply::new(429, ""),
        Reply::new(500, ""),
        Reply::new(429, ""),
        Reply::new(500, ""),
    ])
    .await;
    let clock = ManualClock::new();
    let c = client(&clock, policy().shared_budget());
    let e = c
        .send(&Request::get((), url(&server.url, "/x")))
        .await
        .unwrap_err();
    assert_eq!(e.request().map(|r| r.attempts), Some(4));
    assert_eq!(e.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    // Backoff grows with every attempt, whatever its cause.
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 3);
    assert!(sleeps[2] >= Duration::from_secs(1), "{sleeps:?}");
    server.assert_done();
}

#[tokio::test]
async fn pacing_waits_before_sending_and_observe_sees_every_response() {
    let server = ScriptedServer::start(vec![
        Reply::new(500, "").header("x-remaining", "1"),
        Reply::new(200, "{}").header("x-remaining", "0"),
    ])
    .await;
    let clock = ManualClock::new();
    let c = client(&clock, policy());
    *c.vendor().pace_once.lock().unwrap() = Some(Duration::from_secs(30));
    c.send(&Request::get((), url(&server.url, "/x")))
        .await
        .unwrap();
    let sleeps = clock.sleeps();
    assert_eq!(sleeps[0], Duration::from_secs(30), "{sleeps:?}");
    assert_eq!(c.stats().rate_limit_wait, Duration::from_secs(30));
    assert_eq!(
        *c.vendor().observed.lock().unwrap(),
        vec![Some("1".to_owned()), Some("0".to_owned())]
    );
    server.assert_done();
}

#[tokio::test]
async fn other_4xx_are_final() {
    let server = ScriptedServer::start(vec![Reply::new(404, "no such user")]).await;
    let clock = ManualClock::new();
    let c = client(&clock, policy());
    let e = c
        .send(&Request::get((), url(&server.url, "/u/1")))
        .await
        .unwrap_err();
    assert!(e.is_not_found());
    assert_eq!(e.api_body().map(|b| b.0.as_str()), Some("no such user"));
    assert!(clock.sleeps().is_empty());
    server.assert_done();
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported_without_its_cause_text() {
    // A port nobody listens on: bind, note the address, close.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let clock = ManualClock::new();
    let c = client(&clock, policy());
    // Even a create: a connection that never opened cannot have been processed.
    let req = Request::new((), Method::POST, url(&format!("http://{addr}"), "/x"));
    let e = c.send(&req).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Network { .. }), "{e:?}");
    assert_eq!(e.request().map(|r| r.attempts), Some(4));
    assert_eq!(clock.sleeps().len(), 3);
    let source = std::error::Error::source(&e)
        .expect("the cause is a source")
        .to_string();
    assert!(!e.to_string().contains(&source), "{e}");
    assert!(e.report().contains(&source), "{}", e.report());
}
