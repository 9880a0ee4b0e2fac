//! One orchestration path: `Integration::plan` and `Integration::run` with any source and
//! target, keeping sessions and the ledger in a `StateStore`.

use std::sync::Arc;

use sync_engine::{
    ApplyOptions, Collection, DeactivatePolicy, ErrorKind, FieldKind, FieldSpec, Fields,
    FilterConfig, KeyMapping, MappingConfig, MemorySource, MemoryTarget, NoProgress, SessionStatus,
    SourceRecord, SyncDefinition, SyncPolicy,
};
use sync_runtime::{Connectors, Integration, RunOptions, StateDir, StateStore};

fn fields() -> Vec<FieldSpec> {
    vec![
        FieldSpec::new("id", FieldKind::String, "Directory id"),
        FieldSpec::new("name", FieldKind::String, "Full name"),
        FieldSpec::new("email", FieldKind::String, "Primary email"),
    ]
}

fn person(id: &str, name: &str, active: bool) -> SourceRecord {
    SourceRecord {
        key: id.into(),
        fields: Fields::new()
            .with("id", id)
            .with("name", name)
            .with("email", format!("{id}@example.com")),
        active,
        roles: vec![],
        last_activity: None,
    }
}

fn definition() -> SyncDefinition {
    let users = MappingConfig::new(KeyMapping::new("id", "directory_id"))
        .field("email", "{{ email }}")
        .field("full_name", "{{ name }}")
        .compile(Collection::Users, Some(&fields()))
        .expect("mapping compiles");
    SyncDefinition {
        integration: "Directory users".into(),
        mode: Some("users".into()),
        collections: vec![users],
        filter: FilterConfig::default().compile(None).expect("no filter"),
        policy: SyncPolicy {
            deactivate: DeactivatePolicy {
                max_count: None,
                max_percent: None,
                ..DeactivatePolicy::default()
            },
            ..SyncPolicy::default()
        },
        credential_name: "directory".into(),
    }
}

struct Fixture {
    source: Arc<MemorySource>,
    target: Arc<MemoryTarget>,
    integration: Integration,
    state: StateDir,
    _dir: tempfile::TempDir,
}

fn fixture(people: Vec<SourceRecord>) -> Fixture {
    let source = Arc::new(MemorySource::new(fields(), people).with_system("directory"));
    let target = Arc::new(MemoryTarget::new().with_system("people"));
    let (s, t) = (source.clone(), target.clone());
    let integration = Integration {
        definition: definition(),
        connectors: Box::new(move |_: &SyncDefinition| {
            Ok(Connectors {
                source: Box::new(s.clone()),
                target: Box::new(t.clone()),
            })
        }),
        apply: ApplyOptions::default(),
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let state = StateDir::open(dir.path().join("state")).expect("state dir");
    Fixture {
        source,
        target,
        integration,
        state,
        _dir: dir,
    }
}

#[tokio::test]
async fn run_creates_then_a_second_run_writes_nothing() {
    let f = fixture(vec![person("u1", "Ada", true), person("u2", "Bob", true)]);
    let report = f
        .integration
        .run(&f.state, &RunOptions::default(), &NoProgress)
        .await
        .expect("run");
    assert_eq!(report.status, SessionStatus::Succeeded, "{report:?}");
    assert_eq!(report.counts.created, 2);
    assert_eq!(f.target.records(Collection::Users).len(), 2);

    let writes = f.target.counters();
    let again = f
        .integration
        .run(&f.state, &RunOptions::default(), &NoProgress)
        .await
        .expect("second run");
    assert_eq!(again.status, SessionStatus::Succeeded);
    assert_eq!(again.counts.unchanged, 2);
    assert_eq!(
        f.target.counters(),
        writes,
        "a no-change run writes nothing"
    );

    let sessions = StateStore::sessions(&f.state).await.expect("sessions");
    assert_eq!(sessions.len(), 2, "every run stores its session");
    assert_eq!(sessions[0].id, again.id, "newest first");
}

#[tokio::test]
async fn a_source_that_fails_gives_a_stored_failed_report() {
    let f = fixture(vec![person("u1", "Ada", true)]);
    f.source.set_error(Some((
        ErrorKind::Auth,
        "401 Unauthorized: token rejected".into(),
    )));
    let report = f
        .integration
        .run(&f.state, &RunOptions::default(), &NoProgress)
        .await
        .expect("a failed run is a report, not an error");
    assert_eq!(report.status, SessionStatus::Failed);
    assert_eq!(report.exit_code(), 1);
    assert_eq!(
        report.fatal.as_deref(),
        Some("reading the source (directory) failed: 401 Unauthorized: token rejected")
    );
    assert_eq!(report.api_calls.get("directory"), Some(&1));
    assert!(f.target.records(Collection::Users).is_empty());
    let stored = StateStore::session(&f.state, &report.id.to_string())
        .await
        .expect("stored");
    assert_eq!(stored.status, SessionStatus::Failed);
}

#[tokio::test]
async fn plan_is_a_stored_dry_run_that_writes_nothing() {
    let f = fixture(vec![person("u1", "Ada", true)]);
    let (planned, report) = f
        .integration
        .plan(&f.state, false, &NoProgress)
        .await
        .expect("plan");
    assert!(planned.is_some());
    assert!(report.dry_run);
    assert_eq!(report.counts.created, 1, "what the run would do");
    assert!(f.target.records(Collection::Users).is_empty());
    assert_eq!(f.target.counters(), sync_engine::WriteCounters::default());
    let sessions = StateStore::sessions(&f.state).await.expect("sessions");
    assert_eq!(sessions.len(), 1);
    assert!(sessions[0].dry_run);
}

#[tokio::test]
async fn a_leaver_is_deactivated_and_recorded_then_reactivated_on_return() {
    let f = fixture(vec![person("u1", "Ada", true), person("u2", "Bob", true)]);
    let opts = RunOptions::default();
    f.integration
        .run(&f.state, &opts, &NoProgress)
        .await
        .expect("first");

    f.source.set_records(vec![person("u1", "Ada", true)]);
    let report = f
        .integration
        .run(&f.state, &opts, &NoProgress)
        .await
        .expect("leaver");
    assert_eq!(report.counts.deactivated, 1, "{report:?}");
    let ledger = StateStore::ledger(&f.state, "Directory users")
        .await
        .expect("ledger");
    let bob = f
        .target
        .records(Collection::Users)
        .into_iter()
        .find(|r| r.fields.get("directory_id") == Some(&"u2".into()))
        .expect("Bob's record");
    assert!(!bob.active);
    assert!(ledger.contains(Collection::Users, &bob.id), "{ledger:?}");

    f.source
        .set_records(vec![person("u1", "Ada", true), person("u2", "Bob", true)]);
    let report = f
        .integration
        .run(&f.state, &opts, &NoProgress)
        .await
        .expect("return");
    assert_eq!(report.counts.reactivated, 1, "{report:?}");
    let ledger = StateStore::ledger(&f.state, "Directory users")
        .await
        .expect("ledger");
    assert!(!ledger.contains(Collection::Users, &bob.id));
}

#[tokio::test]
async fn a_held_lock_fails_the_run_without_touching_either_side() {
    let f = fixture(vec![person("u1", "Ada", true)]);
    let _held = StateStore::lock(&f.state, "Directory users")
        .await
        .expect("lock");
    let report = f
        .integration
        .run(&f.state, &RunOptions::default(), &NoProgress)
        .await
        .expect("report");
    assert_eq!(report.status, SessionStatus::Failed);
    assert!(
        report
            .fatal
            .as_deref()
            .unwrap_or_default()
            .contains("another run"),
        "{:?}",
        report.fatal
    );
    assert_eq!(
        sync_engine::Source::stats(&f.source).calls,
        0,
        "nothing was read"
    );
    assert!(f.target.records(Collection::Users).is_empty());
    let sessions = StateStore::sessions(&f.state).await.expect("sessions");
    assert!(sessions.is_empty(), "the state belongs to the other run");
}

#[tokio::test]
async fn validate_reports_each_check_by_display_name() {
    let f = fixture(vec![person("u1", "Ada", true)]);
    let lines = f.integration.validate().await.expect("valid");
    assert_eq!(
        lines,
        [
            "directory: 1 records readable",
            "people users: fields present: directory_id, email, full_name (sync key \
             directory_id is unique)",
        ]
    );
    f.source
        .set_error(Some((ErrorKind::Auth, "token rejected".into())));
    let e = f.integration.validate().await.expect_err("bad token");
    assert!(e.to_string().contains("token rejected"), "{e}");
}

#[test]
fn run_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let f = fixture(vec![]);
    let opts = RunOptions::default();
    let run = f.integration.run(&f.state, &opts, &NoProgress);
    assert_send(&run);
    let plan = f.integration.plan(&f.state, false, &NoProgress);
    assert_send(&plan);
}
