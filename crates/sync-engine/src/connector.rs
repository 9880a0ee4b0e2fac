//! The traits every connector implements: [`Source`] (where users come from) and
//! [`Target`] (where they are written), plus what flows between them and the engine.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::record::{Collection, FieldName, Fields, SourceSnapshot, TargetSnapshot};

/// The kind of value a source field holds, for documentation and validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// Text.
    String,
    /// A number.
    Number,
    /// True or false.
    Bool,
    /// A point in time.
    Timestamp,
    /// A list (e.g. all emails).
    List,
}

/// A field a source offers to mappings and filters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// Name used in templates, e.g. `email`.
    pub name: FieldName,
    /// What it holds.
    pub kind: FieldKind,
    /// One line for people writing mappings.
    pub description: String,
}

impl FieldSpec {
    /// A field spec.
    pub fn new(name: &str, kind: FieldKind, description: &str) -> Self {
        FieldSpec {
            name: name.into(),
            kind,
            description: description.to_owned(),
        }
    }
}

/// What the engine tells a target about one collection it syncs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionSpec {
    /// Which collection.
    pub collection: Collection,
    /// The target field that holds the sync key (must be unique in the target).
    pub sync_key: FieldName,
    /// Target fields used to adopt an existing unowned record, in order.
    pub fallback_keys: Vec<FieldName>,
    /// Every target field the mapping writes (read back so no-op runs are truly no-op).
    pub fields: Vec<FieldName>,
}

/// What a target's metadata says about one of its fields, so that the plan can catch a
/// write the target would refuse before it is sent (see [`Target::field_rules`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldRule {
    /// Target field.
    pub field: FieldName,
    /// A value is required: a create cannot leave it empty and an update cannot empty it.
    pub required: bool,
    /// No two records may hold the same value (empty values never collide).
    pub unique: bool,
    /// The target compares text values of this field without regard to case (for `unique`).
    pub case_insensitive: bool,
    /// The longest text value the target accepts, in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
}

impl FieldRule {
    /// A rule for `field` with no constraint yet.
    pub fn new(field: impl Into<FieldName>) -> Self {
        FieldRule {
            field: field.into(),
            required: false,
            unique: false,
            case_insensitive: false,
            max_length: None,
        }
    }

    /// Builder: text values may hold at most `chars` characters.
    #[must_use]
    pub fn max_length(mut self, chars: u32) -> Self {
        self.max_length = Some(chars);
        self
    }

    /// Whether the rule constrains anything.
    pub fn constrains(&self) -> bool {
        self.required || self.unique || self.max_length.is_some()
    }

    /// Builder: a value is required.
    #[must_use]
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Builder: values are unique; `case_insensitive` when the target ignores case.
    #[must_use]
    pub fn unique(mut self, case_insensitive: bool) -> Self {
        self.unique = true;
        self.case_insensitive = case_insensitive;
        self
    }
}

/// One change for a target to apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The sync key of the record (the source key).
    pub key: CompactString,
    /// What to do.
    pub op: Operation,
}

/// The operation of a [`Change`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// Create a record with these fields (the sync key field included).
    Create {
        /// Every mapped field.
        fields: Fields,
    },
    /// Set these fields on an existing record.
    Update {
        /// Target id of the record.
        id: CompactString,
        /// New values of the fields that differ (the sync key included when adopting).
        set: Fields,
        /// True when the record was matched by a fallback key and is being adopted.
        adopt: bool,
    },
    /// Deactivate a record (never delete).
    Deactivate {
        /// Target id of the record.
        id: CompactString,
    },
    /// Reactivate a record this integration deactivated, setting any changed fields.
    Reactivate {
        /// Target id of the record.
        id: CompactString,
        /// Fields that differ as well.
        set: Fields,
    },
}

/// The result of applying one [`Change`]. Every change gets exactly one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The sync key of the record.
    pub key: CompactString,
    /// What happened.
    pub result: OutcomeResult,
}

/// Whether a change was applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OutcomeResult {
    /// Applied; `id` is the record's target id (new for creates).
    Done {
        /// Target id.
        id: CompactString,
    },
    /// Not applied; the message says why (never contains secrets).
    Failed {
        /// Human-readable reason.
        message: String,
    },
}

impl Outcome {
    /// A successful outcome.
    pub fn done(key: impl Into<CompactString>, id: impl Into<CompactString>) -> Self {
        Outcome {
            key: key.into(),
            result: OutcomeResult::Done { id: id.into() },
        }
    }

    /// A failed outcome.
    pub fn failed(key: impl Into<CompactString>, message: impl Into<String>) -> Self {
        Outcome {
            key: key.into(),
            result: OutcomeResult::Failed {
                message: message.into(),
            },
        }
    }
}

/// API traffic figures a connector reports for the session report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApiStats {
    /// Every HTTP request sent, retries and throttled attempts included.
    pub calls: u64,
    /// Responses that said "slow down" (429, 503 Over Rate Limit, ...).
    pub throttled: u64,
    /// Retries of any cause.
    pub retries: u64,
    /// Time spent waiting on rate limits: proactive pacing and throttled retries alike.
    pub rate_limit_wait: Duration,
}

/// What kind of failure a connector hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Credentials rejected (401/403).
    Auth,
    /// The configuration or the target's schema does not fit (e.g. a missing field).
    Config,
    /// Rate limits could not be satisfied within the wait cap.
    Throttled,
    /// Network, timeout or 5xx after retries.
    Transient,
    /// The vendor answered with an error.
    Api,
    /// A response could not be decoded.
    Decode,
    /// Anything else.
    Other,
}

/// A connector failure that stops a stage (per-record failures are [`OutcomeResult::Failed`]).
///
/// The message must never contain a secret; connectors build it from redacted parts.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConnectorError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// Human-readable description, naming what failed and where.
    pub message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl ConnectorError {
    /// A new error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ConnectorError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

/// A stage of a sync, for progress reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Reading the source.
    ReadSource,
    /// Reading a target collection.
    ReadTarget(Collection),
    /// Applying changes to a target collection.
    Apply(Collection),
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::ReadSource => f.write_str("reading source"),
            Stage::ReadTarget(c) => write!(f, "reading target {c}"),
            Stage::Apply(c) => write!(f, "writing {c}"),
        }
    }
}

/// A progress event; the CLI draws bars from these, the cloud service logs them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProgressEvent {
    /// A stage began; `total` when known.
    Started {
        /// Which stage.
        stage: Stage,
        /// Expected number of items, when known.
        total: Option<u64>,
    },
    /// The expected total became known or changed.
    Total {
        /// Which stage.
        stage: Stage,
        /// Expected number of items.
        total: u64,
    },
    /// `by` more items done.
    Advanced {
        /// Which stage.
        stage: Stage,
        /// How many more.
        by: u64,
    },
    /// A stage ended.
    Finished {
        /// Which stage.
        stage: Stage,
    },
}

/// Receives progress events. Must be cheap: it is called from hot loops.
pub trait Progress: Send + Sync {
    /// Handles one event.
    fn on_event(&self, event: ProgressEvent);
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn on_event(&self, _event: ProgressEvent) {}
}

impl<F: Fn(ProgressEvent) + Send + Sync> Progress for F {
    fn on_event(&self, event: ProgressEvent) {
        self(event);
    }
}

/// Where records come from (e.g. Quip).
#[async_trait]
pub trait Source: Send + Sync {
    /// Short system name for reports and logs, e.g. `quip`.
    fn system(&self) -> &str;

    /// The name people know the system by, for messages (e.g. `Quip`); the system name
    /// unless the connector says otherwise.
    fn display_name(&self) -> &str {
        self.system()
    }

    /// Checks, before any run, that the source can be read as configured (the credential
    /// is accepted, the listing endpoint answers). Reads as little as it can and writes
    /// nothing. Returns one line per check passed, for `validate` to show; the error says
    /// what to fix.
    async fn validate(&self) -> Result<Vec<String>, ConnectorError>;

    /// The fields this source offers to mappings and filters.
    fn fields(&self) -> Vec<FieldSpec>;

    /// Reads a full snapshot. Pages that fail for good make the snapshot
    /// [`Completeness::Incomplete`](crate::Completeness::Incomplete) rather than an error, so
    /// creates and updates can still proceed; an error means nothing usable was read
    /// (e.g. bad credentials). Reports `Advanced` progress per batch read.
    async fn read(&self, progress: &dyn Progress) -> Result<SourceSnapshot, ConnectorError>;

    /// API traffic so far.
    fn stats(&self) -> ApiStats;
}

/// Where records are written (e.g. Oomnitza).
#[async_trait]
pub trait Target: Send + Sync {
    /// Short system name for reports and logs, e.g. `oomnitza`.
    fn system(&self) -> &str;

    /// The name people know the system by, for messages (e.g. `Oomnitza`); the system
    /// name unless the connector says otherwise.
    fn display_name(&self) -> &str {
        self.system()
    }

    /// Checks, before any write, that the target can hold what `spec` describes (every
    /// field exists, the sync key field is unique). The error tells the user what to fix.
    async fn validate(&self, spec: &CollectionSpec) -> Result<(), ConnectorError>;

    /// The constraints the target's metadata puts on the fields `spec` writes (required,
    /// unique), asked after [`Target::validate`]. Planning turns a create or update that
    /// would break one into a per-record error and sends nothing for it. The default knows
    /// no constraint.
    async fn field_rules(&self, spec: &CollectionSpec) -> Result<Vec<FieldRule>, ConnectorError> {
        let _ = spec;
        Ok(Vec::new())
    }

    /// Reads the current state of a collection, marking which records this integration owns.
    async fn read(
        &self,
        spec: &CollectionSpec,
        progress: &dyn Progress,
    ) -> Result<TargetSnapshot, ConnectorError>;

    /// Applies a batch of changes. Returns exactly one [`Outcome`] per change, in any order;
    /// a failing record is an outcome, never an early return.
    async fn apply(&self, spec: &CollectionSpec, batch: Vec<Change>) -> Vec<Outcome>;

    /// Called once after every batch of a run was applied (e.g. to finalize a bulk session).
    /// Not called for dry runs.
    async fn finish(&self) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// API traffic so far.
    fn stats(&self) -> ApiStats;

    /// The seats of the SaaS application this target records seats for, read-only (for
    /// seat usage reports); `None` when the target keeps no seats. The default keeps none.
    async fn seats(
        &self,
        progress: &dyn Progress,
    ) -> Result<Option<crate::seats::SeatInventory>, ConnectorError> {
        let _ = progress;
        Ok(None)
    }
}

/// A shared source is a source (a service may hold one per integration across tasks).
#[async_trait]
impl<S: Source + ?Sized> Source for std::sync::Arc<S> {
    fn system(&self) -> &str {
        (**self).system()
    }

    fn display_name(&self) -> &str {
        (**self).display_name()
    }

    async fn validate(&self) -> Result<Vec<String>, ConnectorError> {
        (**self).validate().await
    }

    fn fields(&self) -> Vec<FieldSpec> {
        (**self).fields()
    }

    async fn read(&self, progress: &dyn Progress) -> Result<SourceSnapshot, ConnectorError> {
        (**self).read(progress).await
    }

    fn stats(&self) -> ApiStats {
        (**self).stats()
    }
}

/// A shared target is a target.
#[async_trait]
impl<T: Target + ?Sized> Target for std::sync::Arc<T> {
    fn system(&self) -> &str {
        (**self).system()
    }

    fn display_name(&self) -> &str {
        (**self).display_name()
    }

    async fn validate(&self, spec: &CollectionSpec) -> Result<(), ConnectorError> {
        (**self).validate(spec).await
    }

    async fn field_rules(&self, spec: &CollectionSpec) -> Result<Vec<FieldRule>, ConnectorError> {
        (**self).field_rules(spec).await
    }

    async fn read(
        &self,
        spec: &CollectionSpec,
        progress: &dyn Progress,
    ) -> Result<TargetSnapshot, ConnectorError> {
        (**self).read(spec, progress).await
    }

    async fn apply(&self, spec: &CollectionSpec, batch: Vec<Change>) -> Vec<Outcome> {
        (**self).apply(spec, batch).await
    }

    async fn finish(&self) -> Result<(), ConnectorError> {
        (**self).finish().await
    }

    fn stats(&self) -> ApiStats {
        (**self).stats()
    }

    async fn seats(
        &self,
        progress: &dyn Progress,
    ) -> Result<Option<crate::seats::SeatInventory>, ConnectorError> {
        (**self).seats(progress).await
    }
}
