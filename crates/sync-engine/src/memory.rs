//! In-memory [`Source`] and [`Target`] for tests, examples and documentation.
//!
//! [`MemoryTarget`] behaves like a small, well-behaved target: it assigns ids, stores every
//! field it is given, treats records carrying the sync key (or created through it) as owned,
//! and remembers which records it deactivated through a sync. Per-key failures, read and
//! validation errors can be injected, and it counts its write calls and the largest number
//! of `apply` calls in flight at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use compact_str::{CompactString, format_compact};

use crate::connector::{
    ApiStats, Change, CollectionSpec, ConnectorError, ErrorKind, FieldRule, FieldSpec, Operation,
    Outcome, Progress, ProgressEvent, Source, Stage, Target,
};
use crate::record::{
    Collection, Completeness, Fields, SourceRecord, SourceSnapshot, TargetRecord, TargetSnapshot,
    UnknownFields, Value,
};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock only happens in a failing test; keep going.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Debug)]
struct SourceState {
    records: Vec<SourceRecord>,
    completeness: Completeness,
    reported_total: Option<u64>,
    unknown: Vec<UnknownFields>,
    error: Option<(ErrorKind, String)>,
}

/// An in-memory source.
#[derive(Debug)]
pub struct MemorySource {
    system: String,
    fields: Vec<FieldSpec>,
    state: Mutex<SourceState>,
    calls: AtomicU64,
}

impl MemorySource {
    /// A source named `memory` offering `fields` and holding `records` (read complete).
    pub fn new(fields: Vec<FieldSpec>, records: Vec<SourceRecord>) -> Self {
        MemorySource {
            system: "memory".to_owned(),
            fields,
            state: Mutex::new(SourceState {
                records,
                completeness: Completeness::Complete,
                reported_total: None,
                unknown: Vec::new(),
                error: None,
            }),
            calls: AtomicU64::new(0),
        }
    }

    /// Builder: the system name used in reports.
    #[must_use]
    pub fn with_system(mut self, system: impl Into<String>) -> Self {
        self.system = system.into();
        self
    }

    /// Replaces the records.
    pub fn set_records(&self, records: Vec<SourceRecord>) {
        lock(&self.state).records = records;
    }

    /// Makes later reads report this completeness.
    pub fn set_completeness(&self, completeness: Completeness) {
        lock(&self.state).completeness = completeness;
    }

    /// Makes later reads report this server total.
    pub fn set_reported_total(&self, total: Option<u64>) {
        lock(&self.state).reported_total = total;
    }

    /// Makes later reads report these fields as unknown (an enrichment that failed).
    pub fn set_unknown(&self, unknown: Vec<UnknownFields>) {
        lock(&self.state).unknown = unknown;
    }

    /// Makes later reads fail (`None` to stop).
    pub fn set_error(&self, error: Option<(ErrorKind, String)>) {
        lock(&self.state).error = error;
    }
}

#[async_trait]
impl Source for MemorySource {
    fn system(&self) -> &str {
        &self.system
    }

    async fn validate(&self) -> Result<Vec<String>, ConnectorError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let state = lock(&self.state);
        if let Some((kind, message)) = &state.error {
            return Err(ConnectorError::new(*kind, message.clone()));
        }
        Ok(vec![format!(
            "{}: {} records readable",
            self.system,
            state.records.len()
        )])
    }

    fn fields(&self) -> Vec<FieldSpec> {
        self.fields.clone()
    }

    async fn read(&self, progress: &dyn Progress) -> Result<SourceSnapshot, ConnectorError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let state = lock(&self.state);
        if let Some((kind, message)) = &state.error {
            return Err(ConnectorError::new(*kind, message.clone()));
        }
        progress.on_event(ProgressEvent::Advanced {
            stage: Stage::ReadSource,
            by: state.records.len() as u64,
        });
        Ok(SourceSnapshot {
            records: state.records.clone(),
            completeness: state.completeness.clone(),
            reported_total: state.reported_total,
            unknown: state.unknown.clone(),
        })
    }

    fn stats(&self) -> ApiStats {
        ApiStats {
            calls: self.calls.load(Ordering::Relaxed),
            ..ApiStats::default()
        }
    }
}

/// A record as [`MemoryTarget`] stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// Target id.
    pub id: CompactString,
    /// Every field written.
    pub fields: Fields,
    /// Active flag.
    pub active: bool,
    /// Created through a sync.
    pub created_by_sync: bool,
    /// Deactivated through a sync (cleared on reactivation).
    pub deactivated_by_sync: bool,
}

/// How many writes a [`MemoryTarget`] received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteCounters {
    /// `apply` calls (batches).
    pub apply_calls: u64,
    /// Creates applied.
    pub creates: u64,
    /// Updates applied.
    pub updates: u64,
    /// Deactivations applied.
    pub deactivations: u64,
    /// Reactivations applied.
    pub reactivations: u64,
    /// Changes that failed.
    pub failures: u64,
    /// `finish` calls.
    pub finish_calls: u64,
}

impl WriteCounters {
    /// Every applied or failed change.
    pub fn changes(&self) -> u64 {
        self.creates + self.updates + self.deactivations + self.reactivations + self.failures
    }
}

#[derive(Debug, Default)]
struct TargetState {
    collections: BTreeMap<Collection, Vec<StoredRecord>>,
    next_id: u64,
    failures: HashMap<CompactString, String>,
    read_error: Option<(ErrorKind, String)>,
    validate_error: Option<(ErrorKind, String)>,
    counters: WriteCounters,
    reads: u64,
    rules: BTreeMap<Collection, Vec<FieldRule>>,
}

/// An in-memory target.
#[derive(Debug)]
pub struct MemoryTarget {
    system: String,
    state: Mutex<TargetState>,
    apply_delay: Option<Duration>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Default for MemoryTarget {
    fn default() -> Self {
        MemoryTarget::new()
    }
}

impl MemoryTarget {
    /// An empty target named `memory`.
    pub fn new() -> Self {
        MemoryTarget {
            system: "memory".to_owned(),
            state: Mutex::new(TargetState::default()),
            apply_delay: None,
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }

    /// Builder: the system name used in reports.
    #[must_use]
    pub fn with_system(mut self, system: impl Into<String>) -> Self {
        self.system = system.into();
        self
    }

    /// Builder: every `apply` call sleeps this long (`tokio::time`, so tests can pause time).
    #[must_use]
    pub fn with_apply_delay(mut self, delay: Duration) -> Self {
        self.apply_delay = Some(delay);
        self
    }

    /// Adds an existing record (e.g. a person created by hand). Returns its id.
    pub fn insert(&self, collection: Collection, fields: Fields, active: bool) -> CompactString {
        let mut s = lock(&self.state);
        s.next_id += 1;
        let id = format_compact!("m{}", s.next_id);
        s.collections
            .entry(collection)
            .or_default()
            .push(StoredRecord {
                id: id.clone(),
                fields,
                active,
                created_by_sync: false,
                deactivated_by_sync: false,
            });
        id
    }

    /// Adds a full stored record as is (its id must be unique).
    pub fn insert_record(&self, collection: Collection, record: StoredRecord) {
        lock(&self.state)
            .collections
            .entry(collection)
            .or_default()
            .push(record);
    }

    /// Every stored record of a collection.
    pub fn records(&self, collection: Collection) -> Vec<StoredRecord> {
        lock(&self.state)
            .collections
            .get(&collection)
            .cloned()
            .unwrap_or_default()
    }

    /// The stored record with this id.
    pub fn get(&self, collection: Collection, id: &str) -> Option<StoredRecord> {
        lock(&self.state)
            .collections
            .get(&collection)?
            .iter()
            .find(|r| r.id == id)
            .cloned()
    }

    /// Changes the active flag by hand (not through a sync), e.g. an admin deactivating
    /// a person.
    pub fn set_active_by_hand(&self, collection: Collection, id: &str, active: bool) -> bool {
        let mut s = lock(&self.state);
        let Some(r) = s
            .collections
            .get_mut(&collection)
            .and_then(|c| c.iter_mut().find(|r| r.id == id))
        else {
            return false;
        };
        r.active = active;
        r.deactivated_by_sync = false;
        true
    }

    /// Makes every change for `key` fail with `message`.
    pub fn fail_key(&self, key: impl Into<CompactString>, message: impl Into<String>) {
        lock(&self.state)
            .failures
            .insert(key.into(), message.into());
    }

    /// Declares what the target's metadata says about fields of `collection` (required,
    /// unique), as [`Target::field_rules`] answers it. Not enforced on apply: the engine is
    /// expected to send nothing that breaks them.
    pub fn set_field_rules(&self, collection: Collection, rules: Vec<FieldRule>) {
        lock(&self.state).rules.insert(collection, rules);
    }

    /// Makes later reads fail (`None` to stop).
    pub fn set_read_error(&self, error: Option<(ErrorKind, String)>) {
        lock(&self.state).read_error = error;
    }

    /// Makes later validations fail (`None` to stop).
    pub fn set_validate_error(&self, error: Option<(ErrorKind, String)>) {
        lock(&self.state).validate_error = error;
    }

    /// Write counters so far.
    pub fn counters(&self) -> WriteCounters {
        lock(&self.state).counters
    }

    /// The largest number of `apply` calls that were in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    fn apply_one(s: &mut TargetState, collection: Collection, change: Change) -> Outcome {
        if let Some(message) = s.failures.get(&change.key) {
            let message = message.clone();
            s.counters.failures += 1;
            return Outcome::failed(change.key, message);
        }
        let key = change.key;
        match change.op {
            Operation::Create { fields } => {
                s.next_id += 1;
                let id = format_compact!("m{}", s.next_id);
                s.collections
                    .entry(collection)
                    .or_default()
                    .push(StoredRecord {
                        id: id.clone(),
                        fields,
                        active: true,
                        created_by_sync: true,
                        deactivated_by_sync: false,
                    });
                s.counters.creates += 1;
                Outcome::done(key, id)
            }
            Operation::Update { id, set, .. } => {
                let Some(r) = find(s, collection, &id) else {
                    s.counters.failures += 1;
                    return Outcome::failed(key, format!("no record with id {id}"));
                };
                for (n, v) in set.iter() {
                    r.fields.insert(n.clone(), v.clone());
                }
                s.counters.updates += 1;
                Outcome::done(key, id)
            }
            Operation::Deactivate { id } => {
                let Some(r) = find(s, collection, &id) else {
                    s.counters.failures += 1;
                    return Outcome::failed(key, format!("no record with id {id}"));
                };
                r.active = false;
                r.deactivated_by_sync = true;
                s.counters.deactivations += 1;
                Outcome::done(key, id)
            }
            Operation::Reactivate { id, set } => {
                let Some(r) = find(s, collection, &id) else {
                    s.counters.failures += 1;
                    return Outcome::failed(key, format!("no record with id {id}"));
                };
                for (n, v) in set.iter() {
                    r.fields.insert(n.clone(), v.clone());
                }
                r.active = true;
                r.deactivated_by_sync = false;
                s.counters.reactivations += 1;
                Outcome::done(key, id)
            }
        }
    }
}

fn find<'a>(
    s: &'a mut TargetState,
    collection: Collection,
    id: &str,
) -> Option<&'a mut StoredRecord> {
    s.collections
        .get_mut(&collection)?
        .iter_mut()
        .find(|r| r.id == id)
}

/// The text of a key field value.
fn key_of(v: Option<&Value>) -> Option<CompactString> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().into()),
        Value::Int(n) => Some(format_compact!("{n}")),
        _ => None,
    }
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Target for MemoryTarget {
    fn system(&self) -> &str {
        &self.system
    }

    async fn validate(&self, spec: &CollectionSpec) -> Result<(), ConnectorError> {
        if let Some((kind, message)) = &lock(&self.state).validate_error {
            return Err(ConnectorError::new(
                *kind,
                format!("{message} (collection {})", spec.collection),
            ));
        }
        Ok(())
    }

    async fn field_rules(&self, spec: &CollectionSpec) -> Result<Vec<FieldRule>, ConnectorError> {
        Ok(lock(&self.state)
            .rules
            .get(&spec.collection)
            .cloned()
            .unwrap_or_default())
    }

    async fn read(
        &self,
        spec: &CollectionSpec,
        progress: &dyn Progress,
    ) -> Result<TargetSnapshot, ConnectorError> {
        let mut s = lock(&self.state);
        s.reads += 1;
        if let Some((kind, message)) = &s.read_error {
            return Err(ConnectorError::new(*kind, message.clone()));
        }
        let records: Vec<TargetRecord> = s
            .collections
            .get(&spec.collection)
            .map(|c| {
                c.iter()
                    .map(|r| {
                        let key = key_of(r.fields.get(&spec.sync_key));
                        let fields = spec
                            .fields
                            .iter()
                            .filter_map(|n| r.fields.get(n).map(|v| (n.clone(), v.clone())))
                            .collect();
                        TargetRecord {
                            id: r.id.clone(),
                            owned: key.is_some() || r.created_by_sync,
                            key,
                            fields,
                            active: r.active,
                            deactivated_by_sync: r.deactivated_by_sync,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        progress.on_event(ProgressEvent::Advanced {
            stage: Stage::ReadTarget(spec.collection),
            by: records.len() as u64,
        });
        Ok(TargetSnapshot { records })
    }

    async fn apply(&self, spec: &CollectionSpec, batch: Vec<Change>) -> Vec<Outcome> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let _guard = InFlight(&self.in_flight);
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        if let Some(d) = self.apply_delay {
            tokio::time::sleep(d).await;
        }
        let mut s = lock(&self.state);
        s.counters.apply_calls += 1;
        batch
            .into_iter()
            .map(|c| MemoryTarget::apply_one(&mut s, spec.collection, c))
            .collect()
    }

    async fn finish(&self) -> Result<(), ConnectorError> {
        lock(&self.state).counters.finish_calls += 1;
        Ok(())
    }

    fn stats(&self) -> ApiStats {
        let s = lock(&self.state);
        ApiStats {
            calls: s.reads + s.counters.apply_calls + s.counters.finish_calls,
            ..ApiStats::default()
        }
    }
}
