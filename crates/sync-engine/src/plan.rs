//! Reconciliation: a pure function from desired records, the target's state and the policy
//! to a [`CollectionPlan`].
//!
//! Matching: on the sync key first; then, for records the sync key did not find, on the
//! fallback keys in order (case-insensitive), which adopts an existing record this
//! integration does not own instead of creating a duplicate. Adoption is an update that
//! sets the sync key field. An email change is therefore an update, never a deactivation
//! plus a creation.
//!
//! Guards (see `sync-safety.md`, S1–S3, S5):
//! - no deactivation at all when the source read was incomplete, or when the source
//!   returned no records unless [`DeactivatePolicy::allow_empty_source`];
//! - when deactivations would exceed [`DeactivatePolicy::max_count`] or
//!   [`DeactivatePolicy::max_percent`] of the owned active records (the smaller limit wins),
//!   all of them are *held*: listed in the plan, not applied, unless the run is approved.
//!   Creates, updates and reactivations still proceed;
//! - only owned records are deactivated; only records the sync deactivated are reactivated.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::compare::{CompareOptions, match_text, values_equal};
use crate::connector::{Change, CollectionSpec, FieldRule, Operation};
use crate::mapping::DesiredRecord;
use crate::record::{Completeness, FieldName, Fields, TargetRecord, TargetSnapshot, Value};

/// Which kinds of writes a run may make.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preference {
    /// Create missing records and update, deactivate and reactivate existing ones.
    #[default]
    CreateAndUpdate,
    /// Only create; never modify an existing record (no updates, deactivations or
    /// reactivations).
    CreateOnly,
    /// Never create; update, deactivate and reactivate existing records.
    UpdateOnly,
}

/// When deactivations may run (`[integration.deactivate]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeactivatePolicy {
    /// Deactivate owned records that are missing or inactive in the source.
    pub enabled: bool,
    /// Hold all deactivations of a run when there would be more than this many.
    pub max_count: Option<u64>,
    /// Hold all deactivations of a run when there would be more than this share (in percent)
    /// of the owned active records.
    pub max_percent: Option<f64>,
    /// Allow deactivations even when the source returned no records at all.
    pub allow_empty_source: bool,
    /// The idle-seat policy: deactivate the seat (`saas_users`, never the person) of a user
    /// whose last activity is known and older than this. `None`: off.
    pub idle_seats_after: Option<std::time::Duration>,
    /// Roles whose seats the idle-seat policy keeps (compared without case).
    pub idle_exclude_roles: Vec<CompactString>,
}

/// Roles whose seats the idle-seat policy keeps unless configured otherwise.
pub const DEFAULT_IDLE_EXCLUDE_ROLES: [&str; 3] = ["Admin", "Super Admin", "Site Admin"];

impl Default for DeactivatePolicy {
    /// Enabled, no thresholds, empty source not allowed, no idle-seat policy.
    fn default() -> Self {
        DeactivatePolicy {
            enabled: true,
            max_count: None,
            max_percent: None,
            allow_empty_source: false,
            idle_seats_after: None,
            idle_exclude_roles: DEFAULT_IDLE_EXCLUDE_ROLES.map(CompactString::from).to_vec(),
        }
    }
}

impl DeactivatePolicy {
    /// The largest number of deactivations allowed without approval, given the number of
    /// owned active records; `None` when unlimited.
    pub fn limit(&self, owned_active: u64) -> Option<u64> {
        let by_percent = self
            .max_percent
            .map(|p| ((p.max(0.0) / 100.0) * owned_active as f64).floor() as u64);
        match (self.max_count, by_percent) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Everything planning needs besides the records.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PlanContext {
    /// Which writes are allowed.
    pub preference: Preference,
    /// Deactivation policy and thresholds.
    pub deactivate: DeactivatePolicy,
    /// Whether the source read saw everything (with the reason when it did not).
    pub source: SourceState,
    /// True when the operator approved deactivations above the thresholds for this run.
    pub approved: bool,
    /// How values are compared.
    pub compare: CompareOptions,
}

/// Whether the source read was complete, as planning sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState(pub Completeness);

impl Default for SourceState {
    fn default() -> Self {
        SourceState(Completeness::Complete)
    }
}

impl From<Completeness> for SourceState {
    fn from(c: Completeness) -> Self {
        SourceState(c)
    }
}

/// A source record that could not be turned into a desired record (a mapping or filter
/// failed for it). Its key still counts as present: it is never deactivated because of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRecord {
    /// The record's sync key (its source key when the sync key could not be computed).
    pub key: CompactString,
    /// Why, e.g. `mapping.users.fields.email: invalid operation: ...`.
    pub message: String,
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Target field.
    pub field: FieldName,
    /// Value in the target now.
    pub old: Value,
    /// Value to write.
    pub new: Value,
}

/// Why a record is deactivated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeactivateReason {
    /// The source no longer has the record.
    MissingInSource,
    /// The source says the record is inactive (e.g. disabled in Quip).
    InactiveInSource,
    /// The seat has not been used for longer than the idle-seat policy allows.
    Idle,
}

impl DeactivateReason {
    /// For people: "missing in source", "inactive in source", "idle 134 days".
    pub fn describe(self, idle_days: Option<u64>) -> String {
        match self {
            DeactivateReason::MissingInSource => "missing in source".to_owned(),
            DeactivateReason::InactiveInSource => "inactive in source".to_owned(),
            DeactivateReason::Idle => match idle_days {
                Some(1) => "idle 1 day".to_owned(),
                Some(days) => format!("idle {days} days"),
                None => "idle".to_owned(),
            },
        }
    }
}

/// Why a record is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// An earlier source record has the same key.
    DuplicateSourceKey,
    /// Several target records share the key.
    AmbiguousTarget,
    /// Inactive in the source and never synced: not created.
    InactiveNeverSynced,
    /// The target record is not owned by this integration, so it is not deactivated.
    NotOwned,
    /// Deactivated outside this sync (e.g. by hand): not reactivated.
    DeactivatedOutsideSync,
    /// `create_only` never modifies existing records.
    CreateOnly,
    /// `update_only` never creates.
    UpdateOnly,
    /// Deactivation is disabled by policy.
    DeactivationDisabled,
    /// Not deactivated: the source read was incomplete.
    SourceIncomplete,
    /// Not deactivated: the source returned no records.
    EmptySource,
    /// A mapping or filter failed for this record, or the target would refuse its write
    /// (see [`reject_doomed_writes`]).
    InvalidRecord,
}

/// What the plan does with one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Create a record.
    Create {
        /// Every mapped field.
        fields: Fields,
    },
    /// Update fields of an existing record.
    Update {
        /// Target id.
        id: CompactString,
        /// The fields that differ.
        changes: Vec<FieldChange>,
        /// Set when the record was matched by this fallback key and is adopted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        adopted_by: Option<FieldName>,
    },
    /// Deactivate a record.
    Deactivate {
        /// Target id.
        id: CompactString,
        /// Why.
        reason: DeactivateReason,
        /// For [`DeactivateReason::Idle`]: days since the last activity.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idle_days: Option<u64>,
        /// Held by the threshold guard: not applied without approval.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        held: bool,
    },
    /// Reactivate a record this integration deactivated.
    Reactivate {
        /// Target id.
        id: CompactString,
        /// Fields that differ as well.
        changes: Vec<FieldChange>,
    },
    /// Nothing to do.
    Unchanged {
        /// Target id.
        id: CompactString,
    },
    /// Nothing done, for a reason worth reporting.
    Skipped {
        /// Target id, when a target record is involved.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<CompactString>,
        /// Why, as a code.
        reason: SkipReason,
        /// Why, for people.
        message: String,
    },
}

/// One record's line in a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanEntry {
    /// The record's sync key.
    pub key: CompactString,
    /// What to do.
    #[serde(flatten)]
    pub action: Action,
}

/// What the safety guards decided about deactivations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum GuardVerdict {
    /// Deactivations (if any) proceed.
    Clear,
    /// Deactivation is off for this run (policy disabled, or `create_only`).
    Disabled,
    /// The source read was incomplete: no deactivations.
    SourceIncomplete {
        /// Why the read was incomplete.
        reason: String,
    },
    /// The source returned no records: no deactivations.
    EmptySource,
    /// Too many deactivations: all held until approved.
    Held {
        /// Deactivations the plan would make.
        count: u64,
        /// The limit they exceed.
        limit: u64,
    },
    /// Too many deactivations, but the run was approved.
    Approved {
        /// Deactivations the plan makes.
        count: u64,
        /// The limit they exceed.
        limit: u64,
    },
}

/// How many records fall in each bucket of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PlanCounts {
    /// Records to create.
    pub create: u64,
    /// Records to update (adoptions included).
    pub update: u64,
    /// Records to deactivate (held ones excluded).
    pub deactivate: u64,
    /// Records to reactivate.
    pub reactivate: u64,
    /// Records already as desired.
    pub unchanged: u64,
    /// Records skipped, with a reason.
    pub skipped: u64,
    /// Deactivations held by the threshold guard.
    pub held: u64,
}

impl PlanCounts {
    /// Creates, updates, deactivations and reactivations (held ones excluded).
    pub fn changes(&self) -> u64 {
        self.create + self.update + self.deactivate + self.reactivate
    }
}

/// The plan for one collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionPlan {
    /// What was planned (collection, keys, fields).
    pub spec: CollectionSpec,
    /// Fingerprint of the target snapshot the plan was made from (empty when unknown).
    #[serde(default)]
    pub target_fingerprint: String,
    /// Bucket sizes.
    pub counts: PlanCounts,
    /// What the deactivation guards decided.
    pub guard: GuardVerdict,
    /// Notes for the report (why deactivations were held or skipped, ...).
    #[serde(default)]
    pub notes: Vec<String>,
    /// One entry per record: desired records in order, then records missing in the source.
    pub entries: Vec<PlanEntry>,
}

/// A deactivation held by the threshold guard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldDeactivation {
    /// Which collection.
    pub collection: crate::record::Collection,
    /// The record's sync key.
    pub key: CompactString,
    /// Target id.
    pub id: CompactString,
    /// Why, when it is not the source's doing: "idle 134 days" (the idle-seat policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A seat the idle-seat policy deactivates (or, in a dry run, would).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReclaimedSeat {
    /// The record's sync key.
    pub key: CompactString,
    /// Target id.
    pub id: CompactString,
    /// "idle 134 days".
    pub reason: String,
}

impl CollectionPlan {
    /// The deactivations held by the threshold guard.
    pub fn held(&self) -> impl Iterator<Item = HeldDeactivation> + '_ {
        self.entries.iter().filter_map(|e| match &e.action {
            Action::Deactivate {
                id,
                held: true,
                reason,
                idle_days,
            } => Some(HeldDeactivation {
                collection: self.spec.collection,
                key: e.key.clone(),
                id: id.clone(),
                reason: (*reason == DeactivateReason::Idle).then(|| reason.describe(*idle_days)),
            }),
            _ => None,
        })
    }

    /// The deactivations of the idle-seat policy that are applied: those not held, and
    /// the held ones too with `allow_held`.
    pub fn reclaimed(&self, allow_held: bool) -> impl Iterator<Item = ReclaimedSeat> + '_ {
        self.entries.iter().filter_map(move |e| match &e.action {
            Action::Deactivate {
                id,
                held,
                reason: reason @ DeactivateReason::Idle,
                idle_days,
            } if allow_held || !held => Some(ReclaimedSeat {
                key: e.key.clone(),
                id: id.clone(),
                reason: reason.describe(*idle_days),
            }),
            _ => None,
        })
    }

    /// True when applying would write something (held deactivations count only when
    /// `allow_held`).
    pub fn has_changes(&self, allow_held: bool) -> bool {
        self.counts.changes() > 0 || (allow_held && self.counts.held > 0)
    }

    /// The changes to send to the target, grouped in this order: updates (adoptions and
    /// email changes first, so a later create cannot collide with them), creates,
    /// reactivations, deactivations. Held deactivations are included only when `allow_held`.
    pub fn changes(&self, allow_held: bool) -> Vec<Change> {
        let mut groups: [Vec<Change>; 4] = Default::default();
        for e in &self.entries {
            let (group, op) = match &e.action {
                Action::Update {
                    id,
                    changes,
                    adopted_by,
                } => (
                    0,
                    Operation::Update {
                        id: id.clone(),
                        set: set_of(changes),
                        adopt: adopted_by.is_some(),
                    },
                ),
                Action::Create { fields } => (
                    1,
                    Operation::Create {
                        fields: fields.clone(),
                    },
                ),
                Action::Reactivate { id, changes } => (
                    2,
                    Operation::Reactivate {
                        id: id.clone(),
                        set: set_of(changes),
                    },
                ),
                Action::Deactivate { id, held, .. } if !*held || allow_held => {
                    (3, Operation::Deactivate { id: id.clone() })
                }
                _ => continue,
            };
            groups[group].push(Change {
                key: e.key.clone(),
                op,
            });
        }
        groups.into_iter().flatten().collect()
    }
}

fn set_of(changes: &[FieldChange]) -> Fields {
    changes
        .iter()
        .map(|c| (c.field.clone(), c.new.clone()))
        .collect()
}

/// How a desired record was matched to the target.
#[derive(Debug, Clone, Copy)]
enum Match {
    /// Not found: create (or skip).
    None,
    /// Found by sync key.
    Key(u32),
    /// Found by fallback key number `.1`: adopt.
    Fallback(u32, u32),
    /// Several target records share the sync key.
    Ambiguous(u32),
    /// Several unowned target records share fallback key number `.1`.
    AmbiguousFallback(u32, u32),
    /// An earlier desired record had the same key.
    Duplicate,
}

/// Plans one collection. Pure: no I/O, no clock.
pub fn plan_collection(
    spec: &CollectionSpec,
    desired: Vec<DesiredRecord>,
    actual: &TargetSnapshot,
    ctx: &PlanContext,
) -> CollectionPlan {
    plan_collection_with_rejected(spec, desired, Vec::new(), actual, ctx)
}

/// [`plan_collection`] with source records that could not be mapped: they are reported as
/// skipped and their keys count as present (never deactivated because of the failure).
pub fn plan_collection_with_rejected(
    spec: &CollectionSpec,
    desired: Vec<DesiredRecord>,
    rejected: Vec<RejectedRecord>,
    actual: &TargetSnapshot,
    ctx: &PlanContext,
) -> CollectionPlan {
    let targets = &actual.records;
    let source_len = desired.len() + rejected.len();
    let mut claimed = vec![false; targets.len()];

    // Pass 1: sync keys (all of them first, so a fallback never steals a keyed record).
    let index = SyncKeyIndex::new(targets);
    let (mut matches, any_unmatched) = match_sync_keys(&index, &desired, &rejected, &mut claimed);
    drop(index);

    // Pass 2: fallback keys for records the sync key did not find.
    if any_unmatched && !spec.fallback_keys.is_empty() {
        match_fallback_keys(spec, targets, &desired, &mut matches, &mut claimed);
    }

    // Pass 3: decide per desired record, moving it into the plan.
    let planner = Planner {
        spec,
        targets,
        ctx,
        ci: ctx.compare.set(),
    };
    let mut entries: Vec<PlanEntry> = Vec::with_capacity(source_len);
    let mut candidates: Vec<usize> = Vec::new();
    for (d, m) in desired.into_iter().zip(matches) {
        let wanted = Wanted {
            active: d.active,
            idle_days: d.idle_days,
        };
        let action = planner.action(m, d.fields, wanted);
        if matches!(action, Action::Deactivate { .. }) {
            candidates.push(entries.len());
        }
        entries.push(PlanEntry { key: d.key, action });
    }
    for r in rejected {
        entries.push(PlanEntry {
            key: r.key,
            action: skipped(None, SkipReason::InvalidRecord, r.message),
        });
    }

    // Pass 4: owned active records the source no longer has.
    let owned_active = plan_missing_in_source(targets, &claimed, &mut entries, &mut candidates);

    let (guard, notes) = guard(
        &mut entries,
        &candidates,
        ctx,
        source_len,
        owned_active,
        spec,
    );
    let counts = count_entries(&entries);
    CollectionPlan {
        spec: spec.clone(),
        target_fingerprint: String::new(),
        counts,
        guard,
        notes,
        entries,
    }
}

/// The target indexed by sync key, with the keys several records hold.
struct SyncKeyIndex<'a> {
    /// Sync key → the first target record holding it.
    by_key: HashMap<&'a str, u32>,
    /// Sync keys held by several target records → all of them.
    dup_keys: HashMap<&'a str, Vec<u32>>,
}

impl<'a> SyncKeyIndex<'a> {
    /// Indexes the target records that have a non-empty sync key.
    fn new(targets: &'a [TargetRecord]) -> Self {
        let mut by_key: HashMap<&str, u32> = HashMap::with_capacity(targets.len());
        let mut dup_keys: HashMap<&str, Vec<u32>> = HashMap::new();
        for (i, t) in targets.iter().enumerate() {
            let Some(k) = t.key.as_deref().filter(|k| !k.is_empty()) else {
                continue;
            };
            match by_key.entry(k) {
                Entry::Vacant(e) => {
                    e.insert(i as u32);
                }
                Entry::Occupied(e) => dup_keys
                    .entry(k)
                    .or_insert_with(|| vec![*e.get()])
                    .push(i as u32),
            }
        }
        SyncKeyIndex { by_key, dup_keys }
    }
}

/// Pass 1: matches every desired and rejected record on its sync key, claiming the target
/// records found; returns the desired records' matches and whether any found nothing.
fn match_sync_keys(
    index: &SyncKeyIndex<'_>,
    desired: &[DesiredRecord],
    rejected: &[RejectedRecord],
    claimed: &mut [bool],
) -> (Vec<Match>, bool) {
    let mut matches: Vec<Match> = Vec::with_capacity(desired.len());
    let mut unmatched_seen: HashSet<&str> = HashSet::new();
    let mut any_unmatched = false;
    for d in desired {
        let m = claim_key(&d.key, index, &mut unmatched_seen, claimed);
        any_unmatched |= matches!(m, Match::None);
        matches.push(m);
    }
    for r in rejected {
        claim_key(&r.key, index, &mut unmatched_seen, claimed);
    }
    (matches, any_unmatched)
}

/// Pass 2: for desired records the sync key did not find, tries the fallback keys in order
/// against the unowned target records not claimed yet.
fn match_fallback_keys(
    spec: &CollectionSpec,
    targets: &[TargetRecord],
    desired: &[DesiredRecord],
    matches: &mut [Match],
    claimed: &mut [bool],
) {
    let indexes = fallback_indexes(spec, targets);
    for (d, m) in desired.iter().zip(matches.iter_mut()) {
        if matches!(m, Match::None) {
            *m = match_fallback(spec, &indexes, &d.fields, claimed);
        }
    }
}

/// The first fallback key whose value finds unclaimed unowned target records: one is
/// claimed and adopted, several are ambiguous; [`Match::None`] when no key finds any.
fn match_fallback(
    spec: &CollectionSpec,
    indexes: &[HashMap<CompactString, Vec<u32>>],
    fields: &Fields,
    claimed: &mut [bool],
) -> Match {
    for (fi, (field, index)) in spec.fallback_keys.iter().zip(indexes).enumerate() {
        let Some(value) = fields.get(field).and_then(match_text) else {
            continue;
        };
        let Some(candidates) = index.get(&value) else {
            continue;
        };
        let mut free = candidates.iter().filter(|&&i| !claimed[i as usize]);
        match (free.next(), free.next()) {
            (Some(&i), None) => {
                claimed[i as usize] = true;
                return Match::Fallback(i, fi as u32);
            }
            (Some(_), Some(_)) => {
                let n = 2 + free.count();
                return Match::AmbiguousFallback(n as u32, fi as u32);
            }
            _ => {}
        }
    }
    Match::None
}

/// What pass 3 reads to decide a desired record's action.
struct Planner<'a> {
    spec: &'a CollectionSpec,
    targets: &'a [TargetRecord],
    ctx: &'a PlanContext,
    /// Fields compared without case.
    ci: HashSet<&'a str>,
}

/// Whether a desired record should be active, and why not when the idle-seat policy
/// decided it.
#[derive(Debug, Clone, Copy)]
struct Wanted {
    active: bool,
    idle_days: Option<u64>,
}

impl Planner<'_> {
    /// Pass 3: the action for a desired record (its `fields` and state) matched as `m`.
    fn action(&self, m: Match, fields: Fields, wanted: Wanted) -> Action {
        let fallback_key = |fi: u32| &self.spec.fallback_keys[fi as usize];
        match m {
            Match::Key(i) => decide(
                &fields,
                wanted,
                &self.targets[i as usize],
                None,
                self.ctx,
                &self.ci,
            ),
            Match::Fallback(i, fi) => decide(
                &fields,
                wanted,
                &self.targets[i as usize],
                Some(fallback_key(fi)),
                self.ctx,
                &self.ci,
            ),
            Match::None => self.unmatched(fields, wanted),
            Match::Ambiguous(n) => skipped(
                None,
                SkipReason::AmbiguousTarget,
                format!("ambiguous: {n} target records share this key"),
            ),
            Match::AmbiguousFallback(n, fi) => skipped(
                None,
                SkipReason::AmbiguousTarget,
                format!(
                    "ambiguous: {n} unowned target records share this {}",
                    fallback_key(fi)
                ),
            ),
            Match::Duplicate => skipped(
                None,
                SkipReason::DuplicateSourceKey,
                "duplicate source key: an earlier source record has the same key",
            ),
        }
    }

    /// A desired record no target record matched: created, unless it is inactive or the
    /// run never creates.
    /// The idle-seat policy reclaims existing seats only: an idle user without a seat
    /// gets one like anybody else (the next run may reclaim it), so seat usage shows them.
    fn unmatched(&self, fields: Fields, wanted: Wanted) -> Action {
        let active = wanted.active || wanted.idle_days.is_some();
        if !active {
            skipped(
                None,
                SkipReason::InactiveNeverSynced,
                "inactive in source, never synced",
            )
        } else if self.ctx.preference == Preference::UpdateOnly {
            skipped(
                None,
                SkipReason::UpdateOnly,
                "not in the target; update_only never creates",
            )
        } else {
            Action::Create { fields }
        }
    }
}

/// Pass 4: plans the deactivation of every owned active target record no source record
/// claimed (adding them to `candidates`); returns the number of owned active records.
fn plan_missing_in_source(
    targets: &[TargetRecord],
    claimed: &[bool],
    entries: &mut Vec<PlanEntry>,
    candidates: &mut Vec<usize>,
) -> u64 {
    let mut owned_active: u64 = 0;
    for (t, was_claimed) in targets.iter().zip(claimed) {
        if !(t.owned && t.active) {
            continue;
        }
        owned_active += 1;
        if *was_claimed {
            continue;
        }
        candidates.push(entries.len());
        entries.push(PlanEntry {
            key: t.key.clone().unwrap_or_else(|| t.id.clone()),
            action: Action::Deactivate {
                id: t.id.clone(),
                reason: DeactivateReason::MissingInSource,
                idle_days: None,
                held: false,
            },
        });
    }
    owned_active
}

fn count_entries(entries: &[PlanEntry]) -> PlanCounts {
    let mut counts = PlanCounts::default();
    for e in entries {
        match &e.action {
            Action::Create { .. } => counts.create += 1,
            Action::Update { .. } => counts.update += 1,
            Action::Deactivate { held: true, .. } => counts.held += 1,
            Action::Deactivate { .. } => counts.deactivate += 1,
            Action::Reactivate { .. } => counts.reactivate += 1,
            Action::Unchanged { .. } => counts.unchanged += 1,
            Action::Skipped { .. } => counts.skipped += 1,
        }
    }
    counts
}

/// Who would hold a value of a unique field once the plan is applied.
struct Holder<'a> {
    /// The plan entry, when a source record holds it (else a target record outside the plan).
    entry: Option<usize>,
    /// The sync key (or target id) of the holder, for messages.
    name: &'a str,
    /// True when the plan writes this value (a create, or an update setting the field).
    writes: bool,
}

/// Catches creates, updates and reactivations the target would refuse, before anything is
/// sent (pure; the rules come from [`Target::field_rules`](crate::Target::field_rules)):
///
/// - a required field that would be empty (e.g. `username` mapped from a missing email);
/// - a text value longer than the field holds (a 400-character name in a 256-character
///   field);
/// - a value of a unique field that two records would hold (compared without case where
///   the rule or the mapping says so). A record that already holds the value in the target
///   and keeps it wins; every record the plan would *write* that value to is refused, so
///   when two new records want one value, neither is written.
///
/// Refused entries become [`SkipReason::InvalidRecord`] skips naming the record and the
/// field (the report lists them as per-record errors); their keys still count as present,
/// so they are never deactivated because of it. Counts are recomputed.
pub fn reject_doomed_writes(
    plan: &mut CollectionPlan,
    actual: &TargetSnapshot,
    rules: &[FieldRule],
    compare: &CompareOptions,
) {
    let sync_key = &plan.spec.sync_key;
    let rules: Vec<&FieldRule> = rules
        .iter()
        .filter(|r| r.constrains() && r.field != *sync_key)
        .filter(|r| plan.spec.fields.contains(&r.field))
        .collect();
    if rules.is_empty() {
        return;
    }
    let mut refused: HashMap<usize, Vec<String>> = HashMap::new();
    refuse_bad_values(plan, &rules, &mut refused);
    let by_id: HashMap<&str, &TargetRecord> =
        actual.records.iter().map(|t| (t.id.as_str(), t)).collect();
    let ci = compare.set();
    for rule in rules.iter().filter(|r| r.unique) {
        let fold = rule.case_insensitive || ci.contains(rule.field.as_ref());
        let field = rule.field.as_ref();
        let holders = unique_holders(plan, actual, &by_id, field, fold);
        refuse_shared_values(&holders, field, plan.spec.collection, &mut refused);
    }
    skip_refused(plan, refused);
}

/// Refuses writes that would leave a required field empty or a text field longer than it
/// holds: each written value on its own.
fn refuse_bad_values(
    plan: &CollectionPlan,
    rules: &[&FieldRule],
    refused: &mut HashMap<usize, Vec<String>>,
) {
    let collection = plan.spec.collection;
    for (i, e) in plan.entries.iter().enumerate() {
        let written: Vec<(&FieldName, &Value)> = match &e.action {
            Action::Create { fields } => fields.iter().collect(),
            Action::Update { changes, .. } | Action::Reactivate { changes, .. } => {
                changes.iter().map(|c| (&c.field, &c.new)).collect()
            }
            _ => continue,
        };
        let creates = matches!(e.action, Action::Create { .. });
        for rule in rules {
            let value = written
                .iter()
                .find(|(f, _)| **f == rule.field)
                .map(|(_, v)| *v);
            let empty = value.is_none_or(|v| values_equal(v, &Value::Null, false));
            // An update that leaves the field alone cannot empty it.
            if rule.required && empty && (creates || value.is_some()) {
                refused.entry(i).or_default().push(format!(
                    "`{}` is required in {collection} but would be empty (mapping.{collection}.fields.{} gave no value for this record); not sent",
                    rule.field, rule.field
                ));
            }
            if let (Some(max), Some(Value::String(text))) = (rule.max_length, value) {
                let chars = text.chars().count();
                if chars > max as usize {
                    refused.entry(i).or_default().push(format!(
                        "`{}` would be {chars} characters, longer than the {max} {collection} accepts (mapping.{collection}.fields.{}); not sent",
                        rule.field, rule.field
                    ));
                }
            }
        }
    }
}

/// A value of a unique field as compared for uniqueness (trimmed, lowercased with `fold`);
/// `None` for empty values and lists, which never collide.
fn unique_value(v: &Value, fold: bool) -> Option<CompactString> {
    let text = match v {
        Value::Null | Value::List(_) => return None,
        Value::String(s) => CompactString::from(s.trim()),
        other => serde_json::to_string(other).ok()?.into(),
    };
    if text.is_empty() {
        None
    } else if fold {
        Some(text.to_lowercase())
    } else {
        Some(text)
    }
}

/// Who would hold each value of the unique `field` once the plan is applied: the plan's
/// entries (with what they write or keep), then target records the plan does not touch.
fn unique_holders<'p>(
    plan: &'p CollectionPlan,
    actual: &'p TargetSnapshot,
    by_id: &HashMap<&str, &TargetRecord>,
    field: &str,
    fold: bool,
) -> HashMap<CompactString, Vec<Holder<'p>>> {
    let norm = |v: &Value| unique_value(v, fold);
    let current = |id: &str| {
        by_id
            .get(id)
            .and_then(|t| t.fields.get(field))
            .and_then(norm)
    };
    let mut holders: HashMap<CompactString, Vec<Holder<'p>>> = HashMap::new();
    let mut touched: HashSet<&str> = HashSet::new();
    for (i, e) in plan.entries.iter().enumerate() {
        let (value, writes) = match &e.action {
            Action::Create { fields } => (fields.get(field).and_then(norm), true),
            Action::Update { id, changes, .. } | Action::Reactivate { id, changes } => {
                touched.insert(id);
                match changes.iter().find(|c| c.field.as_ref() == field) {
                    Some(c) => (norm(&c.new), true),
                    None => (current(id), false),
                }
            }
            Action::Unchanged { id }
            | Action::Deactivate { id, .. }
            | Action::Skipped { id: Some(id), .. } => {
                touched.insert(id);
                (current(id), false)
            }
            Action::Skipped { id: None, .. } => (None, false),
        };
        if let Some(v) = value {
            holders.entry(v).or_default().push(Holder {
                entry: Some(i),
                name: &e.key,
                writes,
            });
        }
    }
    for t in &actual.records {
        if touched.contains(t.id.as_str()) {
            continue;
        }
        if let Some(v) = t.fields.get(field).and_then(norm) {
            holders.entry(v).or_default().push(Holder {
                entry: None,
                name: t.key.as_deref().unwrap_or(&t.id),
                writes: false,
            });
        }
    }
    holders
}

/// Refuses every entry that would write a value of the unique `field` another record holds
/// or would take too.
fn refuse_shared_values(
    holders: &HashMap<CompactString, Vec<Holder<'_>>>,
    field: &str,
    collection: crate::record::Collection,
    refused: &mut HashMap<usize, Vec<String>>,
) {
    for (value, hs) in holders {
        if hs.len() < 2 || !hs.iter().any(|h| h.writes) {
            continue;
        }
        for (n, h) in hs.iter().enumerate() {
            let (true, Some(i)) = (h.writes, h.entry) else {
                continue;
            };
            let others: Vec<&str> = hs
                .iter()
                .enumerate()
                .filter(|&(m, _)| m != n)
                .map(|(_, o)| o.name)
                .collect();
            let kept = hs.iter().any(|o| !o.writes);
            let who = others.join(", ");
            refused.entry(i).or_default().push(if kept {
                format!(
                    "`{field}` {value:?} must be unique in {collection}, and {who} already holds it; not sent"
                )
            } else {
                format!(
                    "`{field}` {value:?} must be unique in {collection}, and {who} would take it too; neither is sent"
                )
            });
        }
    }
}

/// Turns the refused entries into [`SkipReason::InvalidRecord`] skips and recounts.
fn skip_refused(plan: &mut CollectionPlan, refused: HashMap<usize, Vec<String>>) {
    if refused.is_empty() {
        return;
    }
    let mut refused: Vec<(usize, Vec<String>)> = refused.into_iter().collect();
    refused.sort_unstable_by_key(|(i, _)| *i);
    for (i, messages) in refused {
        let e = &mut plan.entries[i];
        let id = match &e.action {
            Action::Update { id, .. } | Action::Reactivate { id, .. } => Some(id.clone()),
            _ => None,
        };
        e.action = skipped(id, SkipReason::InvalidRecord, messages.join("; "));
    }
    plan.counts = count_entries(&plan.entries);
}

/// Matches `key` against the target's sync keys, claiming what it finds.
fn claim_key<'a>(
    key: &'a str,
    index: &SyncKeyIndex<'_>,
    unmatched_seen: &mut HashSet<&'a str>,
    claimed: &mut [bool],
) -> Match {
    let Some(&i) = index.by_key.get(key) else {
        return if unmatched_seen.insert(key) {
            Match::None
        } else {
            Match::Duplicate
        };
    };
    if claimed[i as usize] {
        return Match::Duplicate;
    }
    if let Some(all) = index.dup_keys.get(key) {
        for &j in all {
            claimed[j as usize] = true;
        }
        return Match::Ambiguous(all.len() as u32);
    }
    claimed[i as usize] = true;
    Match::Key(i)
}

fn skipped(id: Option<CompactString>, reason: SkipReason, message: impl Into<String>) -> Action {
    Action::Skipped {
        id,
        reason,
        message: message.into(),
    }
}

/// Per fallback key: normalised value → unowned target records holding it.
fn fallback_indexes(
    spec: &CollectionSpec,
    targets: &[TargetRecord],
) -> Vec<HashMap<CompactString, Vec<u32>>> {
    spec.fallback_keys
        .iter()
        .map(|field| {
            let mut index: HashMap<CompactString, Vec<u32>> = HashMap::new();
            for (i, t) in targets.iter().enumerate() {
                if t.owned {
                    continue;
                }
                if let Some(v) = t.fields.get(field).and_then(match_text) {
                    index.entry(v).or_default().push(i as u32);
                }
            }
            index
        })
        .collect()
}

/// What to do with a desired record matched to `t` (`adopted_by` when matched by fallback).
fn decide(
    fields: &Fields,
    Wanted { active, idle_days }: Wanted,
    t: &TargetRecord,
    adopted_by: Option<&FieldName>,
    ctx: &PlanContext,
    ci: &HashSet<&str>,
) -> Action {
    let id = || Some(t.id.clone());
    let create_only = ctx.preference == Preference::CreateOnly;
    let never_clear = !ctx.source.0.is_complete();
    match (active, t.active) {
        (true, true) => {
            let changes = diff(fields, &t.fields, ci, never_clear);
            if changes.is_empty() {
                Action::Unchanged { id: t.id.clone() }
            } else if create_only {
                skipped(
                    id(),
                    SkipReason::CreateOnly,
                    format!(
                        "{} field(s) differ; create_only never modifies existing records",
                        changes.len()
                    ),
                )
            } else {
                Action::Update {
                    id: t.id.clone(),
                    changes,
                    adopted_by: adopted_by.cloned(),
                }
            }
        }
        (true, false) => {
            if create_only {
                skipped(
                    id(),
                    SkipReason::CreateOnly,
                    "inactive in the target; create_only never reactivates",
                )
            } else if t.deactivated_by_sync && adopted_by.is_none() {
                Action::Reactivate {
                    id: t.id.clone(),
                    changes: diff(fields, &t.fields, ci, never_clear),
                }
            } else {
                skipped(
                    id(),
                    SkipReason::DeactivatedOutsideSync,
                    "deactivated outside this sync; not reactivated",
                )
            }
        }
        (false, true) => {
            if !t.owned || adopted_by.is_some() {
                skipped(
                    id(),
                    SkipReason::NotOwned,
                    "inactive in source, but the target record is not owned by this integration",
                )
            } else {
                // A candidate: the guards decide below.
                Action::Deactivate {
                    id: t.id.clone(),
                    reason: if idle_days.is_some() {
                        DeactivateReason::Idle
                    } else {
                        DeactivateReason::InactiveInSource
                    },
                    idle_days,
                    held: false,
                }
            }
        }
        (false, false) => Action::Unchanged { id: t.id.clone() },
    }
}

/// The fields of `desired` whose values differ in `actual` (only fields the mapping writes).
/// The field-level difference. With `never_clear` (the source read was incomplete, so an
/// empty value may only mean "not read"), a field is never changed to empty.
fn diff(
    desired: &Fields,
    actual: &Fields,
    ci: &HashSet<&str>,
    never_clear: bool,
) -> Vec<FieldChange> {
    const NULL: Value = Value::Null;
    let mut changes = Vec::new();
    let mut it = actual.iter().peekable();
    for (name, new) in desired.iter() {
        let old = loop {
            match it.peek() {
                Some((n, _)) if n.as_ref() < name.as_ref() => {
                    it.next();
                }
                Some((n, v)) if n.as_ref() == name.as_ref() => break *v,
                _ => break &NULL,
            }
        };
        let case_insensitive = !ci.is_empty() && ci.contains(name.as_ref());
        if never_clear && values_equal(new, &NULL, false) {
            continue;
        }
        if !values_equal(new, old, case_insensitive) {
            changes.push(FieldChange {
                field: name.clone(),
                old: old.clone(),
                new: new.clone(),
            });
        }
    }
    changes
}

/// Applies the deactivation guards to the candidate entries.
fn guard(
    entries: &mut [PlanEntry],
    candidates: &[usize],
    ctx: &PlanContext,
    source_len: usize,
    owned_active: u64,
    spec: &CollectionSpec,
) -> (GuardVerdict, Vec<String>) {
    let count = candidates.len() as u64;
    let mut notes = Vec::new();
    let block = |entries: &mut [PlanEntry], reason: SkipReason, message: &str| {
        for &i in candidates {
            let id = match &entries[i].action {
                Action::Deactivate { id, .. } => Some(id.clone()),
                _ => None,
            };
            entries[i].action = skipped(id, reason, message);
        }
    };
    let collection = spec.collection;
    let verdict = if ctx.preference == Preference::CreateOnly {
        block(
            entries,
            SkipReason::CreateOnly,
            "not deactivated: create_only never modifies existing records",
        );
        if count > 0 {
            notes.push(format!(
                "{collection}: {count} deactivation(s) not made: create_only never modifies existing records"
            ));
        }
        GuardVerdict::Disabled
    } else if !ctx.deactivate.enabled {
        block(
            entries,
            SkipReason::DeactivationDisabled,
            "not deactivated: deactivation is disabled",
        );
        if count > 0 {
            notes.push(format!(
                "{collection}: {count} deactivation(s) not made: deactivation is disabled"
            ));
        }
        GuardVerdict::Disabled
    } else if let Completeness::Incomplete { reason } = &ctx.source.0 {
        let message = format!("not deactivated: the source read was incomplete ({reason})");
        block(entries, SkipReason::SourceIncomplete, &message);
        notes.push(format!(
            "{collection}: no deactivations because the source read was incomplete ({reason}); {count} deactivation(s) skipped"
        ));
        GuardVerdict::SourceIncomplete {
            reason: reason.clone(),
        }
    } else if source_len == 0 && !ctx.deactivate.allow_empty_source {
        block(
            entries,
            SkipReason::EmptySource,
            "not deactivated: the source returned no records",
        );
        notes.push(format!(
            "{collection}: no deactivations because the source returned no records; {count} deactivation(s) skipped (set allow_empty_source to allow)"
        ));
        GuardVerdict::EmptySource
    } else {
        threshold_guard(entries, candidates, ctx, owned_active, &mut notes, spec)
    };
    (verdict, notes)
}

/// The threshold guard: holds every candidate deactivation when there are more than the
/// policy's limit, unless the run is approved.
fn threshold_guard(
    entries: &mut [PlanEntry],
    candidates: &[usize],
    ctx: &PlanContext,
    owned_active: u64,
    notes: &mut Vec<String>,
    spec: &CollectionSpec,
) -> GuardVerdict {
    let count = candidates.len() as u64;
    let collection = spec.collection;
    match ctx.deactivate.limit(owned_active) {
        Some(limit) if count > limit => {
            let mut why = format!("{count} deactivation(s) exceed the limit of {limit} (");
            if let Some(c) = ctx.deactivate.max_count {
                let _ = write!(why, "max_count {c}");
            }
            if let Some(p) = ctx.deactivate.max_percent {
                if ctx.deactivate.max_count.is_some() {
                    why.push_str(", ");
                }
                let _ = write!(
                    why,
                    "max_percent {p}% of {owned_active} owned active records"
                );
            }
            why.push(')');
            if ctx.approved {
                notes.push(format!("{collection}: {why}; approved for this run"));
                GuardVerdict::Approved { count, limit }
            } else {
                for &i in candidates {
                    if let Action::Deactivate { held, .. } = &mut entries[i].action {
                        *held = true;
                    }
                }
                notes.push(format!(
                    "{collection}: {why}; all held, creates and updates proceed; approve the run to apply them"
                ));
                GuardVerdict::Held { count, limit }
            }
        }
        _ => GuardVerdict::Clear,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_takes_the_smaller() {
        let p = DeactivatePolicy {
            max_count: Some(50),
            max_percent: Some(10.0),
            ..DeactivatePolicy::default()
        };
        assert_eq!(p.limit(100), Some(10));
        assert_eq!(p.limit(10_000), Some(50));
        assert_eq!(DeactivatePolicy::default().limit(10), None);
    }

    #[test]
    fn diff_walks_sorted_fields() {
        let desired = Fields::new().with("a", "1").with("c", "x").with("e", "E");
        let actual = Fields::new()
            .with("a", 1)
            .with("b", "ignored")
            .with("c", "y")
            .with("e", "e");
        let ci: HashSet<&str> = ["e"].into_iter().collect();
        let changes = diff(&desired, &actual, &ci, false);
        assert_eq!(changes.len(), 1);
        assert_eq!(&*changes[0].field, "c");
    }

    #[test]
    fn incomplete_reads_never_clear_a_field() {
        let desired = Fields::new()
            .with("role", Value::Null)
            .with("name", "New")
            .with("seen", "");
        let actual = Fields::new()
            .with("name", "Old")
            .with("role", "Admin")
            .with("seen", 5);
        let ci = HashSet::new();
        let cleared: Vec<_> = diff(&desired, &actual, &ci, false)
            .into_iter()
            .map(|c| c.field)
            .collect();
        assert_eq!(cleared.len(), 3, "a complete read may clear fields");
        let kept = diff(&desired, &actual, &ci, true);
        assert_eq!(
            kept.len(),
            1,
            "an incomplete read only sets non-empty values: {kept:?}"
        );
        assert_eq!(&*kept[0].field, "name");
    }
}
