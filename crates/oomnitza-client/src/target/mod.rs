//! The Oomnitza sync target: People (`users`) and seats of the SaaS application
//! (`saas_users`), implementing [`sync_engine::Target`].
//!
//! # What it does
//!
//! - `validate` reads `/api/v3/users/meta` and checks that every mapped field, the sync key
//!   and the fallback keys exist and that the sync key is unique; the error names the
//!   field to create. It never writes.
//! - `read(users)` reads the People carrying the sync key (a filter on it) or, when
//!   fallback keys are configured, every person (adoption needs unowned candidates).
//! - `read(saas_users)` finds the application by name (never creating it) and lists its
//!   seats.
//! - `apply(users)` writes with the configured [`WriteStrategy`]; `apply(saas_users)` finds
//!   or creates the application, assigns seats in batches (with last activity), stores the
//!   Quip id on each new seat, creates missing roles and sets them per role group, and
//!   deactivates/reactivates seats in batches.
//! - `finish` finalizes the bulk portion, when one was opened.
//!
//! # Request counts (N people, page size P = 1000, C changed records)
//!
//! | Step | Requests |
//! |---|---|
//! | validate | 1 (`users/meta`) |
//! | read users | floor(N / P) + 1 (pages until a short one) |
//! | apply users, `rest` | C (one per changed record; 0 when nothing changed) |
//! | apply users, `bulk` | ceil(C / 100) uploads per kind of change + 1 finalize (+ 1 run-log read); 0 when nothing changed |
//! | read saas_users | 1 (find the app) + floor(seats / P) + 1 |
//!
//! See `docs/api-notes.md` (## Oomnitza) for the assumptions behind each choice.

mod convert;
mod saas;
mod users;

pub use saas::{SAAS_FIELDS, SAAS_SYNC_KEY};

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sync_engine::{
    ApiStats, Change, Collection, CollectionSpec, ConnectorError, ErrorKind, FieldRule, Outcome,
    Progress, Target, TargetSnapshot,
};
use tokio::sync::Mutex;

use crate::client::OomnitzaClient;
use crate::models::{RunLog, SaasRole, UsersMeta};

/// How People changes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteStrategy {
    /// Per-record REST create/patch with bounded concurrency and exact per-record outcomes.
    #[default]
    Rest,
    /// Connector portions: batches of up to 100 records with `sync_field`, finalized at the
    /// end, so the run also appears in Oomnitza's own sync sessions. Outcomes are "uploaded";
    /// per-record results exist only in Oomnitza's run logs.
    Bulk,
}

/// How an inactive person is represented.
///
/// ASSUMPTION (`oomnitza-api.md` §5.4 and §13): `suspended: true` marks an inactive person
/// and `suspended: false` an active one. Configurable because it is unconfirmed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeopleDeactivation {
    /// The People field that holds the state.
    pub field: String,
    /// The value written to deactivate.
    pub inactive_value: Json,
    /// The value written to reactivate.
    pub active_value: Json,
}

impl Default for PeopleDeactivation {
    fn default() -> Self {
        PeopleDeactivation {
            field: "suspended".to_owned(),
            inactive_value: Json::Bool(true),
            active_value: Json::Bool(false),
        }
    }
}

/// Configuration of the Oomnitza target. The application, the People sync key field and
/// the bulk connector name belong to the integration, so they have no defaults here.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TargetConfig {
    /// How People are written (default `rest`).
    pub write_strategy: WriteStrategy,
    /// The SaaS application seats belong to.
    pub saas_name: String,
    /// How People are deactivated and reactivated.
    pub people_deactivation: PeopleDeactivation,
    /// Records written at once (default 8).
    pub concurrency: usize,
    /// The People field that holds the source's user id; the users collection's sync key,
    /// and how seats find their person.
    pub users_sync_key_field: String,
    /// `connector_name` of bulk portions.
    pub connector_name: String,
    /// Records per bulk upload (default and maximum 100).
    pub bulk_batch_size: usize,
    /// Seats per assign/activate/deactivate/role request (default 500).
    pub seat_batch_size: usize,
}

impl TargetConfig {
    /// Seats of application `saas_name`, People keyed by `users_sync_key_field`, bulk
    /// portions named `connector_name`; everything else at its default.
    pub fn new(
        saas_name: impl Into<String>,
        users_sync_key_field: impl Into<String>,
        connector_name: impl Into<String>,
    ) -> Self {
        TargetConfig {
            write_strategy: WriteStrategy::Rest,
            saas_name: saas_name.into(),
            people_deactivation: PeopleDeactivation::default(),
            concurrency: 8,
            users_sync_key_field: users_sync_key_field.into(),
            connector_name: connector_name.into(),
            bulk_batch_size: 100,
            seat_batch_size: 500,
        }
    }

    /// Sets the write strategy.
    #[must_use]
    pub fn with_write_strategy(mut self, strategy: WriteStrategy) -> Self {
        self.write_strategy = strategy;
        self
    }

    /// Sets how people are deactivated.
    #[must_use]
    pub fn with_people_deactivation(mut self, d: PeopleDeactivation) -> Self {
        self.people_deactivation = d;
        self
    }

    /// Sets the write concurrency (at least 1).
    #[must_use]
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
}

/// What the last bulk portion did, for reports (see [`OomnitzaTarget::last_bulk_run`]).
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct BulkRunSummary {
    /// The portion's uuid.
    pub portion: String,
    /// Upload requests sent successfully.
    pub uploads: u64,
    /// Records uploaded as creates (`insert_only`).
    pub uploaded_creates: u64,
    /// Records uploaded as updates, reactivations and deactivations (`update_only`).
    pub uploaded_updates: u64,
    /// Records whose upload failed.
    pub failed_records: u64,
    /// Oomnitza's run log of the portion, when it could be read.
    pub run_log: Option<RunLog>,
    /// Differences between what was uploaded and what the run log reports.
    pub differences: Vec<String>,
}

#[derive(Debug, Default)]
struct Portion {
    id: String,
    uploads: u64,
    creates: u64,
    updates: u64,
    failed: u64,
}

#[derive(Debug, Default)]
struct PeopleIndex {
    /// Sync key (Quip id) → person `user_id`.
    by_key: HashMap<String, String>,
    /// Whether the index holds every owned person (false: never loaded, or invalidated).
    loaded: bool,
    /// Whether it was reloaded because of a miss during this run (at most once).
    reloaded: bool,
}

#[derive(Debug, Default)]
struct SaasState {
    saas_id: Option<String>,
    /// Role label → role, once listed.
    roles: Option<HashMap<String, SaasRole>>,
    /// Seat id → person `user_id`, from the last read.
    seat_owner: HashMap<String, String>,
}

/// The Oomnitza target.
///
/// Holds per-run caches (metadata, the SaaS application id, roles, the Quip id → person
/// index, the open bulk portion); they are reset by `finish`.
#[derive(Debug)]
pub struct OomnitzaTarget {
    client: OomnitzaClient,
    config: TargetConfig,
    meta: Mutex<Option<Arc<UsersMeta>>>,
    people: Mutex<PeopleIndex>,
    saas: Mutex<SaasState>,
    portion: Mutex<Option<Portion>>,
    last_bulk: StdMutex<Option<BulkRunSummary>>,
}

impl OomnitzaTarget {
    /// A target writing through `client`.
    pub fn new(client: OomnitzaClient, config: TargetConfig) -> Self {
        let mut config = config;
        config.concurrency = config.concurrency.max(1);
        config.bulk_batch_size = config.bulk_batch_size.clamp(1, 100);
        config.seat_batch_size = config.seat_batch_size.max(1);
        OomnitzaTarget {
            client,
            config,
            meta: Mutex::new(None),
            people: Mutex::new(PeopleIndex::default()),
            saas: Mutex::new(SaasState::default()),
            portion: Mutex::new(None),
            last_bulk: StdMutex::new(None),
        }
    }

    /// The client.
    pub fn client(&self) -> &OomnitzaClient {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &TargetConfig {
        &self.config
    }

    /// What the last finalized bulk portion did (bulk strategy only).
    pub fn last_bulk_run(&self) -> Option<BulkRunSummary> {
        self.last_bulk
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Field metadata, fetched once per run.
    async fn meta(&self) -> Result<Arc<UsersMeta>, crate::Error> {
        let mut guard = self.meta.lock().await;
        if let Some(m) = &*guard {
            return Ok(Arc::clone(m));
        }
        let m = Arc::new(self.client.users().meta().await?);
        *guard = Some(Arc::clone(&m));
        Ok(m)
    }

    /// Fresh metadata (validate always re-reads, so a fixed field is seen at once).
    async fn fresh_meta(&self) -> Result<Arc<UsersMeta>, crate::Error> {
        let m = Arc::new(self.client.users().meta().await?);
        *self.meta.lock().await = Some(Arc::clone(&m));
        Ok(m)
    }
}

/// The label Oomnitza would show for a field id: `quip_user_id` → `Quip User Id`.
pub(crate) fn label_for(field: &str) -> String {
    field
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map_or_else(String::new, |f| {
                f.to_uppercase().collect::<String>() + c.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn config_error(message: impl Into<String>) -> ConnectorError {
    ConnectorError::new(ErrorKind::Config, message)
}

#[async_trait]
impl Target for OomnitzaTarget {
    fn system(&self) -> &'static str {
        "oomnitza"
    }

    fn display_name(&self) -> &'static str {
        "Oomnitza"
    }

    async fn validate(&self, spec: &CollectionSpec) -> Result<(), ConnectorError> {
        match spec.collection {
            Collection::Users => self.validate_users(spec).await,
            Collection::SaasUsers => self.validate_saas(spec).await,
        }
    }

    /// People fields the mapping writes that Oomnitza's metadata marks mandatory
    /// (`optional: 0`) or unique, and the `length` of text fields. `username` and `email`
    /// are compared without case (assumption: Oomnitza treats logins and addresses
    /// case-insensitively). Seats: none.
    async fn field_rules(&self, spec: &CollectionSpec) -> Result<Vec<FieldRule>, ConnectorError> {
        if spec.collection != Collection::Users {
            return Ok(Vec::new());
        }
        let meta = self.meta().await?;
        Ok(spec
            .fields
            .iter()
            .filter_map(|field| {
                let m = meta.get(field)?;
                let mut rule = FieldRule::new(field.clone());
                if m.optional == Some(false) {
                    rule = rule.required();
                }
                if m.unique == Some(true) {
                    rule = rule.unique(matches!(field.as_ref(), "username" | "email"));
                }
                if let Some(max) = m.length.filter(|_| {
                    m.data_type
                        .as_deref()
                        .is_some_and(|t| t.eq_ignore_ascii_case("string"))
                }) {
                    rule = rule.max_length(max);
                }
                rule.constrains().then_some(rule)
            })
            .collect())
    }

    async fn read(
        &self,
        spec: &CollectionSpec,
        progress: &dyn Progress,
    ) -> Result<TargetSnapshot, ConnectorError> {
        match spec.collection {
            Collection::Users => self.read_users(spec, progress).await,
            Collection::SaasUsers => self.read_saas(spec, progress).await,
        }
    }

    async fn apply(&self, spec: &CollectionSpec, batch: Vec<Change>) -> Vec<Outcome> {
        if batch.is_empty() {
            return Vec::new();
        }
        match spec.collection {
            Collection::Users => {
                let meta = match self.meta().await {
                    Ok(m) => m,
                    Err(e) => return users::fail_all(&batch, &e.report()),
                };
                match self.config.write_strategy {
                    WriteStrategy::Rest => self.apply_users_rest(spec, &meta, batch).await,
                    WriteStrategy::Bulk => self.apply_users_bulk(spec, &meta, batch).await,
                }
            }
            Collection::SaasUsers => self.apply_saas(spec, batch).await,
        }
    }

    async fn finish(&self) -> Result<(), ConnectorError> {
        self.finish_bulk().await
    }

    fn stats(&self) -> ApiStats {
        self.client.stats()
    }

    async fn seats(
        &self,
        progress: &dyn Progress,
    ) -> Result<Option<sync_engine::seats::SeatInventory>, ConnectorError> {
        self.seat_inventory(progress).await.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_from_ids() {
        assert_eq!(label_for("quip_user_id"), "Quip User Id");
        assert_eq!(label_for("email"), "Email");
        assert_eq!(label_for("a__b"), "A B");
    }

    #[test]
    fn config_defaults() {
        let c = TargetConfig::new("Slack", "slack_user_id", "slack-oomnitza");
        assert_eq!(c.write_strategy, WriteStrategy::Rest);
        assert_eq!(c.saas_name, "Slack");
        assert_eq!(c.users_sync_key_field, "slack_user_id");
        assert_eq!(c.connector_name, "slack-oomnitza");
        assert_eq!(c.people_deactivation.field, "suspended");
        assert_eq!(c.people_deactivation.inactive_value, Json::Bool(true));
    }
}
