//! Builders shared by the tests.

use chrono::DateTime;
use sync_engine::{
    Collection, CollectionSpec, CompareOptions, DesiredRecord, ExecuteOptions, FieldKind,
    FieldSpec, Fields, FilterConfig, KeyMapping, MappingConfig, MemorySource, MemoryTarget,
    NoLedger, PlanContext, PlanOptions, SourceRecord, SyncDefinition, SyncPolicy, TargetRecord,
    TargetSnapshot, Value,
};

/// The users spec the plan tests use: sync key `roster_user_id`, fallback `email`.
pub fn spec() -> CollectionSpec {
    CollectionSpec {
        collection: Collection::Users,
        sync_key: "roster_user_id".into(),
        fallback_keys: vec!["email".into()],
        fields: vec!["email".into(), "full_name".into(), "roster_user_id".into()],
    }
}

/// Default policy, email compared case-insensitively.
pub fn ctx() -> PlanContext {
    PlanContext {
        compare: CompareOptions::case_insensitive(["email"]),
        ..PlanContext::default()
    }
}

pub fn fields(key: &str, email: &str, name: &str) -> Fields {
    Fields::new()
        .with("roster_user_id", key)
        .with("email", email)
        .with("full_name", name)
}

pub fn desired(key: &str, email: &str, name: &str, active: bool) -> DesiredRecord {
    DesiredRecord::new(key, fields(key, email, name), active)
}

/// An owned target record (carries the sync key).
pub fn owned(id: &str, key: &str, email: &str, name: &str, active: bool) -> TargetRecord {
    TargetRecord {
        id: id.into(),
        key: Some(key.into()),
        fields: fields(key, email, name),
        active,
        owned: true,
        deactivated_by_sync: false,
    }
}

/// A target record this integration does not own (no sync key).
pub fn unowned(id: &str, email: &str, name: &str, active: bool) -> TargetRecord {
    TargetRecord {
        id: id.into(),
        key: None,
        fields: Fields::new().with("email", email).with("full_name", name),
        active,
        owned: false,
        deactivated_by_sync: false,
    }
}

pub fn snapshot(records: Vec<TargetRecord>) -> TargetSnapshot {
    TargetSnapshot { records }
}

/// The fields a Roster-like source offers.
pub fn source_fields() -> Vec<FieldSpec> {
    vec![
        FieldSpec::new("id", FieldKind::String, "Roster user id"),
        FieldSpec::new("name", FieldKind::String, "Full name"),
        FieldSpec::new("email", FieldKind::String, "Primary email"),
        FieldSpec::new("emails", FieldKind::List, "All emails"),
        FieldSpec::new("is_robot", FieldKind::Bool, "Robot account"),
        FieldSpec::new("created_at", FieldKind::Timestamp, "Creation time"),
        FieldSpec::new("seats", FieldKind::Number, "Seats"),
    ]
}

/// A Roster-like source user.
pub fn user(id: &str, name: &str, email: &str, active: bool) -> SourceRecord {
    SourceRecord {
        key: id.into(),
        fields: Fields::new()
            .with("id", id)
            .with("name", name)
            .with("email", email)
            .with("emails", vec![email])
            .with("is_robot", false),
        active,
        roles: vec!["member".into()],
        last_activity: None,
    }
}

pub fn robot(id: &str, name: &str, email: &str) -> SourceRecord {
    let mut r = user(id, name, email, true);
    r.fields.insert("is_robot", true);
    r
}

/// Plans and executes in one go, as a runtime does (the plan must succeed).
pub async fn plan_and_execute(
    def: &sync_engine::SyncDefinition,
    source: &dyn sync_engine::Source,
    target: &dyn sync_engine::Target,
    ledger: &dyn sync_engine::Ledger,
    plan_opts: &sync_engine::PlanOptions,
    exec_opts: &sync_engine::ExecuteOptions,
) -> sync_engine::SyncOutcome {
    let progress = sync_engine::NoProgress;
    let planned = sync_engine::pipeline::plan(def, source, target, ledger, plan_opts, &progress)
        .await
        .unwrap_or_else(|e| panic!("planning failed: {e}"));
    sync_engine::pipeline::execute(&planned, target, exec_opts, &progress).await
}

/// Users by `id`, seats with `role` and `last_visit` (as the Roster → People default).
pub fn definition(saas: bool, exclude: &[&str]) -> SyncDefinition {
    let fields = source_fields();
    let users = MappingConfig::new(KeyMapping::new("id", "roster_user_id"))
        .fallback(KeyMapping::new("email", "email"))
        .field("username", "{{ email }}")
        .field("email", "{{ email }}")
        .field("full_name", "{{ name }}")
        .case_insensitive("email")
        .case_insensitive("username")
        .compile(Collection::Users, Some(&fields))
        .unwrap();
    let mut collections = vec![users];
    if saas {
        collections.push(
            MappingConfig::new(KeyMapping::new("id", "user_external_id"))
                .field("role", "{{ role }}")
                .field("last_visit", "{{ last_activity }}")
                .compile(Collection::SaasUsers, Some(&fields))
                .unwrap(),
        );
    }
    SyncDefinition {
        integration: "Roster users".into(),
        mode: Some(if saas { "users_and_saas" } else { "users" }.into()),
        collections,
        filter: FilterConfig {
            include: vec![],
            exclude: exclude.iter().map(|s| (*s).to_owned()).collect(),
        }
        .compile(Some(&fields))
        .unwrap(),
        policy: SyncPolicy::default(),
        credential_name: "roster".into(),
    }
}

pub fn seen(id: &str, name: &str, email: &str, role: &str, secs: i64) -> SourceRecord {
    let mut r = user(id, name, email, true);
    r.roles = vec![role.into()];
    r.last_activity = DateTime::from_timestamp(secs, 0);
    r
}

pub async fn run(
    def: &SyncDefinition,
    source: &MemorySource,
    target: &MemoryTarget,
) -> sync_engine::SyncOutcome {
    plan_and_execute(
        def,
        source,
        target,
        &NoLedger,
        &PlanOptions::default(),
        &ExecuteOptions::default(),
    )
    .await
}

pub fn seat(target: &MemoryTarget, key: &str) -> sync_engine::StoredRecord {
    let seats = target.records(Collection::SaasUsers);
    let found: Vec<&sync_engine::StoredRecord> = seats
        .iter()
        .filter(|s| s.fields.get("user_external_id") == Some(&Value::from(key)))
        .collect();
    assert_eq!(found.len(), 1, "one seat for {key}: {seats:?}");
    found[0].clone()
}
