//! Injected faults against the sandbox: transient failures are absorbed, creates are not
//! duplicated, garbage fails the read cleanly.

use api_sandbox::oomnitza::OomnitzaConfig;
use api_sandbox::{Fault, FaultRule};
use http::Method;
use oomnitza_client::{OomnitzaTarget, TargetConfig};
use sync_engine::{ErrorKind, NoProgress, Target};

use crate::common::{desired_person, sandbox, sync, users_spec};

#[tokio::test]
async fn a_read_survives_transient_5xx_and_throttling_mid_pagination() {
    let (emu, client) = sandbox(OomnitzaConfig::default()).await;
    let target = OomnitzaTarget::new(
        client,
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    let spec = users_spec();
    sync(&target, &spec, (0..2500).map(desired_person).collect(), &[]).await;

    // The second page fails twice (503, then 429), then succeeds.
    emu.faults().inject(
        FaultRule::new(
            Method::GET,
            "/api/v3/users",
            Fault::status(503, r#"{"errors":["busy"]}"#),
        )
        .after(1)
        .times(1),
    );
    emu.faults().inject(
        FaultRule::new(
            Method::GET,
            "/api/v3/users",
            Fault::Status {
                status: 429,
                body: r#"{"errors":["slow down"]}"#.to_owned(),
                headers: vec![("Retry-After".to_owned(), "0".to_owned())],
            },
        )
        .after(2)
        .times(1),
    );
    let before = target.stats();
    let snap = target.read(&spec, &NoProgress).await.unwrap();
    assert_eq!(snap.records.len(), 2500);
    let after = target.stats();
    assert_eq!(after.retries - before.retries, 2);
    assert_eq!(after.throttled - before.throttled, 1);
    // 3 pages + 2 failed attempts.
    assert_eq!(after.calls - before.calls, 5);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_malformed_page_fails_the_read_with_a_decode_error() {
    let (emu, client) = sandbox(OomnitzaConfig::default()).await;
    let target = OomnitzaTarget::new(
        client,
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    let spec = users_spec();
    sync(&target, &spec, (0..3).map(desired_person).collect(), &[]).await;
    emu.faults()
        .inject(FaultRule::new(Method::GET, "/api/v3/users", Fault::MalformedBody).times(1));
    let err = target.read(&spec, &NoProgress).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Decode);
    assert!(err.message.contains("GET /api/v3/users"), "{}", err.message);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_create_failing_with_a_5xx_is_looked_up_then_sent_once_more() {
    let (emu, client) = sandbox(OomnitzaConfig::default()).await;
    let target = OomnitzaTarget::new(
        client,
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    emu.faults().inject(
        FaultRule::new(
            Method::POST,
            "/api/v3/users",
            Fault::status(500, r#"{"errors":["oops"]}"#),
        )
        .times(1),
    );
    let result = sync(
        &target,
        &users_spec(),
        (0..5).map(desired_person).collect(),
        &[],
    )
    .await;
    assert_eq!((result.created, result.failed), (5, 0));
    assert_eq!(emu.state().people_count(), 5, "no duplicate");
    // 5 creates + the one that failed; one lookup by sync key for the failed one.
    assert_eq!(emu.counters().count("POST", "/api/v3/users"), 6);
    assert_eq!(emu.counters().with_status(500), 1);
    // The snapshot read, then the lookup.
    assert_eq!(emu.counters().count("GET", "/api/v3/users"), 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_bad_token_is_an_auth_error_before_any_write() {
    let (emu, _) = sandbox(OomnitzaConfig::default()).await;
    let client = oomnitza_client::OomnitzaClient::new(
        oomnitza_client::ClientConfig::new(
            &emu.base_url(),
            oomnitza_client::Auth::token(crate::common::CANARY),
        )
        .unwrap(),
    )
    .unwrap();
    let target = OomnitzaTarget::new(
        client,
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    let err = target.validate(&users_spec()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert!(err.message.contains("401"), "{}", err.message);
    assert!(!err.message.contains(crate::common::CANARY));
    assert_eq!(emu.counters().writes(), 0);
    emu.shutdown().await;
}
