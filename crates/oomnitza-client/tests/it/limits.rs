//! Hostile answers end in errors, never in unbounded memory or endless paging: bodies over
//! the size limit (declared; connector-http tests the endless streamed body), listings that
//! never reach a short page, repeat records (a server ignoring `skip`) or overshoot
//! `X-Total-Count`.

use httpmock::prelude::*;
use oomnitza_client::{Auth, ClientConfig, ErrorKind, OomnitzaClient};
use serde_json::{Value, json};

use crate::common::{CANARY, fast_retry, unexpected};

fn client(base: &str, configure: impl FnOnce(ClientConfig) -> ClientConfig) -> OomnitzaClient {
    let config = ClientConfig::new(base, Auth::token(CANARY))
        .expect("valid URL")
        .with_retry(fast_retry());
    OomnitzaClient::new(configure(config)).expect("client")
}

/// `n` people with ids `first..first + n`.
fn people(first: u64, n: u64) -> Value {
    Value::Array(
        (first..first + n)
            .map(|i| json!({"user_id": i.to_string(), "username": format!("u{i}")}))
            .collect(),
    )
}

fn assert_too_large(error: &oomnitza_client::Error, limit: u64) {
    assert!(
        matches!(error.kind(), ErrorKind::TooLarge { limit: l, .. } if *l == limit),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("GET /api/v3/users"), "{message}");
    assert!(message.contains("Oomnitza"), "{message}");
    assert!(
        message.contains(&format!("limit of {limit} bytes")),
        "{message}"
    );
    assert!(message.contains("max_response_bytes"), "{message}");
    assert!(!error.is_transient());
}

#[tokio::test]
async fn a_declared_body_over_the_limit_fails_once_without_retries() {
    let server = MockServer::start_async().await;
    let big = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v3/users");
            then.status(200).json_body(people(0, 200));
        })
        .await;
    let other = unexpected(&server).await;
    let c = client(&server.base_url(), |c| c.with_max_response_bytes(1024));
    let error = c.users().list().collect().await.unwrap_err();
    assert_too_large(&error, 1024);
    big.assert_calls_async(1).await;
    other.assert_calls_async(0).await;

    // The same answer under a limit it fits in is read as usual.
    let c = client(&server.base_url(), |c| c.with_max_response_bytes(1 << 20));
    assert_eq!(c.users().list().collect().await.unwrap().len(), 200);
}

#[tokio::test]
async fn endless_full_pages_stop_one_page_past_x_total_count() {
    let server = MockServer::start_async().await;
    let mut pages = Vec::new();
    for n in 0..5u64 {
        pages.push(
            server
                .mock_async(move |when, then| {
                    when.method(GET)
                        .path("/api/v3/users")
                        .query_param("skip", (n * 10).to_string());
                    then.status(200)
                        .header("X-Total-Count", "25")
                        .json_body(people(n * 10, 10));
                })
                .await,
        );
    }
    let c = client(&server.base_url(), |c| c.with_page_size(10));
    let error = c.users().list().collect().await.unwrap_err();
    let message = paging_message(&error);
    assert!(message.contains("GET /api/v3/users"), "{message}");
    assert!(message.contains("X-Total-Count (25)"), "{message}");
    assert!(message.contains("incomplete"), "{message}");
    for page in &pages[..4] {
        page.assert_calls_async(1).await;
    }
    pages[4].assert_calls_async(0).await;
}

#[tokio::test]
async fn a_server_ignoring_skip_is_stopped_at_the_first_repeat() {
    let server = MockServer::start_async().await;
    let same = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v3/users");
            then.status(200)
                .header("X-Total-Count", "2500")
                .json_body(people(0, 10));
        })
        .await;
    let c = client(&server.base_url(), |c| c.with_page_size(10));
    let error = c.users().list().collect().await.unwrap_err();
    let message = paging_message(&error);
    assert!(message.contains("skip=10"), "{message}");
    assert!(message.contains("repeats 10 record(s)"), "{message}");
    same.assert_calls_async(2).await;
}

#[tokio::test]
async fn full_pages_without_a_total_stop_at_max_pages() {
    let server = MockServer::start_async().await;
    let mut pages = Vec::new();
    for n in 0..4u64 {
        pages.push(
            server
                .mock_async(move |when, then| {
                    when.method(GET)
                        .path("/api/v3/saas_users")
                        .query_param("skip", (n * 10).to_string());
                    then.status(200).json_body(Value::Array(
                        (n * 10..n * 10 + 10)
                            .map(|i| json!({"saas_user_id": i, "user_id": "7"}))
                            .collect(),
                    ));
                })
                .await,
        );
    }
    let c = client(&server.base_url(), |c| {
        c.with_page_size(10).with_max_pages(3)
    });
    let error = c
        .saas_users()
        .search(oomnitza_client::Filter::new())
        .collect()
        .await
        .unwrap_err();
    let message = paging_message(&error);
    assert!(message.contains("GET /api/v3/saas_users"), "{message}");
    assert!(message.contains("limit of 3 pages"), "{message}");
    assert!(message.contains("max_pages"), "{message}");
    for page in &pages[..3] {
        page.assert_calls_async(1).await;
    }
    pages[3].assert_calls_async(0).await;
}

#[tokio::test]
async fn x_total_count_is_only_a_hint_for_a_listing_that_ends() {
    // The header undercounts and overcounts; the listing still ends on its short page.
    for total in ["3", "1000"] {
        let server = MockServer::start_async().await;
        let first = server
            .mock_async(move |when, then| {
                when.method(GET)
                    .path("/api/v3/users")
                    .query_param("skip", "0");
                then.status(200)
                    .header("X-Total-Count", total)
                    .json_body(people(0, 10));
            })
            .await;
        let last = server
            .mock_async(move |when, then| {
                when.method(GET)
                    .path("/api/v3/users")
                    .query_param("skip", "10");
                then.status(200)
                    .header("X-Total-Count", total)
                    .json_body(people(10, 2));
            })
            .await;
        let c = client(&server.base_url(), |c| c.with_page_size(10));
        assert_eq!(
            c.users().list().collect().await.unwrap().len(),
            12,
            "{total}"
        );
        first.assert_calls_async(1).await;
        last.assert_calls_async(1).await;
    }
}

/// The message of a paging-guard error (any other error fails the test).
fn paging_message(error: &oomnitza_client::Error) -> String {
    assert!(
        matches!(error.kind(), ErrorKind::Paging { .. }),
        "{error:?}"
    );
    error.to_string()
}
