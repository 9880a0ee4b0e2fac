//! The session report: one per run, dry runs and failed runs included. Serialises to the
//! JSON contract of `architecture.md` §6 and renders as a small table for people.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::apply::ApplyResult;
use crate::connector::ApiStats;
use crate::plan::{CollectionPlan, HeldDeactivation, PlanCounts, ReclaimedSeat};
use crate::record::Collection;

/// Record counts of one collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Records created.
    pub created: u64,
    /// Records updated (adoptions included).
    pub updated: u64,
    /// Records deactivated.
    pub deactivated: u64,
    /// Records reactivated.
    pub reactivated: u64,
    /// Records already as desired.
    pub unchanged: u64,
    /// Records skipped, with a reason.
    pub skipped: u64,
    /// Changes that failed.
    pub failed: u64,
}

impl Counts {
    /// What a plan would do (dry run): nothing failed yet.
    pub fn planned(c: &PlanCounts) -> Self {
        Counts {
            created: c.create,
            updated: c.update,
            deactivated: c.deactivate,
            reactivated: c.reactivate,
            unchanged: c.unchanged,
            skipped: c.skipped,
            failed: 0,
        }
    }

    /// What applying a plan did.
    pub fn applied(plan: &PlanCounts, result: &ApplyResult) -> Self {
        Counts {
            created: result.created,
            updated: result.updated,
            deactivated: result.deactivated,
            reactivated: result.reactivated,
            unchanged: plan.unchanged,
            skipped: plan.skipped,
            failed: result.failed,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Everything planned was done.
    Succeeded,
    /// Finished, but some records failed or were invalid, or the source read was incomplete.
    SucceededWithErrors,
    /// Finished, but deactivations were held by the threshold guard and need approval.
    Held,
    /// A fatal error stopped the run.
    Failed,
    /// SIGINT or SIGTERM stopped the run at a batch boundary; what was sent is reported.
    Interrupted,
}

impl SessionStatus {
    /// The status string (`succeeded`, `succeeded_with_errors`, `held`, `failed`,
    /// `interrupted`).
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Succeeded => "succeeded",
            SessionStatus::SucceededWithErrors => "succeeded_with_errors",
            SessionStatus::Held => "held",
            SessionStatus::Failed => "failed",
            SessionStatus::Interrupted => "interrupted",
        }
    }

    /// The CLI exit code: 0 success, 1 failure, 3 record errors or held deactivations,
    /// 130 interrupted (the CLI answers 143 when the signal was SIGTERM).
    pub fn exit_code(self) -> i32 {
        match self {
            SessionStatus::Interrupted => 130,
            SessionStatus::Succeeded => 0,
            SessionStatus::Failed => 1,
            SessionStatus::SucceededWithErrors | SessionStatus::Held => 3,
        }
    }
}

/// A per-record error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordError {
    /// The record's sync key.
    pub key: CompactString,
    /// What went wrong (never contains secrets).
    pub message: String,
    /// Which collection.
    pub collection: Collection,
}

/// The report of one sync session (`--json` output; contract in architecture.md §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionReport {
    /// Session id (uuid v7).
    pub id: Uuid,
    /// The integration's name.
    pub integration: String,
    /// `users` or `users_and_saas`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The id of the plan that was executed, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<Uuid>,
    /// True for a plan-only run that wrote nothing.
    pub dry_run: bool,
    /// How the run ended.
    pub status: SessionStatus,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When the run ended.
    pub finished_at: DateTime<Utc>,
    /// Counts for `users` (People).
    pub counts: Counts,
    /// Deactivations held by the threshold guard.
    pub held_deactivations: Vec<HeldDeactivation>,
    /// Seats the idle-seat policy deactivated (in a dry run: would deactivate), with the
    /// reason; held ones are in `held_deactivations`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reclaimed_seats: Vec<ReclaimedSeat>,
    /// Counts for `saas_users`; `null` when that collection is not synced.
    pub saas_counts: Option<Counts>,
    /// Per-record errors.
    pub errors: Vec<RecordError>,
    /// Things to look at (incomplete reads, guard decisions, ...).
    pub warnings: Vec<String>,
    /// HTTP requests sent per system, retries and throttled attempts included.
    pub api_calls: BTreeMap<String, u64>,
    /// Seconds spent waiting on rate limits per system.
    pub rate_limit_wait_s: BTreeMap<String, f64>,
    /// The error that stopped the run, if one did.
    pub fatal: Option<String>,
}

impl SessionReport {
    /// An empty report of a run that started at `started_at`; fill it and call
    /// [`SessionReport::finish`].
    pub fn new(integration: impl Into<String>, started_at: DateTime<Utc>) -> Self {
        SessionReport {
            id: Uuid::now_v7(),
            integration: integration.into(),
            mode: None,
            plan_id: None,
            dry_run: false,
            status: SessionStatus::Succeeded,
            started_at,
            finished_at: started_at,
            counts: Counts::default(),
            held_deactivations: Vec::new(),
            reclaimed_seats: Vec::new(),
            saas_counts: None,
            errors: Vec::new(),
            warnings: Vec::new(),
            api_calls: BTreeMap::new(),
            rate_limit_wait_s: BTreeMap::new(),
            fatal: None,
        }
    }

    /// The report of a run a fatal error stopped. Add API figures with
    /// [`SessionReport::add_api_stats`].
    pub fn failed(
        integration: impl Into<String>,
        started_at: DateTime<Utc>,
        fatal: impl Into<String>,
    ) -> Self {
        let mut r = SessionReport::new(integration, started_at);
        r.fatal = Some(fatal.into());
        r.finish(false);
        r
    }

    /// Records a system's API figures (summed when the system is already listed).
    pub fn add_api_stats(&mut self, system: &str, stats: &ApiStats) {
        *self.api_calls.entry(system.to_owned()).or_default() += stats.calls;
        *self.rate_limit_wait_s.entry(system.to_owned()).or_default() +=
            stats.rate_limit_wait.as_secs_f64();
    }

    /// Sets the counts of a collection.
    pub fn set_counts(&mut self, collection: Collection, counts: Counts) {
        match collection {
            Collection::Users => self.counts = counts,
            Collection::SaasUsers => self.saas_counts = Some(counts),
        }
    }

    /// Adds a collection's plan outcome for a dry run: counts, held deactivations, invalid
    /// records as errors, guard notes as warnings.
    pub fn add_planned(&mut self, plan: &CollectionPlan) {
        self.set_counts(plan.spec.collection, Counts::planned(&plan.counts));
        self.add_plan_details(plan, false);
        self.reclaimed_seats.extend(plan.reclaimed(false));
    }

    /// Adds a collection's applied outcome.
    pub fn add_applied(&mut self, plan: &CollectionPlan, result: &ApplyResult, allow_held: bool) {
        self.set_counts(plan.spec.collection, Counts::applied(&plan.counts, result));
        self.add_plan_details(plan, allow_held);
        let failed: std::collections::HashSet<&str> =
            result.failures().map(|(key, _)| key.as_str()).collect();
        self.reclaimed_seats.extend(
            plan.reclaimed(allow_held)
                .filter(|r| !failed.contains(r.key.as_str())),
        );
        let collection = plan.spec.collection;
        self.errors
            .extend(result.failures().map(|(key, message)| RecordError {
                key: key.clone(),
                message: message.to_owned(),
                collection,
            }));
    }

    fn add_plan_details(&mut self, plan: &CollectionPlan, allow_held: bool) {
        if !allow_held {
            let start = self.held_deactivations.len();
            self.held_deactivations.extend(plan.held());
            // Stable order for people and scripts, whatever order the target listed them in.
            self.held_deactivations[start..].sort_by(|a, b| a.key.cmp(&b.key));
        }
        let collection = plan.spec.collection;
        for e in &plan.entries {
            if let crate::plan::Action::Skipped {
                reason: crate::plan::SkipReason::InvalidRecord,
                message,
                ..
            } = &e.action
            {
                self.errors.push(RecordError {
                    key: e.key.clone(),
                    message: message.clone(),
                    collection,
                });
            }
        }
        self.warnings.extend(plan.notes.iter().cloned());
    }

    /// Sets `finished_at` to now and derives the status: `failed` with a fatal error, else
    /// `held` with held deactivations, else `succeeded_with_errors` with record errors or a
    /// `degraded` run (incomplete source read), else `succeeded`.
    pub fn finish(&mut self, degraded: bool) {
        self.finished_at = Utc::now().max(self.started_at);
        self.status = if self.fatal.is_some() {
            SessionStatus::Failed
        } else if !self.held_deactivations.is_empty() {
            SessionStatus::Held
        } else if degraded || !self.errors.is_empty() {
            SessionStatus::SucceededWithErrors
        } else {
            SessionStatus::Succeeded
        };
    }

    /// Marks the run interrupted (a stop request ended it early) unless a fatal error
    /// already failed it, with `why` as a warning.
    pub fn interrupt(&mut self, why: impl Into<String>) {
        self.warnings.push(why.into());
        if self.status != SessionStatus::Failed {
            self.status = SessionStatus::Interrupted;
        }
    }

    /// The CLI exit code for this report (see [`SessionStatus::exit_code`]).
    pub fn exit_code(&self) -> i32 {
        self.status.exit_code()
    }

    /// A short human-readable summary: a table of counts, then held deactivations, errors,
    /// warnings and API figures.
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        let dry = if self.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "Sync \"{}\": {}{dry}",
            self.integration,
            self.status.as_str()
        );
        let secs = (self.finished_at - self.started_at).num_milliseconds() as f64 / 1000.0;
        let _ = writeln!(out, "Session {} took {secs:.1} s", self.id);
        if let Some(f) = &self.fatal {
            let _ = writeln!(out, "Fatal: {f}");
        }
        let headers = [
            "",
            "created",
            "updated",
            "deactivated",
            "reactivated",
            "unchanged",
            "skipped",
            "failed",
        ];
        let mut rows: Vec<(&str, Counts)> = vec![("users", self.counts)];
        if let Some(s) = self.saas_counts {
            rows.push(("saas_users", s));
        }
        let cells = |c: &Counts| {
            [
                c.created,
                c.updated,
                c.deactivated,
                c.reactivated,
                c.unchanged,
                c.skipped,
                c.failed,
            ]
        };
        let first = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(5);
        let _ = write!(out, "{:<first$}", headers[0]);
        for h in &headers[1..] {
            let _ = write!(out, "  {h:>11}");
        }
        out.push('\n');
        for (name, c) in &rows {
            let _ = write!(out, "{name:<first$}");
            for n in cells(c) {
                let _ = write!(out, "  {n:>11}");
            }
            out.push('\n');
        }
        if !self.held_deactivations.is_empty() {
            let _ = writeln!(
                out,
                "Held deactivations ({}), need approval:",
                self.held_deactivations.len()
            );
            for h in self.held_deactivations.iter().take(20) {
                let _ = write!(out, "  {} {} (id {})", h.collection, h.key, h.id);
                if let Some(reason) = &h.reason {
                    let _ = write!(out, ": {reason}");
                }
                out.push('\n');
            }
            if self.held_deactivations.len() > 20 {
                let _ = writeln!(out, "  ... and {} more", self.held_deactivations.len() - 20);
            }
        }
        if !self.errors.is_empty() {
            let _ = writeln!(out, "Errors ({}):", self.errors.len());
            for e in self.errors.iter().take(20) {
                let _ = writeln!(out, "  {} {}: {}", e.collection, e.key, e.message);
            }
            if self.errors.len() > 20 {
                let _ = writeln!(out, "  ... and {} more", self.errors.len() - 20);
            }
        }
        for w in &self.warnings {
            let _ = writeln!(out, "Warning: {w}");
        }
        if !self.api_calls.is_empty() {
            let calls: Vec<String> = self
                .api_calls
                .iter()
                .map(|(s, n)| {
                    let wait = self.rate_limit_wait_s.get(s).copied().unwrap_or(0.0);
                    format!("{s} {n} (rate-limit wait {wait:.1} s)")
                })
                .collect();
            let _ = writeln!(out, "API calls: {}", calls.join(", "));
        }
        out
    }
}
