//! sync-runtime's [`StateStore`] on the database, for one claimed run: the run lock is the
//! run's lease, the ledger is saved (fenced by the lease) before the writes it describes,
//! and sessions are the integration's runs. A cloud run thus has the local run's safety
//! (sync-safety S13, S15): a worker whose lease was taken over is `Locked` out and cannot
//! overwrite the ledger or the report.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row as _;
use sync_engine::SessionReport;
use sync_runtime::{Ledger, RunGuard, StateError, StateStore};

use crate::db::Store;
use crate::error::{ErrorKind, StoreError};
use crate::queue::Lease;

/// The state of the integration of one claimed run. Build it with
/// [`Store::run_state`].
#[derive(Debug, Clone)]
pub struct LeasedState {
    store: Store,
    lease: Arc<tokio::sync::Mutex<Lease>>,
    run_id: String,
    integration: String,
    integration_id: String,
    owner_id: String,
    locked: Arc<AtomicBool>,
    lost: Arc<AtomicBool>,
}

impl Store {
    /// The [`StateStore`] of the run `lease` holds.
    pub fn run_state(&self, lease: Lease) -> LeasedState {
        LeasedState {
            store: self.clone(),
            run_id: lease.run_id.clone(),
            integration: lease.integration_name.clone(),
            integration_id: lease.integration_id.clone(),
            owner_id: lease.owner_id.clone(),
            lease: Arc::new(tokio::sync::Mutex::new(lease)),
            locked: Arc::new(AtomicBool::new(false)),
            lost: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Holds the run lock of a [`LeasedState`]: renews the lease every third of its length
/// until dropped. When a renewal finds the lease gone it stops, and every later write
/// through the state fails.
#[derive(Debug)]
pub struct LeaseGuard {
    task: tokio::task::JoinHandle<()>,
    locked: Arc<AtomicBool>,
}

impl RunGuard for LeaseGuard {}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.task.abort();
        self.locked.store(false, Ordering::SeqCst);
    }
}

fn io_err(store: &Store, e: StoreError) -> StateError {
    StateError::Io {
        action: "database failure:",
        path: PathBuf::from(store.describe()),
        source: std::io::Error::other(e),
    }
}

impl LeasedState {
    /// The lease as it stands (renewed by the guard's heartbeats).
    pub async fn lease(&self) -> Lease {
        self.lease.lock().await.clone()
    }

    /// True once a heartbeat or a write found the lease taken over.
    pub fn lease_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    fn state_err(&self, e: StoreError) -> StateError {
        match e.into_kind() {
            ErrorKind::LeaseLost { run, holder } => {
                self.lost.store(true, Ordering::SeqCst);
                StateError::Locked {
                    integration: self.integration.clone(),
                    path: PathBuf::from(format!(
                        "(the lease of run {run} in {})",
                        self.store.describe()
                    )),
                    holder,
                }
            }
            other => io_err(&self.store, other.into()),
        }
    }

    fn check_integration(&self, integration: &str) -> Result<(), StateError> {
        if integration == self.integration {
            Ok(())
        } else {
            Err(StateError::Io {
                action: "this run's lease does not cover integration",
                path: PathBuf::from(integration),
                source: std::io::Error::other(format!(
                    "run {} belongs to integration \"{}\"",
                    self.run_id, self.integration
                )),
            })
        }
    }

    /// A write transaction in which the lease was checked (and renewed): on PostgreSQL
    /// the run's row stays locked until it ends, so no reclaim slips in between.
    async fn begin_fenced(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StateError> {
        let lease = self.lease.lock().await.clone();
        let mut tx = self
            .store
            .begin_write()
            .await
            .map_err(|e| self.state_err(e))?;
        if !self
            .store
            .fence(&mut tx, &lease)
            .await
            .map_err(|e| self.state_err(e))?
        {
            drop(tx);
            return Err(self.state_err(self.store.lease_lost(&lease.run_id).await));
        }
        Ok(tx)
    }
}

#[async_trait]
impl StateStore for LeasedState {
    fn describe(&self) -> String {
        format!("run {} in {}", self.run_id, self.store.describe())
    }

    async fn lock(&self, integration: &str) -> Result<Box<dyn RunGuard>, StateError> {
        self.check_integration(integration)?;
        if self.locked.swap(true, Ordering::SeqCst) {
            return Err(StateError::Locked {
                integration: integration.to_owned(),
                path: PathBuf::from(format!("(the lease of run {})", self.run_id)),
                holder: "this process (the lock is already held through this run's state)"
                    .to_owned(),
            });
        }
        let renewed = {
            let mut lease = self.lease.lock().await;
            self.store.heartbeat(&mut lease).await
        };
        if let Err(e) = renewed {
            self.locked.store(false, Ordering::SeqCst);
            return Err(self.state_err(e));
        }
        let store = self.store.clone();
        let lease = Arc::clone(&self.lease);
        let lost = Arc::clone(&self.lost);
        let every = (store.options().lease / 3).max(Duration::from_millis(50));
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.tick().await;
            loop {
                interval.tick().await;
                let mut held = lease.lock().await;
                match store.heartbeat(&mut held).await {
                    Ok(()) => {}
                    Err(e) if e.is_lease_lost() => {
                        tracing::error!(run = %held.run_id, error = %e, "lease lost; this worker stops writing for the run");
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    // A database hiccup: try again at the next beat, well before expiry.
                    Err(e) => tracing::warn!(run = %held.run_id, error = %e, "heartbeat failed"),
                }
            }
        });
        Ok(Box::new(LeaseGuard {
            task,
            locked: Arc::clone(&self.locked),
        }))
    }

    async fn ledger(&self, integration: &str) -> Result<Ledger, StateError> {
        self.check_integration(integration)?;
        let row = sqlx::query("SELECT ledger FROM ledgers WHERE integration_id = $1")
            .bind(&self.integration_id)
            .fetch_optional(self.store.pool())
            .await
            .map_err(|e| self.state_err(self.store.db(e)))?;
        let Some(row) = row else {
            return Ok(Ledger::default());
        };
        let text: String = row
            .try_get("ledger")
            .map_err(|e| self.state_err(self.store.db(e)))?;
        serde_json::from_str(&text).map_err(|source| StateError::Corrupt {
            path: PathBuf::from(format!(
                "(the ledger of integration {} in {})",
                self.integration_id,
                self.store.describe()
            )),
            source,
        })
    }

    async fn save_ledger(&self, integration: &str, ledger: &Ledger) -> Result<(), StateError> {
        self.check_integration(integration)?;
        let text = serde_json::to_string(ledger)
            .map_err(|e| io_err(&self.store, StoreError::invalid("ledger", e.to_string())))?;
        let mut tx = self.begin_fenced().await?;
        sqlx::query(
            "INSERT INTO ledgers (integration_id, ledger, run_id, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (integration_id) DO UPDATE SET \
             ledger = excluded.ledger, run_id = excluded.run_id, updated_at = excluded.updated_at",
        )
        .bind(&self.integration_id)
        .bind(&text)
        .bind(&self.run_id)
        .bind(self.store.now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.state_err(self.store.db(e)))?;
        tx.commit()
            .await
            .map_err(|e| self.state_err(self.store.db(e)))
    }

    async fn save_session(&self, report: &SessionReport) -> Result<(), StateError> {
        self.check_integration(&report.integration)?;
        let mut tx = self.begin_fenced().await?;
        self.store
            .write_report(&mut tx, &self.run_id, report)
            .await
            .map_err(|e| self.state_err(e))?;
        tx.commit()
            .await
            .map_err(|e| self.state_err(self.store.db(e)))
    }

    async fn sessions(&self) -> Result<Vec<SessionReport>, StateError> {
        let rows = sqlx::query(
            "SELECT id, report FROM runs WHERE integration_id = $1 AND report IS NOT NULL",
        )
        .bind(&self.integration_id)
        .fetch_all(self.store.pool())
        .await
        .map_err(|e| self.state_err(self.store.db(e)))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.decode(&row)?);
        }
        out.sort_by(|a, b| {
            b.started_at
                .cmp(&a.started_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok(out)
    }

    async fn session(&self, id: &str) -> Result<SessionReport, StateError> {
        // By session id or run id, exact or a unique prefix, among this owner's runs.
        let pattern = format!("{}%", id.replace(['%', '_'], ""));
        let rows = sqlx::query(
            "SELECT r.id, r.report FROM runs r JOIN integrations i ON i.id = r.integration_id \
             WHERE i.owner_id = $1 AND r.report IS NOT NULL \
               AND (r.session_id LIKE $2 OR r.id LIKE $2)",
        )
        .bind(&self.owner_id)
        .bind(&pattern)
        .fetch_all(self.store.pool())
        .await
        .map_err(|e| self.state_err(self.store.db(e)))?;
        if id.is_empty() || rows.len() != 1 {
            return Err(StateError::NoSuchSession(id.to_owned()));
        }
        self.decode(&rows[0])
    }
}

impl LeasedState {
    fn decode(&self, row: &sqlx::any::AnyRow) -> Result<SessionReport, StateError> {
        let id: String = row
            .try_get("id")
            .map_err(|e| self.state_err(self.store.db(e)))?;
        let text: String = row
            .try_get("report")
            .map_err(|e| self.state_err(self.store.db(e)))?;
        serde_json::from_str(&text).map_err(|source| StateError::Corrupt {
            path: PathBuf::from(format!(
                "(the report of run {id} in {})",
                self.store.describe()
            )),
            source,
        })
    }
}
