//! The run queue: RUN NOW, claims with fenced leases, heartbeats, finishing, and the
//! reclaim of runs whose worker stopped heartbeating.
//!
//! Execution is at-least-once: a run whose lease expires is queued again (up to
//! [`StoreOptions::max_attempts`](crate::StoreOptions::max_attempts) claims, then failed),
//! and every write a worker makes for a run names the lease token it was given, so a worker
//! that lost its lease writes nothing more ([`ErrorKind::LeaseLost`]).

use jiff::Timestamp;
use sqlx::Row as _;
use sync_engine::SessionReport;

use crate::db::{Backend, Store, ms_of, new_id};
use crate::error::{ErrorKind, Result, StoreError};
use crate::model::{
    Installation, IntegrationStatus, NotificationKind, Run, RunCounts, RunState, Trigger, ts,
};
use crate::notify::Event;

pub(crate) const RUN_COLUMNS: &str = "r.id, r.integration_id, r.state, r.run_trigger, \
    r.scheduled_for, r.created_at, r.attempt, r.lease_owner, r.lease_expires_at, r.started_at, \
    r.finished_at, r.created, r.updated, r.deactivated, r.reactivated, r.unchanged, r.skipped, \
    r.failed, r.session_id, r.fatal, r.report";

/// A worker's hold on a running run. The token fences every write for the run: once the
/// lease is lost, writes with it change nothing and report [`ErrorKind::LeaseLost`].
#[derive(Clone, PartialEq, Eq)]
pub struct Lease {
    /// The run.
    pub run_id: String,
    /// Its integration.
    pub integration_id: String,
    /// The integration's name (what sync-runtime locks and keys the ledger by).
    pub integration_name: String,
    /// The integration's owner.
    pub owner_id: String,
    /// The worker holding it.
    pub worker: String,
    /// Which claim of the run this is (1 for the first).
    pub attempt: i64,
    /// When the lease runs out unless renewed.
    pub expires_at: Timestamp,
    token: String,
}

impl Lease {
    /// The fencing token (for a remote worker that holds the lease over HTTP).
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("run_id", &self.run_id)
            .field("integration", &self.integration_name)
            .field("worker", &self.worker)
            .field("attempt", &self.attempt)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Which queued runs a worker takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimFilter {
    /// Cloud workers take cloud integrations; a local agent takes local ones.
    pub installation: Installation,
    /// Only this owner's runs (a local agent acts for one owner).
    pub owner_id: Option<String>,
}

impl ClaimFilter {
    /// Runs of cloud integrations of every owner.
    pub fn cloud() -> Self {
        Self {
            installation: Installation::Cloud,
            owner_id: None,
        }
    }

    /// Runs of `owner_id`'s local integrations.
    pub fn local(owner_id: impl Into<String>) -> Self {
        Self {
            installation: Installation::Local,
            owner_id: Some(owner_id.into()),
        }
    }
}

/// What one reclaim pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reclaimed {
    /// Runs queued again for another attempt.
    pub requeued: Vec<String>,
    /// Runs failed because they ran out of attempts.
    pub failed: Vec<String>,
}

/// The newest-first page of runs after `before` (a run id), `limit` long.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// Runs older than this run id (the last of the previous page).
    pub before: Option<String>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
}

impl Store {
    /// RUN NOW: queues a manual run of an integration of `owner_id` and returns it with
    /// `true`, or returns the run already queued or running with `false`. Concurrent calls
    /// create one run (the one-queued-or-running index).
    pub async fn run_now(&self, owner_id: &str, integration_id: &str) -> Result<(Run, bool)> {
        let integration = self.integration(owner_id, integration_id).await?;
        if integration.status != IntegrationStatus::Launched {
            return Err(ErrorKind::NotRunnable {
                id: integration.id,
                status: integration.status.to_string(),
            }
            .into());
        }
        for _ in 0..10 {
            let id = new_id();
            let inserted = sqlx::query(
                "INSERT INTO runs (id, integration_id, state, run_trigger, created_at) \
                 VALUES ($1, $2, 'queued', $3, $4) ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(&id)
            .bind(integration_id)
            .bind(Trigger::Manual.as_str())
            .bind(self.now_ms())
            .fetch_optional(self.pool())
            .await
            .map_err(|e| self.db(e))?;
            if inserted.is_some() {
                return Ok((self.run(&id).await?, true));
            }
            if let Some(active) = self.active_run(integration_id).await? {
                return Ok((active, false));
            }
            // The active run finished in between: try again.
        }
        Err(StoreError::invalid(
            "run",
            "the integration's runs keep changing; try again",
        ))
    }

    /// The queued or running run of an integration, if any.
    pub async fn active_run(&self, integration_id: &str) -> Result<Option<Run>> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs r \
             WHERE r.integration_id = $1 AND r.state IN ('queued', 'running')"
        ))
        .bind(integration_id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        row.map(|r| self.run_row(&r)).transpose()
    }

    /// A run by id.
    pub async fn run(&self, run_id: &str) -> Result<Run> {
        let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.id = $1"))
            .bind(run_id)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| self.db(e))?
            .ok_or_else(|| StoreError::not_found("run", run_id))?;
        self.run_row(&row)
    }

    /// A run of one of `owner_id`'s integrations (another owner's is "not found").
    pub async fn run_of_owner(&self, owner_id: &str, run_id: &str) -> Result<Run> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs r JOIN integrations i ON i.id = r.integration_id \
             WHERE r.id = $1 AND i.owner_id = $2"
        ))
        .bind(run_id)
        .bind(owner_id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.db(e))?
        .ok_or_else(|| StoreError::not_found("run", run_id))?;
        self.run_row(&row)
    }

    /// Runs of an integration, newest first, one page.
    pub async fn runs(&self, integration_id: &str, page: &Page) -> Result<Vec<Run>> {
        let limit = i64::from(page.limit.unwrap_or(50).clamp(1, 500));
        let rows =
            match &page.before {
                Some(before) => sqlx::query(&format!(
                    "SELECT {RUN_COLUMNS} FROM runs r WHERE r.integration_id = $1 AND r.id < $2 \
                     ORDER BY r.id DESC LIMIT $3"
                ))
                .bind(integration_id)
                .bind(before)
                .bind(limit)
                .fetch_all(self.pool())
                .await,
                None => {
                    sqlx::query(&format!(
                        "SELECT {RUN_COLUMNS} FROM runs r WHERE r.integration_id = $1 \
                     ORDER BY r.id DESC LIMIT $2"
                    ))
                    .bind(integration_id)
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await
                }
            }
            .map_err(|e| self.db(e))?;
        rows.iter().map(|r| self.run_row(r)).collect()
    }

    /// What happened to a run besides its report (interruptions), oldest first.
    pub async fn run_events(&self, run_id: &str) -> Result<Vec<(Timestamp, String, String)>> {
        let rows = sqlx::query(
            "SELECT at, kind, message FROM run_events WHERE run_id = $1 ORDER BY at, id",
        )
        .bind(run_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        rows.iter()
            .map(|r| {
                Ok((
                    ts(r.try_get("at")?),
                    r.try_get("kind")?,
                    r.try_get("message")?,
                ))
            })
            .collect::<sqlx::Result<_>>()
            .map_err(|e| self.db(e))
    }

    /// Claims the oldest queued run that `filter` allows for `worker`, with a fresh lease
    /// (one statement: `FOR UPDATE SKIP LOCKED` on PostgreSQL, an atomic `UPDATE ...
    /// RETURNING` on SQLite). Expired leases are reclaimed first, so any process's claim
    /// also rescues dead workers' runs.
    pub async fn claim(&self, worker: &str, filter: &ClaimFilter) -> Result<Option<Lease>> {
        self.reclaim_expired().await?;
        let now = self.now_ms();
        let expires = now.saturating_add(ms_of(self.inner.options.lease));
        let token = new_id();
        let lock = match self.inner.backend {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE OF q SKIP LOCKED",
        };
        let row = sqlx::query(&format!(
            "UPDATE runs SET state = 'running', lease_owner = $1, lease_token = $2, \
               lease_expires_at = $3, heartbeat_at = $4, attempt = attempt + 1, \
               started_at = COALESCE(started_at, $4) \
             WHERE state = 'queued' AND id = (\
               SELECT q.id FROM runs q JOIN integrations i ON i.id = q.integration_id \
               WHERE q.state = 'queued' AND i.installation = $5 AND ($6 = '' OR i.owner_id = $6) \
               ORDER BY q.created_at, q.id LIMIT 1 {lock}) \
             RETURNING id, integration_id, attempt"
        ))
        .bind(worker)
        .bind(&token)
        .bind(expires)
        .bind(now)
        .bind(filter.installation.as_str())
        .bind(filter.owner_id.as_deref().unwrap_or(""))
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        let Some(row) = row else { return Ok(None) };
        let run_id: String = row.try_get("id").map_err(|e| self.db(e))?;
        let integration_id: String = row.try_get("integration_id").map_err(|e| self.db(e))?;
        let attempt: i64 = row.try_get("attempt").map_err(|e| self.db(e))?;
        let meta = sqlx::query("SELECT name, owner_id FROM integrations WHERE id = $1")
            .bind(&integration_id)
            .fetch_one(self.pool())
            .await
            .map_err(|e| self.db(e))?;
        Ok(Some(Lease {
            run_id,
            integration_id,
            integration_name: meta.try_get("name").map_err(|e| self.db(e))?,
            owner_id: meta.try_get("owner_id").map_err(|e| self.db(e))?,
            worker: worker.to_owned(),
            attempt,
            expires_at: ts(expires),
            token,
        }))
    }

    /// Renews a lease for another [`StoreOptions::lease`](crate::StoreOptions::lease).
    /// [`ErrorKind::LeaseLost`] when another worker holds the run now or it is no longer
    /// running. (A lease past its expiry that nobody reclaimed yet is renewed: no one else
    /// has the run.)
    pub async fn heartbeat(&self, lease: &mut Lease) -> Result<()> {
        let now = self.now_ms();
        let expires = now.saturating_add(ms_of(self.inner.options.lease));
        let done = sqlx::query(
            "UPDATE runs SET lease_expires_at = $1, heartbeat_at = $2 \
             WHERE id = $3 AND lease_token = $4 AND state = 'running'",
        )
        .bind(expires)
        .bind(now)
        .bind(&lease.run_id)
        .bind(&lease.token)
        .execute(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        if done.rows_affected() == 0 {
            return Err(self.lease_lost(&lease.run_id).await);
        }
        lease.expires_at = ts(expires);
        Ok(())
    }

    /// The [`ErrorKind::LeaseLost`] error for a run, saying who has it now.
    pub(crate) async fn lease_lost(&self, run_id: &str) -> StoreError {
        let holder = match self.run(run_id).await {
            Ok(run) if run.state == RunState::Running => format!(
                "worker `{}` holds it now (attempt {})",
                run.lease_owner.unwrap_or_default(),
                run.attempt
            ),
            Ok(run) if run.state == RunState::Queued => {
                "its lease expired and it was queued again".to_owned()
            }
            Ok(run) => format!("the run is {}", run.state),
            Err(e) => return e,
        };
        ErrorKind::LeaseLost {
            run: run_id.to_owned(),
            holder,
        }
        .into()
    }

    /// Inside a write transaction: renews the lease or fails with
    /// [`ErrorKind::LeaseLost`]. On PostgreSQL the row lock taken here holds off a
    /// reclaim until the transaction ends; on SQLite the transaction holds the write lock.
    pub(crate) async fn fence(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        lease: &Lease,
    ) -> Result<bool> {
        let now = self.now_ms();
        let done = sqlx::query(
            "UPDATE runs SET heartbeat_at = $1 \
             WHERE id = $2 AND lease_token = $3 AND state = 'running'",
        )
        .bind(now)
        .bind(&lease.run_id)
        .bind(&lease.token)
        .execute(&mut **tx)
        .await
        .map_err(|e| self.db(e))?;
        Ok(done.rows_affected() == 1)
    }

    /// Finishes a run with its session report: the run's state follows the report's
    /// status, earlier interruptions join its warnings, per-record errors go to their own
    /// table, and a failed run notifies the integration's contacts. Only the lease holder
    /// can do this; anyone else gets [`ErrorKind::LeaseLost`] and nothing changes.
    pub async fn finish(&self, lease: &Lease, report: &SessionReport) -> Result<Run> {
        let mut tx = self.begin_write().await?;
        if !self.fence(&mut tx, lease).await? {
            drop(tx);
            return Err(self.lease_lost(&lease.run_id).await);
        }
        let events = sqlx::query(
            "SELECT message FROM run_events WHERE run_id = $1 AND kind = 'interrupted' ORDER BY at, id",
        )
        .bind(&lease.run_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        let mut report = report.clone();
        for e in &events {
            let message: String = e.try_get("message").map_err(|e| self.db(e))?;
            if !report.warnings.contains(&message) {
                report.warnings.insert(0, message);
            }
        }
        let state = RunState::of_session(report.status);
        self.write_report(&mut tx, &lease.run_id, &report).await?;
        let now = self.now_ms();
        sqlx::query(
            "UPDATE runs SET state = $1, finished_at = $2, lease_owner = NULL, lease_token = NULL, \
               lease_expires_at = NULL WHERE id = $3 AND lease_token = $4",
        )
        .bind(state.as_str())
        .bind(now)
        .bind(&lease.run_id)
        .bind(&lease.token)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        if state == RunState::Failed {
            let why = report
                .fatal
                .clone()
                .unwrap_or_else(|| "no reason given".to_owned());
            self.notify_in(
                &mut tx,
                &Event {
                    kind: NotificationKind::RunFailed,
                    integration_id: lease.integration_id.clone(),
                    run_id: lease.run_id.clone(),
                    detail: why,
                },
            )
            .await?;
        }
        tx.commit().await.map_err(|e| self.db(e))?;
        self.run(&lease.run_id).await
    }

    /// Stores a report (counts, status, per-record errors) on a run, inside `tx`.
    pub(crate) async fn write_report(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        run_id: &str,
        report: &SessionReport,
    ) -> Result<()> {
        let json = serde_json::to_string(report)
            .map_err(|e| StoreError::invalid("session report", e.to_string()))?;
        let c = &report.counts;
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        sqlx::query(
            "UPDATE runs SET report = $1, session_id = $2, session_status = $3, fatal = $4, \
               created = $5, updated = $6, deactivated = $7, reactivated = $8, unchanged = $9, \
               skipped = $10, failed = $11 WHERE id = $12",
        )
        .bind(json)
        .bind(report.id.to_string())
        .bind(report.status.as_str())
        .bind(report.fatal.as_deref())
        .bind(n(c.created))
        .bind(n(c.updated))
        .bind(n(c.deactivated))
        .bind(n(c.reactivated))
        .bind(n(c.unchanged))
        .bind(n(c.skipped))
        .bind(n(c.failed))
        .bind(run_id)
        .execute(&mut **tx)
        .await
        .map_err(|e| self.db(e))?;
        sqlx::query("DELETE FROM run_errors WHERE run_id = $1")
            .bind(run_id)
            .execute(&mut **tx)
            .await
            .map_err(|e| self.db(e))?;
        for (seq, error) in report.errors.iter().enumerate() {
            sqlx::query(
                "INSERT INTO run_errors (run_id, seq, collection, record_key, message) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(run_id)
            .bind(i64::try_from(seq).unwrap_or(i64::MAX))
            .bind(error.collection.to_string())
            .bind(error.key.as_str())
            .bind(&error.message)
            .execute(&mut **tx)
            .await
            .map_err(|e| self.db(e))?;
        }
        Ok(())
    }

    /// Per-record errors of a run: (collection, sync key, message).
    pub async fn run_errors(&self, run_id: &str) -> Result<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT collection, record_key, message FROM run_errors WHERE run_id = $1 ORDER BY seq",
        )
        .bind(run_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("collection")?,
                    r.try_get("record_key")?,
                    r.try_get("message")?,
                ))
            })
            .collect::<sqlx::Result<_>>()
            .map_err(|e| self.db(e))
    }

    /// Reclaims every run whose lease expired (by the store's clock): queued again with
    /// the interruption recorded, or failed (and notified) once it used up its attempts.
    /// Safe in every process at once: each change is a compare-and-set on the lease token.
    pub async fn reclaim_expired(&self) -> Result<Reclaimed> {
        let now = self.now_ms();
        let rows = sqlx::query(
            "SELECT id, integration_id, lease_owner, lease_token, lease_expires_at, attempt FROM runs \
             WHERE state = 'running' AND lease_expires_at < $1",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        let mut out = Reclaimed::default();
        for row in rows {
            let get_s =
                |c: &str| -> Result<Option<String>> { row.try_get(c).map_err(|e| self.db(e)) };
            let id = get_s("id")?.unwrap_or_default();
            let integration_id = get_s("integration_id")?.unwrap_or_default();
            let worker = get_s("lease_owner")?.unwrap_or_default();
            let token = get_s("lease_token")?.unwrap_or_default();
            let expired: i64 = row.try_get("lease_expires_at").map_err(|e| self.db(e))?;
            let attempt: i64 = row.try_get("attempt").map_err(|e| self.db(e))?;
            let give_up = attempt >= i64::from(self.inner.options.max_attempts);
            let message = format!(
                "attempt {attempt} was interrupted: worker `{worker}` stopped renewing its lease, \
                 which expired at {}",
                ts(expired)
            );
            let mut tx = self.begin_write().await?;
            let changed = if give_up {
                let fatal = format!(
                    "the run was interrupted {attempt} time(s) (workers stopped renewing their \
                     lease); giving up after {} attempt(s)",
                    self.inner.options.max_attempts
                );
                let name: String = sqlx::query("SELECT name FROM integrations WHERE id = $1")
                    .bind(&integration_id)
                    .fetch_one(&mut *tx)
                    .await
                    .and_then(|r| r.try_get("name"))
                    .map_err(|e| self.db(e))?;
                let started: Option<i64> = sqlx::query("SELECT started_at FROM runs WHERE id = $1")
                    .bind(&id)
                    .fetch_one(&mut *tx)
                    .await
                    .and_then(|r| r.try_get("started_at"))
                    .map_err(|e| self.db(e))?;
                let started = chrono::DateTime::from_timestamp_millis(started.unwrap_or(now))
                    .unwrap_or_default();
                let mut report = SessionReport::failed(name, started, fatal.clone());
                let previous = sqlx::query(
                    "SELECT message FROM run_events WHERE run_id = $1 AND kind = 'interrupted' \
                     ORDER BY at, id",
                )
                .bind(&id)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
                for p in &previous {
                    report
                        .warnings
                        .push(p.try_get("message").map_err(|e| self.db(e))?);
                }
                report.warnings.push(message.clone());
                let done = sqlx::query(
                    "UPDATE runs SET state = 'failed', finished_at = $1, lease_owner = NULL, \
                       lease_token = NULL, lease_expires_at = NULL \
                     WHERE id = $2 AND lease_token = $3 AND state = 'running' AND lease_expires_at < $1",
                )
                .bind(now)
                .bind(&id)
                .bind(&token)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
                if done.rows_affected() == 1 {
                    self.write_report(&mut tx, &id, &report).await?;
                    self.notify_in(
                        &mut tx,
                        &Event {
                            kind: NotificationKind::RunFailed,
                            integration_id: integration_id.clone(),
                            run_id: id.clone(),
                            detail: fatal,
                        },
                    )
                    .await?;
                }
                done.rows_affected() == 1
            } else {
                let done = sqlx::query(
                    "UPDATE runs SET state = 'queued', lease_owner = NULL, lease_token = NULL, \
                       lease_expires_at = NULL \
                     WHERE id = $1 AND lease_token = $2 AND state = 'running' AND lease_expires_at < $3",
                )
                .bind(&id)
                .bind(&token)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
                done.rows_affected() == 1
            };
            if changed {
                sqlx::query(
                    "INSERT INTO run_events (id, run_id, at, kind, message) \
                     VALUES ($1, $2, $3, 'interrupted', $4)",
                )
                .bind(new_id())
                .bind(&id)
                .bind(now)
                .bind(&message)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
            }
            tx.commit().await.map_err(|e| self.db(e))?;
            if changed {
                tracing::warn!(run = %id, worker = %worker, attempt, give_up, "reclaimed a run whose lease expired");
                if give_up {
                    out.failed.push(id);
                } else {
                    out.requeued.push(id);
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn run_row(&self, row: &sqlx::any::AnyRow) -> Result<Run> {
        let s = |c: &str| -> Result<Option<String>> { row.try_get(c).map_err(|e| self.db(e)) };
        let i = |c: &str| -> Result<i64> { row.try_get::<i64, _>(c).map_err(|e| self.db(e)) };
        let oi = |c: &str| -> Result<Option<i64>> { row.try_get(c).map_err(|e| self.db(e)) };
        let id = s("id")?.unwrap_or_default();
        let report = match s("report")? {
            Some(text) => Some(
                serde_json::from_str(&text)
                    .map_err(|e| StoreError::corrupt("session report", &id, e))?,
            ),
            None => None,
        };
        Ok(Run {
            integration_id: s("integration_id")?.unwrap_or_default(),
            state: RunState::parse(&s("state")?.unwrap_or_default())?,
            trigger: Trigger::parse(&s("run_trigger")?.unwrap_or_default())?,
            scheduled_for: oi("scheduled_for")?.map(ts),
            created_at: ts(i("created_at")?),
            attempt: i("attempt")?,
            lease_owner: s("lease_owner")?,
            lease_expires_at: oi("lease_expires_at")?.map(ts),
            started_at: oi("started_at")?.map(ts),
            finished_at: oi("finished_at")?.map(ts),
            counts: RunCounts {
                created: i("created")?,
                updated: i("updated")?,
                deactivated: i("deactivated")?,
                reactivated: i("reactivated")?,
                unchanged: i("unchanged")?,
                skipped: i("skipped")?,
                failed: i("failed")?,
            },
            session_id: s("session_id")?,
            fatal: s("fatal")?,
            report,
            id,
        })
    }
}
