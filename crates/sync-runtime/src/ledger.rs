//! The ledger of the records an integration deactivated (only those are ever reactivated,
//! sync-safety S5) and its write-ahead intents (S15), whatever stores it: what a run
//! intends to send is recorded durably before it is sent and confirmed after, and the next
//! run reconciles what a killed run left unconfirmed against what the target shows.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use sync_engine::{
    AppliedChange, ApplyResult, Change, ChangeKind, Collection, Operation, TargetRecord,
};

use crate::store::StateStore;

/// A write this integration is about to send (or sent without seeing the answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// `deactivate` or `reactivate`.
    pub kind: ChangeKind,
    /// The record's sync key.
    pub key: String,
}

/// Which records this integration deactivated, per collection (S5: only those are
/// reactivated). Keyed by the target's record id, with the sync key alongside for people
/// reading the file. Also the write-ahead log of the run in progress (S15): deactivations,
/// reactivations and creates recorded before they are sent and confirmed after; a run
/// killed in between leaves them `pending` for the next run to reconcile.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ledger {
    /// Target id → sync key of every record this integration deactivated, by collection.
    pub deactivated: BTreeMap<Collection, BTreeMap<String, String>>,
    /// Target id → deactivation or reactivation sent but not confirmed, by collection.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<Collection, BTreeMap<String, Intent>>,
    /// Sync keys of creates sent but not confirmed, by collection.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending_creates: BTreeMap<Collection, BTreeSet<String>>,
}

impl Ledger {
    /// True when this integration deactivated the record with target id `id`.
    pub fn contains(&self, collection: Collection, id: &str) -> bool {
        self.deactivated
            .get(&collection)
            .is_some_and(|m| m.contains_key(id))
    }

    /// True when a run left writes unconfirmed.
    pub fn has_pending(&self) -> bool {
        self.pending.values().any(|m| !m.is_empty())
            || self.pending_creates.values().any(|s| !s.is_empty())
    }

    /// Records what one apply step deactivated and reactivated.
    pub fn record(&mut self, result: &ApplyResult) {
        for e in &result.deactivated_records {
            self.deactivated
                .entry(e.collection)
                .or_default()
                .insert(e.id.to_string(), e.key.to_string());
        }
        for e in &result.reactivated_records {
            if let Some(m) = self.deactivated.get_mut(&e.collection) {
                m.remove(e.id.as_str());
            }
        }
    }

    /// Records the intents of a batch about to be sent. True when anything was added
    /// (updates leave nothing a later run relies on).
    pub fn intend(&mut self, collection: Collection, batch: &[Change]) -> bool {
        let mut added = false;
        for c in batch {
            match &c.op {
                Operation::Deactivate { id } | Operation::Reactivate { id, .. } => {
                    self.pending.entry(collection).or_default().insert(
                        id.to_string(),
                        Intent {
                            kind: ChangeKind::of(&c.op),
                            key: c.key.to_string(),
                        },
                    );
                    added = true;
                }
                Operation::Create { .. } => {
                    self.pending_creates
                        .entry(collection)
                        .or_default()
                        .insert(c.key.to_string());
                    added = true;
                }
                Operation::Update { .. } => {}
            }
        }
        added
    }

    /// Confirms a batch's outcomes: applied deactivations enter the ledger, applied
    /// reactivations leave it. A failed change keeps its intent (the target may have
    /// applied it anyway, e.g. a 5xx after the write): the next run reconciles it.
    pub fn confirm(&mut self, collection: Collection, applied: &[AppliedChange]) {
        for c in applied.iter().filter(|c| c.is_done()) {
            match (c.kind, &c.id) {
                (ChangeKind::Deactivate, Some(id)) => {
                    self.unpend(collection, id);
                    self.deactivated
                        .entry(collection)
                        .or_default()
                        .insert(id.to_string(), c.key.to_string());
                }
                (ChangeKind::Reactivate, Some(id)) => {
                    self.unpend(collection, id);
                    if let Some(m) = self.deactivated.get_mut(&collection) {
                        m.remove(id.as_str());
                    }
                }
                (ChangeKind::Create, _) => {
                    if let Some(s) = self.pending_creates.get_mut(&collection) {
                        s.remove(c.key.as_str());
                    }
                }
                _ => {}
            }
        }
    }

    fn unpend(&mut self, collection: Collection, id: &str) {
        if let Some(m) = self.pending.get_mut(&collection) {
            m.remove(id);
        }
    }

    /// Settles the intents a killed run left against what the target showed in a complete
    /// read (`seen_inactive`: the records found inactive among those pending): a pending
    /// deactivation or reactivation whose record is inactive leaves the record in the
    /// ledger (the deactivation happened, or the reactivation did not); otherwise it
    /// leaves the ledger. Unconfirmed creates need nothing: the plan found them by their
    /// sync key (linked, not created again). Returns a note for the report, if any.
    pub fn reconcile(&mut self, seen_inactive: &HashSet<(Collection, String)>) -> Option<String> {
        if !self.has_pending() {
            return None;
        }
        let (mut inactive, mut active) = (0_usize, 0_usize);
        for (collection, intents) in std::mem::take(&mut self.pending) {
            for (id, intent) in intents {
                if seen_inactive.contains(&(collection, id.clone())) {
                    inactive += 1;
                    self.deactivated
                        .entry(collection)
                        .or_default()
                        .insert(id, intent.key);
                } else {
                    active += 1;
                    if let Some(m) = self.deactivated.get_mut(&collection) {
                        m.remove(&id);
                    }
                }
            }
        }
        let creates: usize = std::mem::take(&mut self.pending_creates)
            .values()
            .map(BTreeSet::len)
            .sum();
        Some(format!(
            "an earlier run ended without confirming {} write(s); reconciled against the target: \
             {inactive} record(s) found inactive (kept as deactivated by this sync), {active} \
             found active or gone, {creates} unconfirmed create(s) matched by sync key",
            inactive + active + creates
        ))
    }
}

impl sync_engine::Ledger for Ledger {
    fn deactivated_by_sync(&self, collection: Collection, record: &TargetRecord) -> bool {
        self.contains(collection, &record.id)
            || self
                .pending
                .get(&collection)
                .is_some_and(|m| m.contains_key(record.id.as_str()))
    }
}

/// A [`Ledger`] as the engine reads it while planning, noting which pending intents' records
/// the target shows inactive (for [`Ledger::reconcile`]).
#[derive(Debug)]
pub struct ReconcilingLedger<'a> {
    ledger: &'a Ledger,
    seen_inactive: Mutex<HashSet<(Collection, String)>>,
}

impl<'a> ReconcilingLedger<'a> {
    /// Wraps `ledger`.
    pub fn new(ledger: &'a Ledger) -> Self {
        ReconcilingLedger {
            ledger,
            seen_inactive: Mutex::new(HashSet::new()),
        }
    }

    /// The pending records seen inactive.
    pub fn into_seen(self) -> HashSet<(Collection, String)> {
        self.seen_inactive
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl sync_engine::Ledger for ReconcilingLedger<'_> {
    fn deactivated_by_sync(&self, collection: Collection, record: &TargetRecord) -> bool {
        let pending = self
            .ledger
            .pending
            .get(&collection)
            .is_some_and(|m| m.contains_key(record.id.as_str()));
        if pending && !record.active {
            self.seen_inactive
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert((collection, record.id.to_string()));
        }
        self.ledger.contains(collection, &record.id) || pending
    }
}

/// The write-ahead journal of one run: the ledger, saved durably with every batch's
/// intents before the batch is sent. Confirmations are kept in memory and written with the
/// next batch's intents or by [`Journal::flush`] (one durable write per batch, not per
/// record). Saves are serialised, so a slow save never lets an older ledger overwrite a
/// newer one.
pub struct Journal<'a> {
    store: &'a dyn StateStore,
    integration: &'a str,
    inner: tokio::sync::Mutex<JournalInner>,
}

impl std::fmt::Debug for Journal<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("store", &self.store.describe())
            .field("integration", &self.integration)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct JournalInner {
    ledger: Ledger,
    dirty: bool,
    error: Option<String>,
}

impl<'a> Journal<'a> {
    /// A journal over `ledger` (already reconciled and saved).
    pub fn new(store: &'a dyn StateStore, integration: &'a str, ledger: Ledger) -> Self {
        Journal {
            store,
            integration,
            inner: tokio::sync::Mutex::new(JournalInner {
                ledger,
                dirty: false,
                error: None,
            }),
        }
    }

    /// Writes confirmations not yet stored; the first error, if any, names where.
    pub async fn flush(&self) -> Result<(), String> {
        let mut inner = self.inner.lock().await;
        if inner.dirty {
            self.store
                .save_ledger(self.integration, &inner.ledger)
                .await
                .map_err(|e| sync_engine::error::report(&e))?;
            inner.dirty = false;
        }
        inner.error.clone().map_or(Ok(()), Err)
    }

    /// The ledger as it stands.
    pub async fn ledger(&self) -> Ledger {
        self.inner.lock().await.ledger.clone()
    }
}

#[async_trait::async_trait]
impl sync_engine::WriteAhead for Journal<'_> {
    async fn intend(&self, collection: Collection, batch: &[Change]) -> Result<(), String> {
        let mut inner = self.inner.lock().await;
        let added = inner.ledger.intend(collection, batch);
        if added || inner.dirty {
            if let Err(e) = self
                .store
                .save_ledger(self.integration, &inner.ledger)
                .await
            {
                let message = format!(
                    "the {} cannot be written: {}",
                    self.store.describe(),
                    sync_engine::error::report(&e)
                );
                inner.error.get_or_insert_with(|| message.clone());
                return Err(message);
            }
            inner.dirty = false;
        }
        Ok(())
    }

    async fn confirm(&self, collection: Collection, applied: &[AppliedChange]) {
        let mut inner = self.inner.lock().await;
        inner.ledger.confirm(collection, applied);
        inner.dirty = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StateDir;

    fn deactivate(key: &str, id: &str) -> Change {
        Change {
            key: key.into(),
            op: Operation::Deactivate { id: id.into() },
        }
    }

    fn done(key: &str, kind: ChangeKind, id: &str) -> AppliedChange {
        AppliedChange {
            key: key.into(),
            kind,
            id: Some(id.into()),
            result: sync_engine::OutcomeResult::Done { id: id.into() },
        }
    }

    fn target(id: &str, active: bool) -> TargetRecord {
        TargetRecord {
            id: id.into(),
            key: None,
            fields: sync_engine::Fields::new(),
            active,
            owned: true,
            deactivated_by_sync: false,
        }
    }

    #[tokio::test]
    async fn journal_writes_intents_before_the_batch_and_confirms_after() {
        use sync_engine::WriteAhead as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::open(dir.path()).expect("open");
        let journal = Journal::new(&state, "Directory users", Ledger::default());
        let batch = [deactivate("U1", "1"), deactivate("U2", "2")];
        journal
            .intend(Collection::Users, &batch)
            .await
            .expect("intend");
        // Stored before anything is sent: a kill now leaves both pending.
        let on_disk = state.ledger("Directory users").expect("load");
        assert_eq!(on_disk.pending[&Collection::Users].len(), 2, "{on_disk:?}");
        assert!(!on_disk.contains(Collection::Users, "1"));
        let failed = AppliedChange {
            result: sync_engine::OutcomeResult::Failed {
                message: "503".to_owned(),
            },
            ..done("U2", ChangeKind::Deactivate, "2")
        };
        journal
            .confirm(
                Collection::Users,
                &[done("U1", ChangeKind::Deactivate, "1"), failed],
            )
            .await;
        journal.flush().await.expect("flush");
        let on_disk = state.ledger("Directory users").expect("load");
        assert!(on_disk.contains(Collection::Users, "1"), "confirmed");
        assert!(
            on_disk.pending[&Collection::Users].contains_key("2"),
            "a failed write stays pending for the next run to reconcile"
        );
        // Updates leave nothing to record: no write at all.
        let update = Change {
            key: "U3".into(),
            op: Operation::Update {
                id: "3".into(),
                set: sync_engine::Fields::new(),
                adopt: false,
            },
        };
        let mut ledger = on_disk.clone();
        assert!(!ledger.intend(Collection::Users, &[update]));
    }

    #[test]
    fn unconfirmed_intents_are_settled_by_what_the_target_shows() {
        use sync_engine::Ledger as _;
        let mut ledger = Ledger::default();
        ledger.intend(
            Collection::Users,
            &[deactivate("U1", "1"), deactivate("U2", "2")],
        );
        ledger.confirm(
            Collection::Users,
            &[done("U4", ChangeKind::Deactivate, "4")],
        );
        ledger.record(&ApplyResult {
            deactivated_records: vec![sync_engine::LedgerEntry {
                collection: Collection::Users,
                key: "U3".into(),
                id: "3".into(),
            }],
            ..ApplyResult::empty(Collection::Users)
        });
        ledger.intend(
            Collection::Users,
            &[
                Change {
                    key: "U3".into(),
                    op: Operation::Reactivate {
                        id: "3".into(),
                        set: sync_engine::Fields::new(),
                    },
                },
                Change {
                    key: "U9".into(),
                    op: Operation::Create {
                        fields: sync_engine::Fields::new(),
                    },
                },
            ],
        );
        let view = ReconcilingLedger::new(&ledger);
        // 1 reached the target (inactive), 2 did not (active), 3's reactivation did not.
        assert!(view.deactivated_by_sync(Collection::Users, &target("1", false)));
        assert!(view.deactivated_by_sync(Collection::Users, &target("3", false)));
        assert!(!view.deactivated_by_sync(Collection::Users, &target("5", false)));
        let seen = view.into_seen();
        assert_eq!(seen.len(), 2);
        let note = ledger.reconcile(&seen).expect("a note");
        assert!(note.contains("2 record(s) found inactive"), "{note}");
        assert!(note.contains("1 unconfirmed create(s)"), "{note}");
        assert!(!ledger.has_pending());
        for (id, expected) in [("1", true), ("2", false), ("3", true), ("4", true)] {
            assert_eq!(ledger.contains(Collection::Users, id), expected, "{id}");
        }
        assert!(ledger.reconcile(&HashSet::new()).is_none(), "nothing left");
    }
}
