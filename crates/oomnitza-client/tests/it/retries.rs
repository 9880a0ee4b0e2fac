//! Retries, throttling, timeouts and the never-create-twice rule (httpmock).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use httpmock::prelude::*;
use httpmock::{HttpMockRequest, HttpMockResponse};
use oomnitza_client::{Auth, ClientConfig, ErrorKind, OomnitzaClient, api::WriteOptions};
use serde_json::json;

use crate::common::{CANARY, fast_retry, mock_client, unexpected};

/// A responder that answers `first` for the first `n` calls and `then` afterwards.
fn sequence(
    n: usize,
    first: (u16, &'static str, Option<&'static str>),
    then: (u16, &'static str),
) -> impl Fn(&HttpMockRequest) -> HttpMockResponse + Send + Sync + 'static {
    let count = Arc::new(AtomicUsize::new(0));
    move |_req| {
        let i = count.fetch_add(1, Ordering::SeqCst);
        if i < n {
            let mut b = HttpMockResponse::builder()
                .status(first.0)
                .header("content-type", "application/json")
                .body(first.1.to_owned());
            if let Some(ra) = first.2 {
                b = b.header("retry-after", ra);
            }
            b.build()
        } else {
            HttpMockResponse::builder()
                .status(then.0)
                .header("content-type", "application/json")
                .body(then.1.to_owned())
                .build()
        }
    }
}

#[tokio::test]
async fn reads_are_retried_on_5xx_and_counted() {
    let server = MockServer::start_async().await;
    let meta = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v3/users/meta");
            then.respond_with(sequence(2, (503, "{}", None), (200, "{}")));
        })
        .await;
    let stray = unexpected(&server).await;
    let client = mock_client(&server);
    client.users().meta().await.unwrap();
    meta.assert_calls_async(3).await;
    stray.assert_calls_async(0).await;
    let s = client.stats();
    assert_eq!((s.calls, s.retries, s.throttled), (3, 2, 0));
    assert_eq!(s.rate_limit_wait, Duration::ZERO);
}

#[tokio::test]
async fn throttling_is_retried_counted_and_waited_for() {
    let server = MockServer::start_async().await;
    let meta = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v3/users/meta");
            // Retry-After 0: the client falls back to its own backoff.
            then.respond_with(sequence(1, (429, "{}", Some("0")), (200, "{}")));
        })
        .await;
    let client = mock_client(&server);
    client.users().meta().await.unwrap();
    meta.assert_calls_async(2).await;
    let s = client.stats();
    assert_eq!((s.calls, s.retries, s.throttled), (2, 1, 1));
    assert!(s.rate_limit_wait > Duration::ZERO);
}

#[tokio::test]
async fn a_retry_after_beyond_the_wait_cap_fails_instead_of_hanging() {
    let server = MockServer::start_async().await;
    let meta = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v3/users/meta");
            then.status(429)
                .header("retry-after", "3600")
                .json_body(json!({"errors": ["slow down"]}));
        })
        .await;
    let err = mock_client(&server).users().meta().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(429));
    assert_eq!(err.engine_kind(), sync_engine::ErrorKind::Throttled);
    meta.assert_calls_async(1).await;
}

#[tokio::test]
async fn retries_stop_after_the_policy_limit() {
    let server = MockServer::start_async().await;
    let meta = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v3/users/meta");
            then.status(500).json_body(json!({"errors": ["boom"]}));
        })
        .await;
    let err = mock_client(&server).users().meta().await.unwrap_err();
    // fast_retry(): 3 retries after the first attempt.
    meta.assert_calls_async(4).await;
    assert_eq!(
        err.to_string(),
        "Oomnitza GET /api/v3/users/meta (after 4 attempts): answered HTTP 500 Internal Server Error: boom"
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_create_is_never_resent_blindly_after_a_5xx() {
    let server = MockServer::start_async().await;
    let create = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/users")
                .json_body(json!({"username": "jane", "quip_user_id": "Q1"}));
            then.respond_with(sequence(
                1,
                (500, r#"{"errors":["try later"]}"#, None),
                (
                    200,
                    r#"{"user_id":"u1","username":"jane","quip_user_id":"Q1"}"#,
                ),
            ));
        })
        .await;
    let lookup = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/users")
                .query_param("filter", "quip_user_id eq 'Q1'");
            then.status(200).json_body(json!([]));
        })
        .await;
    let stray = unexpected(&server).await;

    let user = mock_client(&server)
        .users()
        .create_or_find(
            &json!({"username": "jane", "quip_user_id": "Q1"}),
            WriteOptions::default(),
            "quip_user_id",
            "Q1",
        )
        .await
        .unwrap();
    assert_eq!(user.user_id.as_deref(), Some("u1"));
    // One failed create, one lookup that found nothing, then one more create.
    create.assert_calls_async(2).await;
    lookup.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_create_that_went_through_despite_a_5xx_is_found_not_duplicated() {
    let server = MockServer::start_async().await;
    let create = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v3/users");
            then.status(502).body("bad gateway");
        })
        .await;
    let lookup = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/users")
                .query_param("filter", "quip_user_id eq 'Q1'");
            then.status(200)
                .json_body(json!([{"user_id": "u1", "quip_user_id": "Q1"}]));
        })
        .await;
    let stray = unexpected(&server).await;
    let user = mock_client(&server)
        .users()
        .create_or_find(
            &json!({"quip_user_id": "Q1"}),
            WriteOptions::default(),
            "quip_user_id",
            "Q1",
        )
        .await
        .unwrap();
    assert_eq!(user.user_id.as_deref(), Some("u1"));
    create.assert_calls_async(1).await;
    lookup.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_throttled_create_is_resent_because_it_was_refused() {
    let server = MockServer::start_async().await;
    let create = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v3/saas");
            then.respond_with(sequence(
                1,
                (429, "{}", Some("0")),
                (201, r#"{"saas_id":"4"}"#),
            ));
        })
        .await;
    let stray = unexpected(&server).await;
    let id = mock_client(&server)
        .saas()
        .create(&oomnitza_client::NewSaasApp::new("Quip", "quip_users"))
        .await
        .unwrap();
    assert_eq!(id, "4");
    create.assert_calls_async(2).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn timeouts_are_retried_for_reads_but_not_for_creates() {
    let server = MockServer::start_async().await;
    let slow_read = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v3/users/meta");
            then.status(200)
                .json_body(json!({}))
                .delay(Duration::from_secs(3));
        })
        .await;
    let slow_create = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v3/users");
            then.status(200)
                .json_body(json!({"user_id": "u1"}))
                .delay(Duration::from_secs(3));
        })
        .await;
    let client = OomnitzaClient::new(
        ClientConfig::new(&server.base_url(), Auth::token(CANARY))
            .unwrap()
            .with_retry(fast_retry().with_max_retries(1))
            .with_timeout(Duration::from_millis(200)),
    )
    .unwrap();

    let err = client.users().meta().await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Timeout { .. }), "{err:?}");
    assert_eq!(err.request().unwrap().attempts, 2);
    slow_read.assert_calls_async(2).await;

    let err = client
        .users()
        .create(&json!({"username": "x"}), WriteOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Timeout { .. }), "{err:?}");
    assert!(err.is_transient());
    slow_create.assert_calls_async(1).await;
}

#[tokio::test]
async fn a_refused_connection_is_a_network_error_after_retries() {
    // Bind and drop a listener so the port is (very likely) closed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = OomnitzaClient::new(
        ClientConfig::new(&format!("http://127.0.0.1:{port}"), Auth::token(CANARY))
            .unwrap()
            .with_retry(fast_retry()),
    )
    .unwrap();
    let err = client.users().meta().await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Network { .. }), "{err:?}");
    assert_eq!(client.stats().calls, 4);
    assert!(!err.report().contains(CANARY));
}
