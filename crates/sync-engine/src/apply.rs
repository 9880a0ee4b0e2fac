//! Executing a [`CollectionPlan`] through a [`Target`]: batches, bounded concurrency, and
//! exactly one outcome per change.

use std::collections::HashMap;

use compact_str::CompactString;
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};

use crate::connector::{
    Change, Operation, Outcome, OutcomeResult, Progress, ProgressEvent, Stage, Target,
};
use crate::plan::CollectionPlan;
use crate::record::Collection;

/// How to apply a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyOptions {
    /// How many batches may be in flight at once (at least 1).
    pub concurrency: usize,
    /// How many changes go in one [`Target::apply`] call (at least 1).
    pub batch_size: usize,
    /// Apply deactivations the threshold guard held (the operator approved them).
    pub allow_held_deactivations: bool,
}

impl Default for ApplyOptions {
    /// 4 batches of 100 in flight, held deactivations not applied.
    fn default() -> Self {
        ApplyOptions {
            concurrency: 4,
            batch_size: 100,
            allow_held_deactivations: false,
        }
    }
}

/// The kind of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A creation.
    Create,
    /// An update (adoptions included).
    Update,
    /// A deactivation.
    Deactivate,
    /// A reactivation.
    Reactivate,
}

impl ChangeKind {
    /// The kind of an operation.
    pub fn of(op: &Operation) -> Self {
        match op {
            Operation::Create { .. } => ChangeKind::Create,
            Operation::Update { .. } => ChangeKind::Update,
            Operation::Deactivate { .. } => ChangeKind::Deactivate,
            Operation::Reactivate { .. } => ChangeKind::Reactivate,
        }
    }

    fn target_id(op: &Operation) -> Option<&CompactString> {
        match op {
            Operation::Create { .. } => None,
            Operation::Update { id, .. }
            | Operation::Deactivate { id }
            | Operation::Reactivate { id, .. } => Some(id),
        }
    }
}

/// What happened to one change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedChange {
    /// The record's sync key.
    pub key: CompactString,
    /// What was attempted.
    pub kind: ChangeKind,
    /// The target id (from the outcome for creates), when known.
    pub id: Option<CompactString>,
    /// Applied or failed.
    pub result: OutcomeResult,
}

impl AppliedChange {
    /// True when the change was applied.
    pub fn is_done(&self) -> bool {
        matches!(self.result, OutcomeResult::Done { .. })
    }
}

/// A record the sync deactivated or reactivated, for the runtime's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Which collection.
    pub collection: Collection,
    /// The record's sync key.
    pub key: CompactString,
    /// Target id.
    pub id: CompactString,
}

/// The result of applying one collection's plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyResult {
    /// Which collection.
    pub collection: Collection,
    /// One per change, in plan order.
    pub changes: Vec<AppliedChange>,
    /// Records created.
    pub created: u64,
    /// Records updated.
    pub updated: u64,
    /// Records deactivated.
    pub deactivated: u64,
    /// Records reactivated.
    pub reactivated: u64,
    /// Changes that failed.
    pub failed: u64,
    /// Records this run deactivated (the runtime records them as `deactivated_by_sync`).
    pub deactivated_records: Vec<LedgerEntry>,
    /// Records this run reactivated (the runtime clears their marker).
    pub reactivated_records: Vec<LedgerEntry>,
}

impl ApplyResult {
    /// The result of applying nothing to `collection`.
    pub fn empty(collection: Collection) -> Self {
        ApplyResult {
            collection,
            changes: Vec::new(),
            created: 0,
            updated: 0,
            deactivated: 0,
            reactivated: 0,
            failed: 0,
            deactivated_records: Vec::new(),
            reactivated_records: Vec::new(),
        }
    }

    /// The failed changes with their messages.
    pub fn failures(&self) -> impl Iterator<Item = (&CompactString, &str)> {
        self.changes.iter().filter_map(|c| match &c.result {
            OutcomeResult::Failed { message } => Some((&c.key, message.as_str())),
            OutcomeResult::Done { .. } => None,
        })
    }
}

/// Splits changes into batches of one kind, at most `size` long, without a key twice.
fn batches(changes: Vec<Change>, size: usize) -> Vec<Vec<Change>> {
    let mut out: Vec<Vec<Change>> = Vec::new();
    let mut current: Vec<Change> = Vec::with_capacity(size.min(changes.len()));
    let mut keys: std::collections::HashSet<CompactString> = std::collections::HashSet::new();
    for c in changes {
        let split = current.len() >= size
            || current
                .last()
                .is_some_and(|last| ChangeKind::of(&last.op) != ChangeKind::of(&c.op))
            || keys.contains(&c.key);
        if split && !current.is_empty() {
            out.push(std::mem::take(&mut current));
            keys.clear();
        }
        keys.insert(c.key.clone());
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// What is needed of a change once it is sent.
struct Sent {
    key: CompactString,
    kind: ChangeKind,
    id: Option<CompactString>,
}

impl Sent {
    fn of(c: &Change) -> Self {
        Sent {
            key: c.key.clone(),
            kind: ChangeKind::of(&c.op),
            id: ChangeKind::target_id(&c.op).cloned(),
        }
    }
}

/// Pairs a batch's changes with the target's outcomes: exactly one result per change.
fn reconcile(
    batch: Vec<Sent>,
    outcomes: Vec<Outcome>,
    collection: Collection,
) -> Vec<AppliedChange> {
    let mut slots: Vec<Option<OutcomeResult>> = vec![None; batch.len()];
    let index: HashMap<&str, usize> = batch
        .iter()
        .enumerate()
        .map(|(i, c)| (c.key.as_str(), i))
        .collect();
    for o in outcomes {
        match index.get(o.key.as_str()) {
            Some(&i) if slots[i].is_none() => slots[i] = Some(o.result),
            Some(_) => tracing::warn!(
                %collection, key = %o.key,
                "the target returned a second outcome for a record; keeping the first"
            ),
            None => tracing::warn!(
                %collection, key = %o.key,
                "the target returned an outcome for a record that was not in the batch; ignored"
            ),
        }
    }
    drop(index);
    batch
        .into_iter()
        .zip(slots)
        .map(|(c, slot)| {
            let result = slot.unwrap_or_else(|| {
                tracing::warn!(%collection, key = %c.key, "the target returned no outcome for a record");
                OutcomeResult::Failed {
                    message: "the target returned no outcome for this record".to_owned(),
                }
            });
            let id = match &result {
                OutcomeResult::Done { id } if !id.is_empty() => Some(id.clone()),
                _ => c.id,
            };
            AppliedChange {
                key: c.key,
                kind: c.kind,
                id,
                result,
            }
        })
        .collect()
}

/// Applies a collection plan: changes are batched (see [`CollectionPlan::changes`] for the
/// order), up to `opts.concurrency` batches run at once, a failing record never aborts the
/// run, and every change ends with exactly one outcome: when the target answers with
/// missing keys a `Failed` outcome is synthesised (and logged); unknown or repeated keys
/// are logged and ignored. Reports `Stage::Apply(collection)` progress per batch.
pub async fn apply_plan(
    plan: &CollectionPlan,
    target: &dyn Target,
    opts: &ApplyOptions,
    progress: &dyn Progress,
) -> ApplyResult {
    let collection = plan.spec.collection;
    let stage = Stage::Apply(collection);
    let changes = plan.changes(opts.allow_held_deactivations);
    progress.on_event(ProgressEvent::Started {
        stage,
        total: Some(changes.len() as u64),
    });
    let spec = &plan.spec;
    let batches = batches(changes, opts.batch_size.max(1));
    let mut done: Vec<(usize, Vec<AppliedChange>)> =
        futures::stream::iter(batches.into_iter().enumerate())
            .map(|(n, batch)| async move {
                let sent: Vec<Sent> = batch.iter().map(Sent::of).collect();
                let outcomes = target.apply(spec, batch).await;
                let applied = reconcile(sent, outcomes, collection);
                progress.on_event(ProgressEvent::Advanced {
                    stage,
                    by: applied.len() as u64,
                });
                (n, applied)
            })
            .buffer_unordered(opts.concurrency.max(1))
            .collect()
            .await;
    done.sort_unstable_by_key(|(n, _)| *n);
    progress.on_event(ProgressEvent::Finished { stage });

    let mut result = ApplyResult::empty(collection);
    result.changes = done.into_iter().flat_map(|(_, c)| c).collect();
    for c in &result.changes {
        if !c.is_done() {
            result.failed += 1;
            continue;
        }
        let entry = || LedgerEntry {
            collection,
            key: c.key.clone(),
            id: c.id.clone().unwrap_or_default(),
        };
        match c.kind {
            ChangeKind::Create => result.created += 1,
            ChangeKind::Update => result.updated += 1,
            ChangeKind::Deactivate => {
                result.deactivated += 1;
                result.deactivated_records.push(entry());
            }
            ChangeKind::Reactivate => {
                result.reactivated += 1;
                result.reactivated_records.push(entry());
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Fields;

    fn create(key: &str) -> Change {
        Change {
            key: key.into(),
            op: Operation::Create {
                fields: Fields::new(),
            },
        }
    }

    #[test]
    fn batches_split_on_size_kind_and_repeated_keys() {
        let deactivate = |key: &str, id: &str| Change {
            key: key.into(),
            op: Operation::Deactivate { id: id.into() },
        };
        let changes = vec![
            create("a"),
            create("b"),
            create("c"),
            deactivate("d", "1"),
            deactivate("d", "2"),
        ];
        let sizes: Vec<usize> = batches(changes, 2).iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 1, 1, 1]);
    }

    #[test]
    fn reconcile_gives_one_outcome_per_change() {
        let batch = [create("a"), create("b"), create("c")];
        let outcomes = vec![
            Outcome::done("b", "id-b"),
            Outcome::done("zzz", "id-z"),
            Outcome::failed("a", "nope"),
            Outcome::done("a", "id-a"),
        ];
        let r = reconcile(
            batch.iter().map(Sent::of).collect(),
            outcomes,
            Collection::Users,
        );
        assert_eq!(r.len(), 3);
        assert!(matches!(&r[0].result, OutcomeResult::Failed { message } if message == "nope"));
        assert_eq!(r[1].id.as_deref(), Some("id-b"));
        assert!(
            matches!(&r[2].result, OutcomeResult::Failed { message } if message.contains("no outcome"))
        );
    }
}
