//! Hostile answers end in errors, never in unbounded memory or endless paging: bodies over
//! the size limit (declared; connector-http tests the endless streamed body), SCIM and
//! Admin listings that repeat users, overshoot their own totals or never end, Events
//! cursors that hand back a cursor again.

use futures::TryStreamExt;
use httpmock::prelude::*;
use quip_client::{ErrorKind, OpenCursor, QuipClient, QuipError};
use serde_json::{Value, json};

use crate::common::{CANARY, config};

/// SCIM users with ids `U{first}`..`U{first + n - 1}`.
fn scim_page(first: u64, n: u64, total: u64) -> Value {
    json!({
        "totalResults": total,
        "itemsPerPage": n,
        "startIndex": first,
        "Resources": (first..first + n).map(|i| json!({"id": format!("U{i}")})).collect::<Vec<_>>(),
    })
}

fn assert_paging(error: &QuipError, needles: &[&str]) {
    assert!(
        matches!(error.kind(), ErrorKind::Paging { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    for needle in needles {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }
    assert!(message.contains("incomplete"), "{message}");
    assert!(!message.contains(CANARY), "{message}");
}

fn assert_too_large(error: &QuipError, limit: u64, path: &str) {
    assert!(
        matches!(error.kind(), ErrorKind::TooLarge { limit: l, .. } if *l == limit),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.starts_with("Quip GET "), "{message}");
    assert!(message.contains(path), "{message}");
    assert!(
        message.contains(&format!("limit of {limit} bytes")),
        "{message}"
    );
    assert!(message.contains("max_response_bytes"), "{message}");
}

#[tokio::test]
async fn a_declared_body_over_the_limit_fails_once_without_retries() {
    let server = MockServer::start_async().await;
    let big = server
        .mock_async(|when, then| {
            when.method(GET).path("/1/users/current");
            then.status(200)
                .json_body(json!({"id": "U1", "name": "x".repeat(4000)}));
        })
        .await;
    let client = QuipClient::new(config(&server.base_url()).max_response_bytes(1000)).unwrap();
    let error = client.users().current().await.unwrap_err();
    assert_too_large(&error, 1000, "/1/users/current");
    big.assert_calls_async(1).await;

    let client = QuipClient::new(config(&server.base_url()).max_response_bytes(1 << 20)).unwrap();
    assert_eq!(client.users().current().await.unwrap().id, "U1");
}

#[tokio::test]
async fn scim_pages_growing_past_total_results_stop_one_page_later() {
    // A server whose totalResults grows with every page never lets the listing end by
    // itself: the smallest total it announced bounds the listing.
    let server = MockServer::start_async().await;
    let mut pages = Vec::new();
    for n in 0..4u64 {
        let first = 1 + n * 10;
        pages.push(
            server
                .mock_async(move |when, then| {
                    when.method(GET)
                        .path("/2/Users")
                        .query_param("startIndex", first.to_string());
                    then.status(200)
                        .json_body(scim_page(first, 10, 15 + n * 10));
                })
                .await,
        );
    }
    let client = QuipClient::new(config(&server.base_url())).unwrap();
    let error = client
        .scim()
        .list_users()
        .page_size(10)
        .pages()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_paging(&error, &["/2/Users", "startIndex=21", "totalResults (15)"]);
    for page in &pages[..3] {
        page.assert_calls_async(1).await;
    }
    pages[3].assert_calls_async(0).await;
}

#[tokio::test]
async fn scim_server_ignoring_start_index_is_stopped_at_the_first_repeat() {
    let server = MockServer::start_async().await;
    let same = server
        .mock_async(|when, then| {
            when.method(GET).path("/2/Users");
            then.status(200).json_body(scim_page(1, 10, 2500));
        })
        .await;
    let client = QuipClient::new(config(&server.base_url())).unwrap();
    let error = client
        .scim()
        .list_users()
        .page_size(10)
        .stream()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_paging(&error, &["startIndex=11", "repeats 10 user(s)"]);
    same.assert_calls_async(2).await;
}

#[tokio::test]
async fn scim_page_repeating_one_user_is_an_error_not_a_silent_dedupe() {
    // Users moving while they are paged (or a server shifting its window) repeat a user:
    // the listing is not trusted to be complete any more.
    let server = MockServer::start_async().await;
    let first = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/2/Users")
                .query_param("startIndex", "1");
            then.status(200).json_body(scim_page(1, 2, 4));
        })
        .await;
    let second = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/2/Users")
                .query_param("startIndex", "3");
            then.status(200).json_body(scim_page(2, 2, 4));
        })
        .await;
    let client = QuipClient::new(config(&server.base_url())).unwrap();
    let error = client
        .scim()
        .list_users()
        .page_size(2)
        .stream()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_paging(&error, &["startIndex=3", "repeats 1 user(s)"]);
    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
}

#[tokio::test]
async fn scim_listing_stops_at_max_pages() {
    let server = MockServer::start_async().await;
    let mut pages = Vec::new();
    for n in 0..3u64 {
        let first = 1 + n * 10;
        pages.push(
            server
                .mock_async(move |when, then| {
                    when.method(GET)
                        .path("/2/Users")
                        .query_param("startIndex", first.to_string());
                    then.status(200).json_body(scim_page(first, 10, 1_000_000));
                })
                .await,
        );
    }
    let client = QuipClient::new(config(&server.base_url()).max_pages(2)).unwrap();
    let error = client
        .scim()
        .list_users()
        .page_size(10)
        .pages()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_paging(&error, &["limit of 2 pages", "max_pages"]);
    pages[0].assert_calls_async(1).await;
    pages[1].assert_calls_async(1).await;
    pages[2].assert_calls_async(0).await;
}

fn admin_page(page: u64, ids: std::ops::Range<u64>, next: Option<u64>, total: u64) -> Value {
    json!({
        "users": ids.map(|i| json!({"id": format!("U{i}")})).collect::<Vec<_>>(),
        "page": page, "count": 10, "total_count": total, "next_page": next,
    })
}

#[tokio::test]
async fn admin_listing_with_a_next_page_that_does_not_move_is_an_error() {
    let server = MockServer::start_async().await;
    let first = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/1/admin/users/list")
                .body_includes("page=0&");
            then.status(200)
                .json_body(admin_page(0, 0..10, Some(1), 30));
        })
        .await;
    let second = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/1/admin/users/list")
                .body_includes("page=1&");
            then.status(200)
                .json_body(admin_page(1, 10..20, Some(1), 30));
        })
        .await;
    let client = QuipClient::new(config(&server.base_url())).unwrap();
    let error = client
        .admin()
        .list_users("C1")
        .page_size(10)
        .pages()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_paging(
        &error,
        &["POST", "/1/admin/users/list", "page 1 names next_page 1"],
    );
    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
}

#[tokio::test]
async fn admin_listing_repeating_users_or_past_total_count_is_an_error() {
    // Page 1 serves page 0's users again.
    let server = MockServer::start_async().await;
    let pages = server
        .mock_async(|when, then| {
            when.method(POST).path("/1/admin/users/list");
            then.status(200)
                .json_body(admin_page(0, 0..10, Some(1), 2500));
        })
        .await;
    let client = QuipClient::new(config(&server.base_url())).unwrap();
    let error = client
        .admin()
        .list_users("C1")
        .page_size(10)
        .stream()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    // Page 0 names next_page 1; page 1 repeats page 0's users.
    assert_paging(&error, &["page 1 repeats 10 user(s)"]);
    pages.assert_calls_async(2).await;

    // New users on every page, total_count 15: stopped at the page past 15 + 10.
    let server = MockServer::start_async().await;
    let mut mocks = Vec::new();
    for n in 0..4u64 {
        mocks.push(
            server
                .mock_async(move |when, then| {
                    when.method(POST)
                        .path("/1/admin/users/list")
                        .body_includes(format!("page={n}&"));
                    then.status(200)
                        .json_body(admin_page(n, n * 10..n * 10 + 10, Some(n + 1), 15));
                })
                .await,
        );
    }
    let client = QuipClient::new(config(&server.base_url())).unwrap();
    let error = client
        .admin()
        .list_users("C1")
        .page_size(10)
        .pages()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_paging(
        &error,
        &["30 users received in 3 page(s)", "total_count (15)"],
    );
    for m in &mocks[..3] {
        m.assert_calls_async(1).await;
    }
    mocks[3].assert_calls_async(0).await;
}

#[tokio::test]
async fn events_cursor_handed_back_again_or_past_max_pages_is_an_error() {
    let server = MockServer::start_async().await;
    let loop_page = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/admin/events/1/events/get")
                .query_param("cursor", "c2");
            then.status(200).json_body(json!({
                "events": [{"event": "login", "user_id": "U1", "time_usec": 1}],
                "next_cursor": "c1", "more_to_read": true,
            }));
        })
        .await;
    let first = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/admin/events/1/events/get")
                .query_param("cursor", "c1");
            then.status(200).json_body(json!({
                "events": [{"event": "login", "user_id": "U1", "time_usec": 1}],
                "next_cursor": "c2", "more_to_read": true,
            }));
        })
        .await;
    let client = QuipClient::new(config(&server.base_url())).unwrap();
    let cursor = OpenCursor {
        cursor: "c1".into(),
        realtime: false,
    };
    let error = client
        .events()
        .pages("C1", cursor.clone())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_paging(
        &error,
        &["/1/admin/events/1/events/get", "cursor already read"],
    );
    first.assert_calls_async(1).await;
    loop_page.assert_calls_async(1).await;

    // With room for one page only, the second is never asked for.
    let client = QuipClient::new(config(&server.base_url()).max_pages(1)).unwrap();
    let error = client
        .events()
        .pages("C1", cursor)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_paging(&error, &["limit of 1 pages per cursor"]);
    first.assert_calls_async(2).await;
    loop_page.assert_calls_async(1).await;
}
