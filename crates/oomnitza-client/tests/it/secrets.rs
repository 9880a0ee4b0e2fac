//! The token never reaches `Debug`, `Display`, errors, outcomes or logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use httpmock::prelude::*;
use oomnitza_client::{Auth, ClientConfig, OomnitzaTarget, TargetConfig};
use serde_json::json;
use sync_engine::{Change, Fields, Operation, OutcomeResult, Target};

use crate::common::{CANARY, mock_client, users_spec};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn configs_clients_and_auth_do_not_show_the_token() {
    let config = ClientConfig::new("https://acme.oomnitza.com", Auth::token(CANARY)).unwrap();
    assert!(!format!("{config:?}").contains(CANARY));
    let client = oomnitza_client::OomnitzaClient::new(config).unwrap();
    assert!(!format!("{client:?}").contains(CANARY));
    let target = OomnitzaTarget::new(
        client,
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    assert!(!format!("{target:?}").contains(CANARY));
    let basic = Auth::basic("admin", CANARY);
    assert!(!format!("{basic:?}").contains(CANARY));
}

#[tokio::test]
async fn errors_outcomes_and_logs_never_contain_the_token() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start_async().await;
    // A server (or proxy) that echoes the credential back in its error body.
    let meta = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v3/users/meta");
            then.status(401).json_body(
                json!({"errors": [format!("Authentication failure for token {CANARY}")]}),
            );
        })
        .await;
    let patch = server
        .mock_async(|when, then| {
            when.method(PATCH).path("/api/v3/users/u1");
            then.status(400).json_body(
                json!({"errors": {"suspended": [format!("bad value; header was {CANARY}")]}}),
            );
        })
        .await;
    let flaky = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v3/saas");
            then.status(503).body(format!("upstream rejected {CANARY}"));
        })
        .await;

    let client = mock_client(&server);
    let err = client.users().meta().await.unwrap_err();
    for text in [err.to_string(), format!("{err:?}"), err.report()] {
        assert!(!text.contains(CANARY), "{text}");
    }
    assert!(
        err.to_string()
            .contains("Authentication failure for token [REDACTED]")
    );
    assert_eq!(err.engine_kind(), sync_engine::ErrorKind::Auth);

    let err = client.saas().find_by_name("Quip").await.unwrap_err();
    assert!(!format!("{err:?} {err}").contains(CANARY));

    let target = OomnitzaTarget::new(
        client.clone(),
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    let cerr = target.validate(&users_spec()).await.unwrap_err();
    assert!(!format!("{cerr:?} {cerr}").contains(CANARY), "{cerr}");

    // Apply: metadata fails (401), so every record fails with a clean message.
    let outcomes = target
        .apply(
            &users_spec(),
            vec![Change {
                key: "Q1".into(),
                op: Operation::Update {
                    id: "u1".into(),
                    set: Fields::new().with("suspended", true),
                    adopt: false,
                },
            }],
        )
        .await;
    match &outcomes[0].result {
        OutcomeResult::Failed { message } => assert!(!message.contains(CANARY), "{message}"),
        OutcomeResult::Done { .. } => panic!("must fail"),
    }
    let err = client
        .users()
        .patch(
            "u1",
            &json!({"suspended": "x"}),
            oomnitza_client::api::WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(!format!("{err:?} {err}").contains(CANARY));

    let captured = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(!captured.is_empty(), "logs were captured");
    assert!(!captured.contains(CANARY), "token leaked into logs");
    assert!(meta.calls_async().await >= 2);
    patch.assert_calls_async(1).await;
    assert!(flaky.calls_async().await >= 1);
}
