//! The worker loop that runs in every `serve` process: sweeps (reclaim expired leases,
//! scheduler tick, deadlines, email outbox), claims queued runs of cloud integrations,
//! runs each through sync-runtime with the store's [`LeasedState`](sync_store::LeasedState)
//! and the owner's sealed credentials, and finishes the lease with the session report.
//!
//! Shutdown: no new claims; runs in flight get `drain` to finish on their own, are then
//! asked to stop at the next batch boundary (their session is `interrupted`, as with the
//! CLI's SIGTERM), and whatever is still running after `stop_grace` more is abandoned: its
//! lease expires and another process reclaims the run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sync_engine::{NoProgress, SessionReport, Stop};
use sync_runtime::RunOptions;
use sync_store::{ClaimFilter, Lease, Mailer};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::Instrument as _;

use crate::App;
use crate::problem::error_chain;
use crate::settings::{OwnerCredentials, parse_stored};

/// How the worker loop behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This process's name in leases (`host:pid` by default).
    pub worker_id: String,
    /// Runs executed at once by this process (0: the worker is off, API only).
    pub concurrency: usize,
    /// How often the queue is polled when nothing wakes the worker.
    pub poll: Duration,
    /// How often the background sweep runs.
    pub sweep_every: Duration,
    /// On shutdown, how long runs in flight may take to finish on their own.
    pub drain: Duration,
    /// After that, how long a run asked to stop may take to reach a batch boundary.
    pub stop_grace: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            worker_id: default_worker_id(),
            concurrency: 2,
            poll: Duration::from_secs(2),
            sweep_every: Duration::from_secs(10),
            drain: Duration::from_secs(20),
            stop_grace: Duration::from_secs(10),
        }
    }
}

/// `hostname:pid`, or `worker:pid` without a host name.
pub fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    format!("{host}:{}", std::process::id())
}

/// Wakes the worker early (RUN NOW in this process).
#[derive(Debug, Default)]
pub struct Wake(Notify);

impl Wake {
    /// Wakes the worker.
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Runs the worker until `shutdown` turns true, then drains.
pub async fn run(
    app: Arc<App>,
    mailer: Option<Arc<dyn Mailer>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let config = app.config.worker.clone();
    let stops: Arc<Mutex<HashMap<String, Stop>>> = Arc::default();
    let mut tasks = JoinSet::new();
    let mut last_sweep: Option<Instant> = None;
    tracing::info!(worker = %config.worker_id, concurrency = config.concurrency, "worker started");
    loop {
        if *shutdown.borrow() {
            break;
        }
        if last_sweep.is_none_or(|t| t.elapsed() >= config.sweep_every) {
            last_sweep = Some(Instant::now());
            sweep(&app, mailer.as_deref()).await;
        }
        while tasks.try_join_next().is_some() {}
        while tasks.len() < config.concurrency {
            match app
                .store
                .claim(&config.worker_id, &ClaimFilter::cloud())
                .await
            {
                Ok(Some(lease)) => {
                    let stop = Stop::new();
                    stops
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(lease.run_id.clone(), stop.clone());
                    let span = tracing::info_span!(
                        "run",
                        run_id = %lease.run_id,
                        integration_id = %lease.integration_id,
                        attempt = lease.attempt,
                    );
                    let (app, stops) = (Arc::clone(&app), Arc::clone(&stops));
                    tasks.spawn(
                        async move {
                            let run_id = lease.run_id.clone();
                            execute(&app, lease, stop).await;
                            stops
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .remove(&run_id);
                        }
                        .instrument(span),
                    );
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %error_chain(&e), "cannot claim a run");
                    break;
                }
            }
        }
        let next_sweep = config
            .sweep_every
            .saturating_sub(last_sweep.map_or(Duration::ZERO, |t| t.elapsed()));
        tokio::select! {
            _ = shutdown.changed() => {}
            () = app.wake.0.notified() => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            () = tokio::time::sleep(config.poll.min(next_sweep)) => {}
        }
    }
    drain(tasks, &stops, &config).await;
    tracing::info!(worker = %config.worker_id, "worker stopped");
}

async fn drain(
    mut tasks: JoinSet<()>,
    stops: &Mutex<HashMap<String, Stop>>,
    config: &WorkerConfig,
) {
    if tasks.is_empty() {
        return;
    }
    tracing::info!(
        runs = tasks.len(),
        drain_s = config.drain.as_secs(),
        "shutting down: letting runs in flight finish"
    );
    let all = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(config.drain, all).await.is_ok() {
        return;
    }
    tracing::warn!(
        runs = tasks.len(),
        "runs still in flight: asking them to stop at the next batch boundary"
    );
    for stop in stops
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .values()
    {
        stop.request();
    }
    let all = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(config.stop_grace, all).await.is_err() {
        tracing::warn!(
            runs = tasks.len(),
            "abandoning runs still in flight: their leases expire and another process reclaims them"
        );
        tasks.abort_all();
    }
}

async fn sweep(app: &App, mailer: Option<&dyn Mailer>) {
    match app.store.sweep(mailer).await {
        Ok(report) => {
            app.metrics
                .record_reclaims(report.requeued.len(), report.failed.len());
            if !report.requeued.is_empty() || !report.failed.is_empty() {
                tracing::warn!(requeued = ?report.requeued, failed = ?report.failed, "reclaimed runs whose worker stopped heartbeating");
            }
            if !report.scheduled.is_empty() {
                tracing::info!(runs = ?report.scheduled, "scheduled runs queued");
            }
        }
        Err(e) => tracing::warn!(error = %error_chain(&e), "sweep failed"),
    }
}

/// Runs one claimed run to its end and finishes the lease.
async fn execute(app: &App, lease: Lease, stop: Stop) {
    let started = chrono::Utc::now();
    tracing::info!(integration = %lease.integration_name, "run started");
    let state = app.store.run_state(lease.clone());
    let report = match prepare(app, &lease).await {
        Ok(integration) => {
            let opts = RunOptions {
                stop,
                stop_grace: app.config.worker.stop_grace,
                ..RunOptions::default()
            };
            match integration.run(&state, &opts, &NoProgress).await {
                Ok(report) => report,
                Err(e) => {
                    SessionReport::failed(lease.integration_name.clone(), started, error_chain(&e))
                }
            }
        }
        Err(message) => SessionReport::failed(lease.integration_name.clone(), started, message),
    };
    if state.lease_lost() {
        tracing::error!("lease lost during the run: another worker owns it now; not finishing");
        return;
    }
    let lease = state.lease().await;
    match app.store.finish(&lease, &report).await {
        Ok(run) => {
            app.metrics.record_report(&report);
            tracing::info!(
                state = %run.state,
                status = report.status.as_str(),
                created = report.counts.created,
                updated = report.counts.updated,
                deactivated = report.counts.deactivated,
                failed = report.counts.failed,
                "run finished"
            );
        }
        Err(e) if e.is_lease_lost() => {
            tracing::error!(error = %error_chain(&e), "lease lost before finishing");
        }
        Err(e) => tracing::error!(error = %error_chain(&e), "cannot finish the run"),
    }
}

/// The integration of a claimed run, built with its owner's credentials; a message for
/// the failed report otherwise.
async fn prepare(app: &App, lease: &Lease) -> Result<sync_runtime::Integration, String> {
    let stored = app
        .store
        .integration(&lease.owner_id, &lease.integration_id)
        .await
        .map_err(|e| format!("cannot read the integration: {}", error_chain(&e)))?;
    let config = parse_stored(app.pairing, &stored.name, &stored.settings).map_err(|items| {
        let lines: Vec<String> = items
            .iter()
            .map(|i| match &i.key {
                Some(k) => format!("{k}: {}", i.message),
                None => i.message.clone(),
            })
            .collect();
        format!("configuration: {}", lines.join("; "))
    })?;
    let credentials = OwnerCredentials::new(&app.store, &lease.owner_id, &app.master);
    crate::settings::build(&config, &credentials)
        .await
        .map_err(|e| error_chain(&e))
}
