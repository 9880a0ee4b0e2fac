//! Credentials never reach `Debug`, error messages or reports, even when a server echoes
//! them.

use scim_client::{Auth, ClientConfig, FailureKind, ScimErrorExt};

use crate::common::{Canned, Mock, client_with, config};

const TOKEN: &str = "CANARY-scim-token-5e1f";
const PASSWORD: &str = "CANARY-scim-password-a9c2";

#[tokio::test]
async fn echoed_tokens_are_scrubbed_from_errors() {
    let mock = Mock::start(&[
        (
            "/scim/v2/Users",
            Canned::scim(
                401,
                format!(r#"{{"status":"401","detail":"Bearer {TOKEN} is not valid"}}"#),
            ),
        ),
        (
            "/scim/v2/Groups",
            Canned::scim(503, format!("upstream said: {TOKEN}")),
        ),
        (
            "/scim/v2/Users/decode",
            Canned::scim(200, format!(r#"{{"id":"x","active":"{TOKEN}"}}"#)),
        ),
    ])
    .await;
    let (client, _) = client_with(config(&mock.base, TOKEN));
    let debug = format!("{client:?}");
    assert!(!debug.contains("CANARY"), "{debug}");

    let e = client.users().list().all().await.unwrap_err();
    assert_eq!(e.failure(), FailureKind::Auth);
    let detail = e.scim_error().unwrap().detail.clone().unwrap();
    assert_eq!(detail, "Bearer [redacted] is not valid");
    let e2 = client.groups().list().all().await.unwrap_err();
    assert_eq!(e2.failure(), FailureKind::Transient);
    let e3 = client.users().get("decode").send().await.unwrap_err();
    assert_eq!(e3.failure(), FailureKind::Decode);
    for e in [e, e2, e3] {
        for shown in [e.to_string(), format!("{e:?}"), e.report()] {
            assert!(!shown.contains("CANARY"), "{shown}");
        }
    }
    // The token went out only in the Authorization header.
    for (path, headers) in mock.received.lock().unwrap().iter() {
        assert!(!path.contains("CANARY"));
        assert_eq!(headers["authorization"], format!("Bearer {TOKEN}"));
    }
}

#[tokio::test]
async fn basic_passwords_are_scrubbed_and_never_shown() {
    let mock = Mock::start(&[(
        "/scim/v2/Users",
        Canned::scim(403, format!(r#"{{"detail":"{PASSWORD} lacks the scope"}}"#)),
    )])
    .await;
    let mut cfg = config(&mock.base, "unused");
    cfg.auth = Auth::basic("ops", PASSWORD);
    let shown = format!("{cfg:?} {:?}", cfg.auth);
    assert!(
        !shown.contains("CANARY") && shown.contains("ops"),
        "{shown}"
    );
    let (client, _) = client_with(cfg);
    let e = client.users().list().all().await.unwrap_err();
    assert_eq!(e.failure(), FailureKind::Auth);
    for shown in [e.to_string(), format!("{e:?}"), e.report()] {
        assert!(!shown.contains("CANARY"), "{shown}");
    }
}

#[test]
fn urls_carrying_secrets_are_refused_without_echoing_them() {
    for base in [
        format!("https://ops:{PASSWORD}@scim.example/v2"),
        format!("https://scim.example/v2?access_token={TOKEN}"),
    ] {
        let cfg = ClientConfig::new(url::Url::parse(&base).unwrap(), Auth::bearer("t"));
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("CANARY"), "{shown}");
        let e = scim_client::ScimClient::new(cfg).unwrap_err();
        assert_eq!(e.failure(), FailureKind::Config);
        assert!(!e.report().contains("CANARY"), "{}", e.report());
    }
}
