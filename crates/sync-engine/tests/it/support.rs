//! Builders shared by the tests.

use sync_engine::{
    Collection, CollectionSpec, CompareOptions, DesiredRecord, FieldKind, FieldSpec, Fields,
    PlanContext, SourceRecord, TargetRecord, TargetSnapshot,
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
