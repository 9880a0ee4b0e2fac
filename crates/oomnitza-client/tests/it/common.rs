//! Shared helpers: clients for httpmock servers and for the sandbox, strict catch-all
//! mocks, and a small sync driver built on the engine's planner.

use std::time::Duration;

use api_sandbox::oomnitza::{OomnitzaConfig, OomnitzaEmulator};
use httpmock::{Mock, MockServer};
use oomnitza_client::{Auth, ClientConfig, OomnitzaClient, OomnitzaTarget, RetryPolicy, WaitCaps};
use sync_engine::{
    ApplyOptions, ApplyResult, Collection, CollectionSpec, DesiredRecord, Fields, NoProgress,
    PlanContext, Target, TargetSnapshot, apply_plan, plan_collection,
};

/// A recognisable token: it must never show up in errors, `Debug` output or logs.
pub const CANARY: &str = "CANARY-oomnitza-7f3a9c";

/// Retries fast enough for tests (waits of a few milliseconds; never asserted).
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(3)
        .with_delays(Duration::from_millis(1), Duration::from_millis(5))
        .with_wait_caps(WaitCaps::request(Duration::from_secs(5)))
}

/// A client for an httpmock server, authenticating with the canary token.
pub fn mock_client(server: &MockServer) -> OomnitzaClient {
    let config = ClientConfig::new(&server.base_url(), Auth::token(CANARY))
        .expect("valid URL")
        .with_retry(fast_retry())
        .with_timeout(Duration::from_secs(5));
    OomnitzaClient::new(config).expect("client")
}

/// A catch-all mock registered after the expected ones: httpmock matches mocks in the
/// order they were created, so this one only answers requests nobody expected. Assert it
/// saw zero calls at the end of the test.
pub async fn unexpected(server: &MockServer) -> Mock<'_> {
    server
        .mock_async(|_when, then| {
            then.status(599)
                .json_body(serde_json::json!({"errors": ["unexpected request"]}));
        })
        .await
}

/// Starts the sandbox emulator and a client for it.
pub async fn sandbox(config: OomnitzaConfig) -> (OomnitzaEmulator, OomnitzaClient) {
    let emu = OomnitzaEmulator::start(config).await.expect("emulator");
    let client = OomnitzaClient::new(
        ClientConfig::new(&emu.base_url(), Auth::token(emu.token()))
            .expect("valid URL")
            .with_retry(fast_retry())
            .with_concurrency(8),
    )
    .expect("client");
    (emu, client)
}

/// The users collection as a typical mapping writes it.
pub fn users_spec() -> CollectionSpec {
    CollectionSpec {
        collection: Collection::Users,
        sync_key: "quip_user_id".into(),
        fallback_keys: Vec::new(),
        fields: [
            "quip_user_id",
            "username",
            "email",
            "first_name",
            "last_name",
        ]
        .into_iter()
        .map(Into::into)
        .collect(),
    }
}

/// The saas_users collection.
pub fn saas_spec() -> CollectionSpec {
    CollectionSpec {
        collection: Collection::SaasUsers,
        sync_key: "user_external_id".into(),
        fallback_keys: Vec::new(),
        fields: ["user_external_id", "role", "last_visit"]
            .into_iter()
            .map(Into::into)
            .collect(),
    }
}

/// The Quip id of person `i`.
pub fn quip_id(i: usize) -> String {
    format!("QUIP{i:06}")
}

/// A desired person `i` (active).
pub fn desired_person(i: usize) -> DesiredRecord {
    let key = quip_id(i);
    let fields = Fields::new()
        .with("quip_user_id", key.as_str())
        .with("username", format!("user{i}@acme.example"))
        .with("email", format!("user{i}@acme.example"))
        .with("first_name", format!("First{i}"))
        .with("last_name", format!("Last{i}"));
    DesiredRecord::new(key, fields, true)
}

/// A desired seat of person `i`.
pub fn desired_seat(i: usize, role: &str, last_visit: i64, active: bool) -> DesiredRecord {
    let key = quip_id(i);
    let fields = Fields::new()
        .with("user_external_id", key.as_str())
        .with("role", role)
        .with("last_visit", last_visit);
    DesiredRecord::new(key, fields, active)
}

/// One sync of one collection the way the engine runs it: read, plan, apply, finish.
/// `reactivatable` keys are marked `deactivated_by_sync` (the runtime's ledger).
pub async fn sync(
    target: &OomnitzaTarget,
    spec: &CollectionSpec,
    desired: Vec<DesiredRecord>,
    reactivatable: &[String],
) -> ApplyResult {
    target.validate(spec).await.expect("validate");
    let mut actual: TargetSnapshot = target.read(spec, &NoProgress).await.expect("read");
    for r in &mut actual.records {
        if r.key
            .as_deref()
            .is_some_and(|k| reactivatable.iter().any(|x| x == k))
        {
            r.deactivated_by_sync = true;
        }
    }
    let plan = plan_collection(spec, desired, &actual, &PlanContext::default());
    let result = apply_plan(&plan, target, &ApplyOptions::default(), &NoProgress).await;
    target.finish().await.expect("finish");
    result
}
