//! A redirect is never followed: the token (sent as `Authorization2`, which reqwest would
//! keep on a cross-host hop) and the request body never reach the host it points to.

use httpmock::prelude::*;
use oomnitza_client::ErrorKind;
use oomnitza_client::api::WriteOptions;
use serde_json::json;

use crate::common::{CANARY, mock_client};

/// A second host that must see nothing, and the first answering `status` to everything.
async fn redirecting(status: u16) -> (MockServer, MockServer) {
    let elsewhere = MockServer::start_async().await;
    let base = MockServer::start_async().await;
    let location = format!("{}/api/v3/users?secret=x", elsewhere.base_url());
    base.mock_async(move |_when, then| {
        then.status(status).header("Location", &location);
    })
    .await;
    (base, elsewhere)
}

async fn everything(server: &MockServer) -> httpmock::Mock<'_> {
    server
        .mock_async(|_when, then| {
            then.status(200).json_body(json!([]));
        })
        .await
}

fn assert_redirect_error(error: &oomnitza_client::Error, status: u16, elsewhere: &MockServer) {
    match error.kind() {
        ErrorKind::Redirect {
            status: got,
            location,
        } => {
            assert_eq!(got.as_u16(), status);
            assert_eq!(location, &format!("{}/api/v3/users", elsewhere.base_url()));
        }
        other => panic!("expected a redirect error, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("redirect"), "{message}");
    assert!(message.contains(&elsewhere.base_url()), "{message}");
    assert!(!message.contains("secret=x"), "{message}");
    assert!(!message.contains(CANARY), "{message}");
}

#[tokio::test]
async fn get_and_post_redirects_fail_and_the_other_host_sees_nothing() {
    for status in [301, 302, 303, 307, 308] {
        let (base, elsewhere) = redirecting(status).await;
        let other = everything(&elsewhere).await;
        let client = mock_client(&base);

        let error = client.users().meta().await.unwrap_err();
        assert_redirect_error(&error, status, &elsewhere);

        let body = json!({"username": "jane@acme.com", "email": "jane@acme.com"});
        let error = client
            .users()
            .create(&body, WriteOptions::default())
            .await
            .unwrap_err();
        assert_redirect_error(&error, status, &elsewhere);

        other.assert_calls_async(0).await;
    }
}

#[tokio::test]
async fn a_redirect_is_not_retried() {
    let elsewhere = MockServer::start_async().await;
    let base = MockServer::start_async().await;
    let location = format!("{}/api/v3/users/meta", elsewhere.base_url());
    let redirect = base
        .mock_async(move |when, then| {
            when.method(GET).path("/api/v3/users/meta");
            then.status(307).header("Location", &location);
        })
        .await;
    let error = mock_client(&base).users().meta().await.unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::Redirect { .. }),
        "{error}"
    );
    redirect.assert_calls_async(1).await;
}
