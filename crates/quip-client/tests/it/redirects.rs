//! A redirect is never followed, on GET or POST: the bearer token and the form body never
//! reach the host the `Location` names, and the error says where it pointed.

use httpmock::MockServer;
use quip_client::{ErrorKind, QuipClient, QuipError, RefreshRequest};
use secrecy::SecretString;
use serde_json::json;

use crate::common::{CANARY, config};

/// The first server answers `status` to everything, pointing at the second one.
async fn redirecting(status: u16) -> (MockServer, MockServer) {
    let elsewhere = MockServer::start_async().await;
    let base = MockServer::start_async().await;
    let location = format!("{}/1/users/current?token=x", elsewhere.base_url());
    base.mock_async(move |_when, then| {
        then.status(status).header("Location", &location);
    })
    .await;
    (base, elsewhere)
}

fn assert_redirect(error: &QuipError, status: u16, elsewhere: &MockServer) {
    match error.kind() {
        ErrorKind::Redirect {
            status: got,
            location,
            ..
        } => {
            assert_eq!(*got, status);
            assert!(
                location.starts_with(&format!("{}/1/users/current", elsewhere.base_url())),
                "{location}"
            );
        }
        other => panic!("expected a redirect error, got {other:?}"),
    }
    assert_eq!(error.status().map(|s| s.as_u16()), Some(status));
    let message = error.to_string();
    assert!(message.contains("redirect"), "{message}");
    assert!(message.contains(&elsewhere.base_url()), "{message}");
    assert!(!message.contains(CANARY), "{message}");
    assert!(!message.contains("token=x"), "{message}");
}

#[tokio::test]
async fn get_and_post_redirects_fail_and_the_other_host_sees_nothing() {
    for status in [301, 302, 303, 307, 308] {
        let (base, elsewhere) = redirecting(status).await;
        let other = elsewhere
            .mock_async(|_when, then| {
                then.status(200).json_body(json!({}));
            })
            .await;
        let client = QuipClient::new(config(&base.base_url())).unwrap();

        let error = client.users().current().await.unwrap_err();
        assert_redirect(&error, status, &elsewhere);

        let error = client
            .oauth()
            .refresh(&RefreshRequest {
                client_id: "my-client".into(),
                client_secret: SecretString::from("client-secret-CANARY"),
                refresh_token: SecretString::from("refresh-CANARY"),
            })
            .await
            .unwrap_err();
        assert_redirect(&error, status, &elsewhere);
        assert!(!error.to_string().contains("CANARY"), "{error}");

        other.assert_calls_async(0).await;
    }
}
