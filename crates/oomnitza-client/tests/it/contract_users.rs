//! Contract tests for `/api/v3/users` and `/api/v3/users/meta` (httpmock, strict).

use futures::TryStreamExt;
use httpmock::prelude::*;
use oomnitza_client::{
    Auth, ClientConfig, ErrorKind, Filter, OomnitzaClient, User, api::WriteOptions,
};
use serde_json::json;

use crate::common::{CANARY, fast_retry, mock_client, unexpected};

fn people(range: std::ops::Range<usize>) -> serde_json::Value {
    json!(
        range
            .map(|i| json!({"user_id": format!("u{i}"), "username": format!("p{i}"), "suspended": false}))
            .collect::<Vec<_>>()
    )
}

#[tokio::test]
async fn list_pages_with_limit_and_skip_until_a_short_page() {
    let server = MockServer::start_async().await;
    let mut pages = Vec::new();
    for (skip, range) in [(0, 0..2), (2, 2..4), (4, 4..5)] {
        let body = people(range);
        pages.push(
            server
                .mock_async(move |when, then| {
                    when.method(GET)
                        .path("/api/v3/users")
                        .header("Authorization2", CANARY)
                        .header("accept", "application/json")
                        .query_param("limit", "2")
                        .query_param("skip", skip.to_string())
                        .query_param_missing("filter");
                    then.status(200).json_body(body);
                })
                .await,
        );
    }
    let stray = unexpected(&server).await;

    let client = mock_client(&server);
    let all: Vec<User> = client
        .users()
        .list()
        .page_size(2)
        .stream()
        .try_collect()
        .await
        .unwrap();

    assert_eq!(all.len(), 5);
    assert_eq!(all[4].user_id.as_deref(), Some("u4"));
    for p in &pages {
        p.assert_calls_async(1).await;
    }
    stray.assert_calls_async(0).await;
    assert_eq!(client.stats().calls, 3);
}

#[tokio::test]
async fn an_exact_multiple_of_the_page_ends_on_an_empty_page() {
    let server = MockServer::start_async().await;
    let full = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/users")
                .query_param("limit", "2")
                .query_param("skip", "0");
            then.status(200).json_body(people(0..2));
        })
        .await;
    let empty = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/users")
                .query_param("limit", "2")
                .query_param("skip", "2");
            then.status(200).json_body(json!([]));
        })
        .await;
    let stray = unexpected(&server).await;

    let all = mock_client(&server)
        .users()
        .list()
        .page_size(2)
        .collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    full.assert_calls_async(1).await;
    empty.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn filter_and_sort_are_sent_quoted() {
    let server = MockServer::start_async().await;
    let list = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/users")
                .query_param(
                    "filter",
                    "(quip_user_id eq 'O''Brien') and (suspended eq false)",
                )
                .query_param("sortby", "username asc")
                .query_param("limit", "1000")
                .query_param("skip", "0");
            then.status(200).json_body(people(0..1));
        })
        .await;
    let stray = unexpected(&server).await;

    let found = mock_client(&server)
        .users()
        .list()
        .filter(
            Filter::new()
                .eq("quip_user_id", "O'Brien")
                .eq("suspended", false),
        )
        .sort_by("username", true)
        .collect()
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    list.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn an_invalid_filter_field_sends_nothing() {
    let server = MockServer::start_async().await;
    let stray = unexpected(&server).await;
    let err = mock_client(&server)
        .users()
        .list()
        .filter(Filter::new().eq("email) or (1", "x"))
        .collect()
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Config { message } if message.starts_with("invalid filter")),
        "{err}"
    );
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn get_create_patch_delete_and_meta() {
    let server = MockServer::start_async().await;
    let get = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/users/jane")
                .header("Authorization2", CANARY);
            then.status(200)
                .json_body(json!({"user_id": "u1", "username": "jane", "quip_user_id": "Q1"}));
        })
        .await;
    let create = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/users")
                .header("Authorization2", CANARY)
                .header("content-type", "application/json; charset=utf-8")
                .header("Oomnitza-Ignore-Meta-Restriction", "1")
                .json_body(json!({"username": "jane", "email": "jane@acme.example", "quip_user_id": "Q1"}));
            then.status(200).json_body(
                json!({"user_id": "u1", "uid": 7, "username": "jane", "email": "jane@acme.example", "quip_user_id": "Q1"}),
            );
        })
        .await;
    let patch = server
        .mock_async(|when, then| {
            when.method(PATCH)
                .path("/api/v3/users/u1")
                .header_missing("Oomnitza-Ignore-Meta-Restriction")
                .json_body(json!({"suspended": true}));
            then.status(200)
                .json_body(json!({"user_id": "u1", "username": "jane", "suspended": true}));
        })
        .await;
    let delete = server
        .mock_async(|when, then| {
            when.method(DELETE).path("/api/v3/users/u1");
            then.status(200)
                .json_body(json!({"user_id": "u1", "username": "jane"}));
        })
        .await;
    let meta = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v3/users/meta");
            then.status(200).json_body(json!({
                "quip_user_id": {"uid": "9", "internal_id": "24DCF85294E411E38A52066B556BA4EE",
                    "label": "Quip User Id", "belongs_to": "users", "data_type": "string",
                    "editable": "0", "optional": "1", "unique": "1"},
                "email": {"internal_id": "EMAIL", "label": "Email", "unique": "0", "editable": "1"}
            }));
        })
        .await;
    let stray = unexpected(&server).await;

    let users = mock_client(&server).users();
    assert_eq!(
        users.get("jane").await.unwrap().user_id.as_deref(),
        Some("u1")
    );
    let body = json!({"username": "jane", "email": "jane@acme.example", "quip_user_id": "Q1"});
    let created = users
        .create(&body, WriteOptions::ignore_meta_restriction())
        .await
        .unwrap();
    assert_eq!(created.get("uid"), Some(json!(7)));
    let patched = users
        .patch("u1", &json!({"suspended": true}), WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(patched.suspended, Some(true));
    let removed = users.delete("u1").await.unwrap();
    assert_eq!(removed.unwrap().username.as_deref(), Some("jane"));
    let m = users.meta().await.unwrap();
    assert!(m.is_unique("quip_user_id") && m.is_read_only("quip_user_id"));
    assert_eq!(
        m.bulk_id("quip_user_id"),
        "24DCF85294E411E38A52066B556BA4EE"
    );
    assert_eq!(m.bulk_id("email"), "EMAIL");

    for mock in [&get, &create, &patch, &delete, &meta] {
        mock.assert_calls_async(1).await;
    }
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn conflicts_keep_the_parsed_error_body_and_are_not_retried() {
    let server = MockServer::start_async().await;
    let create = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v3/users");
            then.status(409)
                .json_body(json!({"errors": {"quip_user_id": ["'Q1' already exists"]}}));
        })
        .await;
    let stray = unexpected(&server).await;

    let err = mock_client(&server)
        .users()
        .create(&json!({"quip_user_id": "Q1"}), WriteOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_conflict());
    assert_eq!(err.api_body().unwrap().fields(), vec!["quip_user_id"]);
    assert_eq!(
        err.to_string(),
        "Oomnitza POST /api/v3/users: answered HTTP 409 Conflict: quip_user_id: 'Q1' already exists"
    );
    create.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn decode_errors_name_the_field_path() {
    let server = MockServer::start_async().await;
    let list = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v3/users");
            then.status(200)
                .json_body(json!([{"user_id": "u1"}, {"user_id": "u2", "suspended": "maybe"}]));
        })
        .await;
    let err = mock_client(&server)
        .users()
        .list()
        .collect()
        .await
        .unwrap_err();
    match err.kind() {
        ErrorKind::Decode { path, .. } => assert_eq!(path, "[1].suspended"),
        other => panic!("decode error expected, got {other:?}"),
    }
    assert!(err.to_string().contains("GET /api/v3/users"), "{err}");
    list.assert_calls_async(1).await;
}

#[tokio::test]
async fn basic_auth_sends_authorization_and_not_authorization2() {
    let server = MockServer::start_async().await;
    let meta = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/users/meta")
                // base64("admin:" + CANARY)
                .header(
                    "authorization",
                    format!("Basic {}", b64(&format!("admin:{CANARY}"))),
                )
                .header_missing("Authorization2");
            then.status(200).json_body(json!({}));
        })
        .await;
    let stray = unexpected(&server).await;
    let client = OomnitzaClient::new(
        ClientConfig::new(&server.base_url(), Auth::basic("admin", CANARY))
            .unwrap()
            .with_retry(fast_retry()),
    )
    .unwrap();
    client.users().meta().await.unwrap();
    meta.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

/// Minimal base64 (standard alphabet, padded) so the test states the expected header itself.
fn b64(input: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = input.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
