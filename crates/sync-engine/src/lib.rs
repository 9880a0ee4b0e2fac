//! Generic mapping, reconciliation and safety guards for SaaS user syncs.
//!
//! Nothing here knows a particular vendor: a connector implements [`Source`] or [`Target`]
//! and the engine does the rest.

pub mod connector;
pub mod record;

pub use connector::{
    ApiStats, Change, CollectionSpec, ConnectorError, ErrorKind, FieldKind, FieldSpec, NoProgress,
    Operation, Outcome, OutcomeResult, Progress, ProgressEvent, Source, Stage, Target,
};
pub use record::{
    Collection, Completeness, FieldName, Fields, SourceRecord, SourceSnapshot, TargetRecord,
    TargetSnapshot, Value,
};
