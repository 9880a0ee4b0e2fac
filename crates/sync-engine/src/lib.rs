//! Generic mapping, reconciliation and safety guards for SaaS user syncs.
//!
//! Nothing here knows a particular vendor: a connector implements [`Source`] (where users
//! come from) or [`Target`] (where they are written), and the engine does the rest:
//!
//! - [`mapping`]: target field ← sandboxed Jinja template (minijinja), compiled and
//!   validated once when the configuration loads ([`MappingConfig::compile`]);
//! - [`filter`]: include/exclude rules over source records ([`FilterConfig::compile`]);
//! - [`plan`]: a pure function from desired records, the target's state and the policy to
//!   create / update (field diff) / deactivate / reactivate / unchanged / skipped, with the
//!   deactivation guards of `sync-safety.md` ([`plan_collection`]);
//! - [`plan_file`]: the serialisable [`SyncPlan`] with snapshot fingerprints, refusing
//!   stale plans ([`SyncPlan::check_fresh`]);
//! - [`apply`]: batched, bounded-concurrency execution with exactly one outcome per change
//!   ([`apply_plan`]);
//! - [`pipeline`]: the steps of a run ([`pipeline::plan`], [`pipeline::verify_plan`],
//!   [`pipeline::execute`]) producing a [`SessionReport`] ([`report`]);
//! - [`memory`]: an in-memory [`Source`] and [`Target`] for tests and examples.
//!
//! There are no cargo features.
//!
//! # Example: a custom source and target
//!
//! ```
//! use async_trait::async_trait;
//! use sync_engine::{
//!     pipeline, ApiStats, Change, Collection, CollectionSpec, ConnectorError, ExecuteOptions,
//!     FieldKind, FieldSpec, FilterConfig, KeyMapping, MappingConfig, NoLedger, NoProgress,
//!     Outcome, PlanOptions, Progress, SessionStatus, Source, SourceRecord, SourceSnapshot,
//!     Completeness, SyncDefinition, SyncPolicy, Target, TargetSnapshot, Fields,
//! };
//!
//! /// A source with a fixed list of people.
//! struct Directory;
//!
//! #[async_trait]
//! impl Source for Directory {
//!     fn system(&self) -> &str { "directory" }
//!
//!     async fn validate(&self) -> Result<Vec<String>, ConnectorError> {
//!         Ok(vec!["directory: always readable".into()])
//!     }
//!
//!     fn fields(&self) -> Vec<FieldSpec> {
//!         vec![
//!             FieldSpec::new("id", FieldKind::String, "Immutable user id"),
//!             FieldSpec::new("name", FieldKind::String, "Full name"),
//!             FieldSpec::new("emails", FieldKind::List, "All email addresses, primary first"),
//!             FieldSpec::new("is_robot", FieldKind::Bool, "A service account"),
//!         ]
//!     }
//!
//!     async fn read(&self, _progress: &dyn Progress) -> Result<SourceSnapshot, ConnectorError> {
//!         let person = |id: &str, name: &str, email: &str, robot: bool| SourceRecord {
//!             key: id.into(),
//!             fields: Fields::new()
//!                 .with("id", id)
//!                 .with("name", name)
//!                 .with("emails", vec![email])
//!                 .with("is_robot", robot),
//!             active: true,
//!             roles: vec![],
//!             last_activity: None,
//!         };
//!         Ok(SourceSnapshot {
//!             records: vec![
//!                 person("u1", "Ada Lovelace", "Ada@Example.com", false),
//!                 person("u2", "Build Bot", "bot@example.com", true),
//!             ],
//!             completeness: Completeness::Complete,
//!             reported_total: Some(2),
//!             unknown: vec![],
//!         })
//!     }
//!
//!     fn stats(&self) -> ApiStats { ApiStats { calls: 1, ..ApiStats::default() } }
//! }
//!
//! /// A target that accepts everything and holds nothing (a real one calls an API).
//! struct Sink;
//!
//! #[async_trait]
//! impl Target for Sink {
//!     fn system(&self) -> &str { "sink" }
//!
//!     async fn validate(&self, _spec: &CollectionSpec) -> Result<(), ConnectorError> { Ok(()) }
//!
//!     async fn read(&self, _spec: &CollectionSpec, _progress: &dyn Progress)
//!         -> Result<TargetSnapshot, ConnectorError> {
//!         Ok(TargetSnapshot::default())
//!     }
//!
//!     async fn apply(&self, _spec: &CollectionSpec, batch: Vec<Change>) -> Vec<Outcome> {
//!         // Exactly one outcome per change; a failing record is `Outcome::failed`.
//!         batch.into_iter().map(|c| { let id = format!("id-{}", c.key); Outcome::done(c.key, id) }).collect()
//!     }
//!
//!     fn stats(&self) -> ApiStats { ApiStats::default() }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let source = Directory;
//! // Usually deserialised from the `[mapping.users]` table of the configuration file.
//! let mapping = MappingConfig::new(KeyMapping::new("id", "quip_user_id"))
//!     .fallback(KeyMapping::new("emails", "email"))
//!     .field("email", "{{ emails[0] | lower }}")
//!     .field("first_name", "{{ name | first_name }}")
//!     .field("full_name", "{{ name }}")
//!     .field("synced_at", "{{ sync_time }}")
//!     .case_insensitive("email")
//!     .compile(Collection::Users, Some(&source.fields()))?;
//! let filter = FilterConfig { include: vec![], exclude: vec!["is_robot".into()] }
//!     .compile(Some(&source.fields()))?;
//! let def = SyncDefinition {
//!     integration: "Directory users".into(),
//!     mode: Some("users".into()),
//!     collections: vec![mapping],
//!     filter,
//!     policy: SyncPolicy::default(),
//!     credential_name: "directory".into(),
//! };
//!
//! let planned = pipeline::plan(&def, &source, &Sink, &NoLedger, &PlanOptions::default(), &NoProgress).await?;
//! assert_eq!(planned.plan.collections[0].counts.create, 1); // the robot is filtered out
//! let outcome = pipeline::execute(&planned, &Sink, &ExecuteOptions::default(), &NoProgress).await;
//! assert_eq!(outcome.report.status, SessionStatus::Succeeded);
//! assert_eq!(outcome.report.counts.created, 1);
//! println!("{}", outcome.report.render_human());
//! # Ok(())
//! # }
//! ```

pub mod apply;
pub mod compare;
pub mod connector;
pub mod error;
pub mod filter;
pub mod mapping;
pub mod memory;
pub mod pipeline;
pub mod plan;
pub mod plan_file;
pub mod record;
pub mod report;
pub mod seats;
pub mod settings;
pub mod template;

pub use apply::{
    AppliedChange, ApplyControl, ApplyOptions, ApplyResult, ChangeKind, DEFAULT_STOP_GRACE,
    LedgerEntry, NoWriteAhead, Stop, WriteAhead, apply_plan, apply_plan_with,
};
pub use compare::{CompareOptions, values_equal};
pub use connector::{
    ApiStats, Change, CollectionSpec, ConnectorError, ErrorKind, FieldKind, FieldRule, FieldSpec,
    NoProgress, Operation, Outcome, OutcomeResult, Progress, ProgressEvent, Source, Stage, Target,
};
pub use error::{ConfigError, Error, MappingError, Position, StalePlan};
pub use filter::{Filter, FilterConfig};
pub use mapping::{DesiredRecord, FieldExpr, KeyMapping, Mapping, MappingConfig};
pub use memory::{MemorySource, MemoryTarget, StoredRecord, WriteCounters};
pub use pipeline::{
    ExecuteOptions, Ledger, MemoryLedger, NoLedger, PlanOptions, PlannedSync, SyncDefinition,
    SyncOutcome, SyncPolicy, execute_with,
};
pub use plan::{
    Action, CollectionPlan, DEFAULT_IDLE_EXCLUDE_ROLES, DeactivatePolicy, DeactivateReason,
    FieldChange, GuardVerdict, HeldDeactivation, PlanContext, PlanCounts, PlanEntry, Preference,
    ReclaimedSeat, RejectedRecord, SkipReason, SourceState, plan_collection,
    plan_collection_with_rejected, reject_doomed_writes,
};
pub use plan_file::{PLAN_VERSION, SyncPlan, fingerprint_source, fingerprint_target};
pub use record::{
    Collection, Completeness, FieldName, Fields, SourceRecord, SourceSnapshot, TargetRecord,
    TargetSnapshot, UnknownFields, Value,
};
pub use report::{Counts, RecordError, SessionReport, SessionStatus};
pub use template::MappingContext;
