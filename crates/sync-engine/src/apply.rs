//! Executing a [`CollectionPlan`] through a [`Target`]: batches, bounded concurrency, and
//! exactly one outcome per change.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use compact_str::CompactString;
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};

use crate::connector::{
    Change, CollectionSpec, Operation, Outcome, OutcomeResult, Progress, ProgressEvent, Stage,
    Target,
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

/// Write-ahead records of the writes a run sends (sync-safety S15): whatever a later run
/// relies on is recorded durably before the write it describes is sent, and confirmed after.
#[async_trait::async_trait]
pub trait WriteAhead: Send + Sync {
    /// Called before `batch` is sent. An error means the intent could not be recorded: the
    /// batch is not sent (its changes fail with the message) and no further batch starts.
    async fn intend(&self, collection: Collection, batch: &[Change]) -> Result<(), String>;

    /// Called with a batch's outcomes once the target answered. May defer making the
    /// confirmation durable (an unconfirmed intent is reconciled by the next run).
    async fn confirm(&self, collection: Collection, applied: &[AppliedChange]);
}

/// A [`WriteAhead`] that records nothing (tests, dry runs, in-memory targets).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoWriteAhead;

#[async_trait::async_trait]
impl WriteAhead for NoWriteAhead {
    async fn intend(&self, _: Collection, _: &[Change]) -> Result<(), String> {
        Ok(())
    }

    async fn confirm(&self, _: Collection, _: &[AppliedChange]) {}
}

/// A request to stop applying (SIGINT, SIGTERM, a cancelled run): no new batch starts once
/// it is set; batches in flight get [`ApplyControl::grace`] to finish. Cheap to clone
/// (shared).
#[derive(Debug, Clone, Default)]
pub struct Stop {
    inner: Arc<StopInner>,
}

#[derive(Debug, Default)]
struct StopInner {
    requested: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Stop {
    /// A stop nobody has requested yet.
    pub fn new() -> Self {
        Stop::default()
    }

    /// Requests the stop (idempotent).
    pub fn request(&self) {
        self.inner.requested.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// True once [`Stop::request`] was called.
    pub fn is_requested(&self) -> bool {
        self.inner.requested.load(Ordering::SeqCst)
    }

    /// Completes once the stop is requested (at once when it already was).
    pub async fn requested(&self) {
        loop {
            let notified = self.inner.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.is_requested() {
                return;
            }
            notified.await;
        }
    }
}

/// What an apply reports to and listens for, besides the target.
#[derive(Clone, Copy)]
pub struct ApplyControl<'a> {
    /// Records intents and confirmations around every batch.
    pub write_ahead: &'a dyn WriteAhead,
    /// Stops sending new batches when requested.
    pub stop: &'a Stop,
    /// How long batches in flight may take to finish once a stop is requested; past it
    /// they are abandoned (their intents stay unconfirmed for the next run to reconcile).
    pub grace: Duration,
}

/// The default wait for batches in flight after a stop request.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);

impl std::fmt::Debug for ApplyControl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplyControl")
            .field("stop", &self.stop.is_requested())
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

static NO_WRITE_AHEAD: NoWriteAhead = NoWriteAhead;

impl ApplyControl<'_> {
    /// No write-ahead records and a stop that is never requested.
    pub fn none() -> ApplyControl<'static> {
        static NEVER: std::sync::OnceLock<Stop> = std::sync::OnceLock::new();
        ApplyControl {
            write_ahead: &NO_WRITE_AHEAD,
            stop: NEVER.get_or_init(Stop::new),
            grace: DEFAULT_STOP_GRACE,
        }
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
    apply_plan_with(plan, target, opts, progress, &ApplyControl::none()).await
}

/// [`apply_plan`] with write-ahead records and a stop request: `control.write_ahead` hears
/// of every batch before it is sent and after it is answered; once `control.stop` is
/// requested no new batch starts, and batches in flight get `control.grace` to finish.
/// Changes never sent (or abandoned in flight) have no entry in the result.
pub async fn apply_plan_with(
    plan: &CollectionPlan,
    target: &dyn Target,
    opts: &ApplyOptions,
    progress: &dyn Progress,
    control: &ApplyControl<'_>,
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
    // Set when an intent could not be recorded: no batch after it is sent.
    let halted = AtomicBool::new(false);
    let halted = &halted;
    let stream = futures::stream::iter(batches.into_iter().enumerate())
        .take_while(move |_| {
            futures::future::ready(!control.stop.is_requested() && !halted.load(Ordering::SeqCst))
        })
        .map(|(n, batch)| async move {
            let sender = BatchSender {
                target,
                spec,
                progress,
                control,
                halted,
            };
            (n, sender.send(batch).await)
        })
        .buffer_unordered(opts.concurrency.max(1));
    let mut done = collect_until_stopped(stream, control, collection).await;
    done.sort_unstable_by_key(|(n, _)| *n);
    progress.on_event(ProgressEvent::Finished { stage });
    tally(collection, done.into_iter().flat_map(|(_, c)| c).collect())
}

/// What sending one batch needs.
struct BatchSender<'a> {
    target: &'a dyn Target,
    spec: &'a CollectionSpec,
    progress: &'a dyn Progress,
    control: &'a ApplyControl<'a>,
    /// Set when an intent could not be recorded.
    halted: &'a AtomicBool,
}

impl BatchSender<'_> {
    /// Records the batch's intent, sends it and confirms its outcomes; when the intent
    /// cannot be recorded, nothing is sent, every change fails and `halted` is set.
    async fn send(&self, batch: Vec<Change>) -> Vec<AppliedChange> {
        let collection = self.spec.collection;
        let sent: Vec<Sent> = batch.iter().map(Sent::of).collect();
        if let Err(e) = self.control.write_ahead.intend(collection, &batch).await {
            self.halted.store(true, Ordering::SeqCst);
            tracing::error!(%collection, error = %e, "cannot record the intent of a batch; not sending it");
            let message = format!("not sent: {e}");
            return sent
                .into_iter()
                .map(|c| AppliedChange {
                    key: c.key,
                    kind: c.kind,
                    id: c.id,
                    result: OutcomeResult::Failed {
                        message: message.clone(),
                    },
                })
                .collect();
        }
        let outcomes = self.target.apply(self.spec, batch).await;
        let applied = reconcile(sent, outcomes, collection);
        self.control.write_ahead.confirm(collection, &applied).await;
        self.progress.on_event(ProgressEvent::Advanced {
            stage: Stage::Apply(collection),
            by: applied.len() as u64,
        });
        applied
    }
}

/// Collects the answered batches until the stream ends; once a stop is requested, waits
/// at most `control.grace` for those in flight and abandons the rest.
async fn collect_until_stopped(
    stream: impl futures::Stream<Item = (usize, Vec<AppliedChange>)>,
    control: &ApplyControl<'_>,
    collection: Collection,
) -> Vec<(usize, Vec<AppliedChange>)> {
    let mut stream = std::pin::pin!(stream);
    let mut done: Vec<(usize, Vec<AppliedChange>)> = Vec::new();
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let next = if let Some(deadline) = deadline {
            if let Ok(next) = tokio::time::timeout_at(deadline, stream.next()).await {
                next
            } else {
                tracing::warn!(
                    %collection, grace = ?control.grace,
                    "batches still in flight after the stop grace period; abandoning them"
                );
                break;
            }
        } else {
            tokio::select! {
                next = stream.next() => next,
                () = control.stop.requested() => {
                    tracing::info!(%collection, "stop requested: no new batches; waiting for those in flight");
                    deadline = Some(tokio::time::Instant::now() + control.grace);
                    continue;
                }
            }
        };
        match next {
            Some(batch) => done.push(batch),
            None => break,
        }
    }
    done
}

/// The result of the applied changes: counts by kind, failures, and the ledger entries of
/// deactivations and reactivations that were done.
fn tally(collection: Collection, changes: Vec<AppliedChange>) -> ApplyResult {
    let mut result = ApplyResult::empty(collection);
    result.changes = changes;
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
