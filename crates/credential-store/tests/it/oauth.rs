use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use credential_store::{Credential, CredentialKind, ErrorKind, OAuth2};
use httpmock::Method::POST;
use httpmock::MockServer;
use reqwest::header::AUTHORIZATION;
use secrecy::SecretString;
use serde_json::json;

use crate::{CANARY, assert_no_canary};

const TOKEN_PATH: &str = "/1/oauth/access_token";

fn credential(server: &MockServer, access: Option<(&str, TimeDelta)>) -> Credential {
    let mut oauth = OAuth2::new(
        "quip-client",
        SecretString::from("client-secret"),
        SecretString::from(CANARY),
        server.url(TOKEN_PATH),
    )
    .unwrap();
    if let Some((token, valid_for)) = access {
        oauth = oauth.with_access_token(
            SecretString::from(token.to_owned()),
            Some(Utc::now() + valid_for),
        );
    }
    Credential::new("quip", "it-ops", oauth).unwrap()
}

fn bearer(request: &reqwest::Request) -> &str {
    request.headers()[AUTHORIZATION].to_str().unwrap()
}

#[tokio::test]
async fn expired_token_is_refreshed_with_a_form_encoded_refresh_grant() {
    let server = MockServer::start_async().await;
    let refresh = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(TOKEN_PATH)
                .header("content-type", "application/x-www-form-urlencoded")
                .form_urlencoded_tuple("grant_type", "refresh_token")
                .form_urlencoded_tuple("refresh_token", CANARY)
                .form_urlencoded_tuple("client_id", "quip-client")
                .form_urlencoded_tuple("client_secret", "client-secret");
            then.status(200).json_body(json!({
                "access_token": "fresh-access",
                "refresh_token": "rotated-refresh",
                "expires_in": 2_592_000,
                "token_type": "Bearer"
            }));
        })
        .await;
    let cred = credential(&server, Some(("stale-access", TimeDelta::hours(-1))));
    let http = reqwest::Client::new();
    let req = cred
        .authorize(&http, http.get(server.url("/1/users/current")))
        .await
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(bearer(&req), "Bearer fresh-access");
    assert!(req.headers()[AUTHORIZATION].is_sensitive());
    refresh.assert_calls_async(1).await;

    let CredentialKind::OAuth2(oauth) = cred.kind() else {
        panic!("oauth2 credential")
    };
    let expires = oauth
        .access_token_expires_at()
        .expect("expiry from expires_in");
    assert!(expires > Utc::now() + TimeDelta::days(29));

    // Fresh now: no second refresh.
    let req = cred
        .authorize(&http, http.get(server.url("/1/users/current")))
        .await
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(bearer(&req), "Bearer fresh-access");
    refresh.assert_calls_async(1).await;
}

#[tokio::test]
async fn rotated_refresh_token_is_used_for_the_next_refresh() {
    let server = MockServer::start_async().await;
    let first = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(TOKEN_PATH)
                .form_urlencoded_tuple("refresh_token", CANARY);
            then.status(200)
                .json_body(json!({"access_token": "a1", "refresh_token": "r2", "expires_in": 30}));
        })
        .await;
    let second = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(TOKEN_PATH)
                .form_urlencoded_tuple("refresh_token", "r2");
            then.status(200)
                .json_body(json!({"access_token": "a2", "expires_in": "3600"}));
        })
        .await;
    let cred = credential(&server, None);
    let http = reqwest::Client::new();
    // 30 s of validity is inside the one-minute margin, so each call refreshes.
    let r1 = cred
        .authorize(&http, http.get(server.url("/x")))
        .await
        .unwrap();
    assert_eq!(bearer(&r1.build().unwrap()), "Bearer a1");
    let r2 = cred
        .authorize(&http, http.get(server.url("/x")))
        .await
        .unwrap();
    assert_eq!(bearer(&r2.build().unwrap()), "Bearer a2");
    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
}

#[tokio::test]
async fn fresh_token_is_used_without_a_request() {
    let server = MockServer::start_async().await;
    let refresh = server
        .mock_async(|when, then| {
            when.method(POST).path(TOKEN_PATH);
            then.status(500);
        })
        .await;
    let cred = credential(&server, Some(("current", TimeDelta::hours(1))));
    let http = reqwest::Client::new();
    let req = cred
        .authorize(&http, http.get(server.url("/x")))
        .await
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(bearer(&req), "Bearer current");
    refresh.assert_calls_async(0).await;
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let server = MockServer::start_async().await;
    let refresh = server
        .mock_async(|when, then| {
            when.method(POST).path(TOKEN_PATH);
            then.status(200)
                .json_body(json!({"access_token": "shared", "expires_in": 3600}));
        })
        .await;
    let cred = Arc::new(credential(&server, None));
    let http = reqwest::Client::new();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (cred, http, url) = (Arc::clone(&cred), http.clone(), server.url("/x"));
            tokio::spawn(async move {
                let req = cred.authorize(&http, http.get(url)).await.unwrap();
                bearer(&req.build().unwrap()).to_owned()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), "Bearer shared");
    }
    refresh.assert_calls_async(1).await;
}

#[tokio::test]
async fn rejected_refresh_reports_status_and_oauth_error_but_no_secret() {
    let server = MockServer::start_async().await;
    let refresh = server
        .mock_async(|when, then| {
            when.method(POST).path(TOKEN_PATH);
            then.status(401).json_body(json!({
                "error": "invalid_grant",
                "error_description": "refresh token revoked",
                "refresh_token": CANARY
            }));
        })
        .await;
    let cred = credential(&server, None);
    let http = reqwest::Client::new();
    let err = cred
        .authorize(&http, http.get(server.url("/x")))
        .await
        .unwrap_err();
    match err.kind() {
        ErrorKind::RefreshRejected {
            name,
            status,
            error,
        } => {
            assert_eq!(name, "quip");
            assert_eq!(*status, 401);
            assert_eq!(
                error.as_deref(),
                Some("invalid_grant: refresh token revoked")
            );
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert_no_canary("refresh error", &format!("{err} {err:?}"));
    refresh.assert_calls_async(1).await;
}

#[tokio::test]
async fn undecodable_token_response_fails_without_quoting_it() {
    let server = MockServer::start_async().await;
    let refresh = server
        .mock_async(|when, then| {
            when.method(POST).path(TOKEN_PATH);
            then.status(200)
                .json_body(json!({"access_token": 12, "note": CANARY}));
        })
        .await;
    let cred = credential(&server, None);
    let http = reqwest::Client::new();
    let err = cred
        .authorize(&http, http.get(server.url("/x")))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::RefreshFailed { .. }),
        "{err:?}"
    );
    let source = std::error::Error::source(&err)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(source.contains("line 1"), "{source}");
    assert_no_canary("refresh error", &format!("{err} {err:?} {source}"));
    refresh.assert_calls_async(1).await;
}

#[tokio::test]
async fn unreachable_token_endpoint_is_a_refresh_failure() {
    // Bind and drop a listener to get a loopback port nobody serves.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let oauth = OAuth2::new(
        "c",
        SecretString::from("cs"),
        SecretString::from(CANARY),
        format!("http://127.0.0.1:{port}{TOKEN_PATH}"),
    )
    .unwrap();
    let cred = Credential::new("quip", "it-ops", oauth).unwrap();
    let http = reqwest::Client::new();
    let err = cred
        .authorize(&http, http.get("http://127.0.0.1:9/x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::RefreshFailed { .. }),
        "{err:?}"
    );
    assert_no_canary("refresh error", &format!("{err} {err:?}"));
}
