//! The generic end-to-end flow every connector reuses:
//! read the source → filter → map per collection → validate and read the target → plan
//! ([`plan`]), then apply and report ([`execute`]); or both at once ([`run`]).
//!
//! Which inactive target records this integration deactivated is not something targets
//! usually know; a [`Ledger`] answers it (the runtime keeps one from
//! [`ApplyResult::deactivated_records`] and [`ApplyResult::reactivated_records`]).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::apply::{ApplyControl, ApplyOptions, ApplyResult, apply_plan_with};
use crate::connector::{ApiStats, Progress, ProgressEvent, Source, Stage, Target};
use crate::error::{Error, ErrorKind};
use crate::filter::Filter;
use crate::mapping::{DesiredRecord, Mapping};
use crate::plan::{
    DeactivatePolicy, PlanContext, Preference, RejectedRecord, SourceState,
    plan_collection_with_rejected, reject_doomed_writes,
};
use crate::plan_file::{PLAN_VERSION, SyncPlan, fingerprint_source, fingerprint_target};
use crate::record::{
    Collection, Completeness, FieldName, SourceRecord, SourceSnapshot, TargetRecord,
    TargetSnapshot, UnknownFields,
};
use crate::report::SessionReport;
use crate::template::{MappingContext, RunView};

/// Tells the engine which inactive target records this integration deactivated (only
/// those are reactivated). Implemented for closures `Fn(Collection, &TargetRecord) -> bool`.
pub trait Ledger: Send + Sync {
    /// True when the sync deactivated `record` (an inactive record of `collection`).
    fn deactivated_by_sync(&self, collection: Collection, record: &TargetRecord) -> bool;
}

impl<F: Fn(Collection, &TargetRecord) -> bool + Send + Sync> Ledger for F {
    fn deactivated_by_sync(&self, collection: Collection, record: &TargetRecord) -> bool {
        self(collection, record)
    }
}

/// A [`Ledger`] that adds nothing: the target's own `deactivated_by_sync` flags stand.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLedger;

impl Ledger for NoLedger {
    fn deactivated_by_sync(&self, _: Collection, _: &TargetRecord) -> bool {
        false
    }
}

/// A [`Ledger`] in memory, keyed by collection and target id; fed from apply results.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    deactivated: Mutex<HashSet<(Collection, CompactString)>>,
}

impl MemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        MemoryLedger::default()
    }

    /// Records what a run deactivated and reactivated.
    pub fn record(&self, result: &ApplyResult) {
        let mut set = self
            .deactivated
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for e in &result.deactivated_records {
            set.insert((e.collection, e.id.clone()));
        }
        for e in &result.reactivated_records {
            set.remove(&(e.collection, e.id.clone()));
        }
    }
}

impl Ledger for MemoryLedger {
    fn deactivated_by_sync(&self, collection: Collection, record: &TargetRecord) -> bool {
        self.deactivated
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&(collection, record.id.clone()))
    }
}

/// Which writes a run may make and when deactivations may run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncPolicy {
    /// Create and update, create only, or update only.
    pub preference: Preference,
    /// Deactivation policy and thresholds.
    pub deactivate: DeactivatePolicy,
}

/// Everything the engine needs to know about one integration.
#[derive(Debug)]
pub struct SyncDefinition {
    /// The integration's name, for plans and reports.
    pub integration: String,
    /// `users` or `users_and_saas`, for the report.
    pub mode: Option<String>,
    /// One mapping per collection, in apply order (users before saas_users).
    pub collections: Vec<Mapping>,
    /// Which source records take part.
    pub filter: Filter,
    /// Preference and deactivation policy.
    pub policy: SyncPolicy,
    /// The source credential's name (`credential_name` in templates).
    pub credential_name: String,
}

impl SyncDefinition {
    /// Every source field the mappings and filters read, derived from their compiled
    /// templates. A source reads an optional API (an enrichment) only when this holds a
    /// field it provides (sync-safety.md S14).
    pub fn source_fields(&self) -> BTreeSet<String> {
        let mut out = self.filter.source_fields();
        for m in &self.collections {
            out.extend(m.source_fields());
        }
        out
    }
}

/// Which source fields are unknown for which records (from [`SourceSnapshot::unknown`]).
#[derive(Debug, Default)]
struct Unknown {
    /// Unknown for every record.
    all: HashSet<FieldName>,
    /// Unknown for some records, by source key.
    some: HashMap<CompactString, HashSet<FieldName>>,
}

impl Unknown {
    fn new(list: &[UnknownFields]) -> Self {
        let mut u = Unknown::default();
        for entry in list {
            match &entry.records {
                None => u.all.extend(entry.fields.iter().cloned()),
                Some(keys) => {
                    for k in keys {
                        u.some
                            .entry(k.clone())
                            .or_default()
                            .extend(entry.fields.iter().cloned());
                    }
                }
            }
        }
        u
    }

    fn is_empty(&self) -> bool {
        self.all.is_empty() && self.some.is_empty()
    }

    /// Whether `field` is unknown for the record with source key `key`.
    fn of<'a>(&'a self, key: &'a str) -> impl Fn(&str) -> bool + 'a {
        let some = self.some.get(key);
        move |field: &str| self.all.contains(field) || some.is_some_and(|s| s.contains(field))
    }
}

/// Days since `record`'s last activity when the idle-seat policy reclaims its seat: the
/// policy is on, the record is active, its last activity is known (read this run) and
/// older than the threshold, and none of its roles is excluded (roles known too). Unknown
/// activity is never idle (sync-safety S14).
fn idle_days(
    policy: &DeactivatePolicy,
    record: &SourceRecord,
    is_unknown: &dyn Fn(&str) -> bool,
    now: DateTime<Utc>,
) -> Option<u64> {
    let after = policy.idle_seats_after?;
    if !record.active || is_unknown("last_activity") || is_unknown("role") || is_unknown("roles") {
        return None;
    }
    let idle = now
        .signed_duration_since(record.last_activity?)
        .to_std()
        .ok()?;
    let excluded = record.roles.iter().any(|role| {
        policy
            .idle_exclude_roles
            .iter()
            .any(|x| x.eq_ignore_ascii_case(role))
    });
    (idle > after && !excluded).then_some(idle.as_secs() / 86_400)
}

/// Options of the planning step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Deactivations above the thresholds are approved for this run.
    pub approved: bool,
    /// The run's sync time (`sync_time` in templates); now when `None`.
    pub sync_time: Option<DateTime<Utc>>,
}

/// A plan plus what the report needs about how it was made.
#[derive(Debug, Clone)]
pub struct PlannedSync {
    /// The plan.
    pub plan: SyncPlan,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// `users` or `users_and_saas`.
    pub mode: Option<String>,
    /// The source's system name.
    pub source_system: String,
    /// The source's API figures after reading.
    pub source_stats: ApiStats,
    /// Records the source returned.
    pub source_records: u64,
    /// Records the filters excluded.
    pub excluded: u64,
    /// Warnings for the report (incomplete read, ...).
    pub warnings: Vec<String>,
}

impl PlannedSync {
    /// True when the source read was incomplete (the run is degraded).
    pub fn degraded(&self) -> bool {
        !self.plan.source_completeness.is_complete()
    }
}

/// Options of the execution step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecuteOptions {
    /// Batching, concurrency and held deactivations.
    pub apply: ApplyOptions,
    /// Write nothing; report what the plan would do.
    pub dry_run: bool,
}

/// The result of [`execute`] or [`run`].
#[derive(Debug, Clone)]
pub struct SyncOutcome {
    /// The session report.
    pub report: SessionReport,
    /// Per collection, what was applied (empty for dry runs and failed runs); feed
    /// [`ApplyResult::deactivated_records`] to the ledger.
    pub applied: Vec<ApplyResult>,
}

/// Reads the source, checking the count against any server-reported total.
async fn read_source(
    source: &dyn Source,
    progress: &dyn Progress,
) -> Result<SourceSnapshot, Error> {
    progress.on_event(ProgressEvent::Started {
        stage: Stage::ReadSource,
        total: None,
    });
    let mut snapshot = source.read(progress).await.map_err(|e| ErrorKind::Source {
        system: source.system().to_owned(),
        source: e,
    })?;
    progress.on_event(ProgressEvent::Finished {
        stage: Stage::ReadSource,
    });
    if let (Completeness::Complete, Some(total)) = (&snapshot.completeness, snapshot.reported_total)
        && total != snapshot.records.len() as u64
    {
        snapshot.completeness = Completeness::Incomplete {
            reason: format!(
                "read {} records but the source reported {total}",
                snapshot.records.len()
            ),
        };
    }
    Ok(snapshot)
}

/// Validates and reads one target collection, applying the ledger.
async fn read_target(
    mapping: &Mapping,
    target: &dyn Target,
    ledger: &dyn Ledger,
    progress: &dyn Progress,
) -> Result<TargetSnapshot, Error> {
    let spec = mapping.spec();
    let collection = spec.collection;
    let err = |stage: &'static str| {
        move |e| ErrorKind::Target {
            system: target.system().to_owned(),
            stage,
            collection,
            source: e,
        }
    };
    target.validate(spec).await.map_err(err("validating"))?;
    let stage = Stage::ReadTarget(collection);
    progress.on_event(ProgressEvent::Started { stage, total: None });
    let mut snapshot = target.read(spec, progress).await.map_err(err("reading"))?;
    progress.on_event(ProgressEvent::Finished { stage });
    for r in &mut snapshot.records {
        if !r.active && !r.deactivated_by_sync {
            r.deactivated_by_sync = ledger.deactivated_by_sync(collection, r);
        }
    }
    Ok(snapshot)
}

/// Reads both sides and plans every collection. Writes nothing.
pub async fn plan(
    def: &SyncDefinition,
    source: &dyn Source,
    target: &dyn Target,
    ledger: &dyn Ledger,
    opts: &PlanOptions,
    progress: &dyn Progress,
) -> Result<PlannedSync, Error> {
    let started_at = Utc::now();
    let sync_time = opts.sync_time.unwrap_or(started_at);
    let ctx = MappingContext::new(sync_time, def.credential_name.clone());

    let snapshot = read_source(source, progress).await?;
    let source_fingerprint = fingerprint_source(&snapshot.records);
    let completeness = snapshot.completeness.clone();
    let source_records = snapshot.records.len() as u64;
    let mut warnings = Vec::new();
    if let Completeness::Incomplete { reason } = &completeness {
        warnings.push(format!(
            "the {} read was incomplete ({reason}); creates and updates proceed, deactivations are skipped",
            source.system()
        ));
    }
    // Enrichments that could not be read: warnings, never a reason to hold deactivations.
    warnings.extend(snapshot.unknown.iter().map(|u| u.warning.clone()));
    let unknown = Unknown::new(&snapshot.unknown);

    // Filter and map: one shared view per record, every template compiled once.
    let run = RunView::new(&ctx);
    let n = def.collections.len();
    let mut desired: Vec<Vec<DesiredRecord>> = (0..n)
        .map(|_| Vec::with_capacity(snapshot.records.len()))
        .collect();
    let mut rejected: Vec<Vec<RejectedRecord>> = vec![Vec::new(); n];
    let mut excluded = 0_u64;
    for record in snapshot.records {
        let source_key = record.key.clone();
        let is_unknown = unknown.of(&source_key);
        if !unknown.is_empty()
            && let Some((rule, field)) = def.filter.unknown_rule(&is_unknown)
        {
            // Whether the record passes the filters cannot be told: leave it as it is.
            for r in &mut rejected {
                r.push(RejectedRecord {
                    key: source_key.clone(),
                    message: format!(
                        "{rule}: `{field}` could not be read from the source this run, so the filter cannot decide; the record is left as it is"
                    ),
                });
            }
            continue;
        }
        let idle = idle_days(&def.policy.deactivate, &record, &is_unknown, sync_time);
        let view = run.view(Arc::new(record));
        match def.filter.keep_view(&view) {
            Ok(true) => {}
            Ok(false) => {
                excluded += 1;
                continue;
            }
            Err(e) => {
                // Keep its key present in every collection: a failing filter never deactivates.
                for r in &mut rejected {
                    r.push(RejectedRecord {
                        key: e.key.clone(),
                        message: e.to_string(),
                    });
                }
                continue;
            }
        }
        for (i, mapping) in def.collections.iter().enumerate() {
            let mapped = mapping.desired_view(&view).and_then(|mut d| {
                if !unknown.is_empty() {
                    mapping.forget_unknown(&mut d, &is_unknown)?;
                }
                if mapping.collection() == Collection::SaasUsers && d.active {
                    d.idle_days = idle;
                    d.active = idle.is_none();
                }
                Ok(d)
            });
            match mapped {
                Ok(d) => desired[i].push(d),
                Err(e) => rejected[i].push(RejectedRecord {
                    key: e.key.clone(),
                    message: e.to_string(),
                }),
            }
        }
    }
    if excluded > 0 {
        tracing::info!(excluded, "source records excluded by filters");
    }

    let mut collections = Vec::with_capacity(n);
    for ((mapping, desired), rejected) in def.collections.iter().zip(desired).zip(rejected) {
        let actual = read_target(mapping, target, ledger, progress).await?;
        let rules = target
            .field_rules(mapping.spec())
            .await
            .map_err(|e| ErrorKind::Target {
                system: target.system().to_owned(),
                stage: "reading the field rules of",
                collection: mapping.collection(),
                source: e,
            })?;
        let ctx = PlanContext {
            preference: def.policy.preference,
            deactivate: def.policy.deactivate.clone(),
            source: SourceState(completeness.clone()),
            approved: opts.approved,
            compare: mapping.compare_options().clone(),
        };
        let mut plan =
            plan_collection_with_rejected(mapping.spec(), desired, rejected, &actual, &ctx);
        reject_doomed_writes(&mut plan, &actual, &rules, mapping.compare_options());
        plan.target_fingerprint = fingerprint_target(&actual);
        collections.push(plan);
    }

    Ok(PlannedSync {
        plan: SyncPlan {
            version: PLAN_VERSION,
            id: Uuid::now_v7(),
            integration: def.integration.clone(),
            created_at: started_at,
            source_system: source.system().to_owned(),
            target_system: target.system().to_owned(),
            source_fingerprint,
            source_completeness: completeness,
            collections,
        },
        started_at,
        mode: def.mode.clone(),
        source_system: source.system().to_owned(),
        source_stats: source.stats(),
        source_records,
        excluded,
        warnings,
    })
}

/// Re-reads both sides and checks that a saved plan still matches them (refusing a stale
/// plan with a clear message). Returns the plan ready for [`execute`].
pub async fn verify_plan(
    saved: SyncPlan,
    def: &SyncDefinition,
    source: &dyn Source,
    target: &dyn Target,
    ledger: &dyn Ledger,
    progress: &dyn Progress,
) -> Result<PlannedSync, Error> {
    let started_at = Utc::now();
    let snapshot = read_source(source, progress).await?;
    let source_fp = fingerprint_source(&snapshot.records);
    let mut target_fps = Vec::with_capacity(def.collections.len());
    for mapping in &def.collections {
        if saved.collection(mapping.collection()).is_none() {
            continue;
        }
        let actual = read_target(mapping, target, ledger, progress).await?;
        target_fps.push((mapping.collection(), fingerprint_target(&actual)));
    }
    saved.check_fresh(&source_fp, &target_fps)?;
    let mut warnings = Vec::new();
    if let Completeness::Incomplete { reason } = &saved.source_completeness {
        warnings.push(format!(
            "the {} read was incomplete when the plan was made ({reason}); deactivations are skipped",
            saved.source_system
        ));
    }
    warnings.extend(snapshot.unknown.iter().map(|u| u.warning.clone()));
    Ok(PlannedSync {
        started_at,
        mode: def.mode.clone(),
        source_system: source.system().to_owned(),
        source_stats: source.stats(),
        source_records: snapshot.records.len() as u64,
        excluded: 0,
        warnings,
        plan: saved,
    })
}

/// Applies a plan collection by collection, in order, and reports. With `dry_run`, writes
/// nothing (not even [`Target::finish`]) and reports what the plan would do.
pub async fn execute(
    planned: &PlannedSync,
    target: &dyn Target,
    opts: &ExecuteOptions,
    progress: &dyn Progress,
) -> SyncOutcome {
    execute_with(planned, target, opts, progress, &ApplyControl::none()).await
}

/// [`execute`] with write-ahead records and a stop request (see
/// [`apply_plan_with`](crate::apply::apply_plan_with)). Once the stop is requested, later
/// collections are not applied; the caller marks the report interrupted.
pub async fn execute_with(
    planned: &PlannedSync,
    target: &dyn Target,
    opts: &ExecuteOptions,
    progress: &dyn Progress,
    control: &ApplyControl<'_>,
) -> SyncOutcome {
    let plan = &planned.plan;
    let mut report = SessionReport::new(plan.integration.clone(), planned.started_at);
    report.mode.clone_from(&planned.mode);
    report.plan_id = Some(plan.id);
    report.dry_run = opts.dry_run;
    report.warnings.extend(planned.warnings.iter().cloned());
    let mut applied = Vec::new();
    if opts.dry_run {
        for c in &plan.collections {
            report.add_planned(c);
        }
    } else {
        let allow = opts.apply.allow_held_deactivations;
        let mut wrote = false;
        for c in &plan.collections {
            if !c.has_changes(allow) || control.stop.is_requested() {
                report.add_applied(c, &ApplyResult::empty(c.spec.collection), allow);
                continue;
            }
            wrote = true;
            let result = apply_plan_with(c, target, &opts.apply, progress, control).await;
            report.add_applied(c, &result, allow);
            applied.push(result);
        }
        if wrote && let Err(e) = target.finish().await {
            report.fatal = Some(format!(
                "finishing the writes in {} failed: {e}",
                target.system()
            ));
        }
    }
    report.add_api_stats(&planned.source_system, &planned.source_stats);
    report.add_api_stats(target.system(), &target.stats());
    report.finish(planned.degraded());
    SyncOutcome { report, applied }
}
