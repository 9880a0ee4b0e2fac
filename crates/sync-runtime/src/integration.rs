//! Running one integration end to end, with any [`Source`] and [`Target`]: plan, apply,
//! keep the ledger and the session report in a [`StateStore`] (the local state directory,
//! or a service's database). Vendor-neutral: the next connector reuses it as is.

use std::path::Path;
use std::time::Duration;

use sync_engine::{
    ApplyControl, ApplyOptions, DEFAULT_STOP_GRACE, ExecuteOptions, PlanOptions, PlannedSync,
    Progress, SessionReport, Source, Stop, SyncDefinition, SyncPlan, Target, pipeline,
};

use sync_engine::error::report as error_report;

use crate::ledger::{Journal, Ledger, ReconcilingLedger};
use crate::state::StateError;
use crate::store::StateStore;

/// Errors that stop a command before a session exists (configuration, credentials,
/// state, plan files, a front end's usage problem). Everything that happens during a run
/// ends up in its [`SessionReport`] instead.
///
/// Each error has its exit code ([`RuntimeError::exit_code`]) and a stable
/// machine-readable kind ([`RuntimeError::kind`]) that a service can turn into a
/// problem+json type.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The configuration is wrong (exit code 2): every problem found.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigErrors),
    /// A front end's usage problem: a bad option or input (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// Local state could not be read or written, or another run holds the lock.
    #[error(transparent)]
    State(#[from] StateError),
    /// The credential store refused or failed.
    #[error(transparent)]
    Credentials(#[from] crate::credentials::StoreError),
    /// A plan file could not be read or written (a usage problem: exit code 2).
    #[error("plan file {path}: {message}")]
    PlanFile {
        /// Which file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A connector check failed.
    #[error(transparent)]
    Connector(#[from] sync_engine::ConnectorError),
}

impl From<crate::config::ConfigError> for RuntimeError {
    fn from(e: crate::config::ConfigError) -> Self {
        RuntimeError::Config(e.into())
    }
}

impl From<credential_store::CredentialError> for RuntimeError {
    fn from(e: credential_store::CredentialError) -> Self {
        RuntimeError::Credentials(e.into())
    }
}

/// Exit codes of the command-line contract.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// A failure.
    pub const FAILURE: u8 = 1;
    /// Bad usage or configuration: nothing was sent.
    pub const USAGE: u8 = 2;
    /// Finished, with record errors or held deactivations.
    pub const PARTIAL: u8 = 3;
}

impl RuntimeError {
    /// True for configuration and usage problems, which the user fixes (exit code 2).
    pub fn is_config(&self) -> bool {
        use crate::credentials::StoreError;
        use credential_store::ErrorKind as Cred;
        match self {
            RuntimeError::Config(_) | RuntimeError::Usage(_) | RuntimeError::PlanFile { .. } => {
                true
            }
            RuntimeError::Connector(e) => e.kind == sync_engine::ErrorKind::Config,
            RuntimeError::State(e) => matches!(e, StateError::NoSuchSession(_)),
            RuntimeError::Credentials(e) => match e {
                StoreError::Exists { .. } | StoreError::NoPassphrase { .. } => true,
                StoreError::Credential(c) => matches!(
                    c.kind(),
                    Cred::WeakPassphrase { .. } | Cred::Permissions { .. }
                ),
            },
        }
    }

    /// The exit code: [`exit::USAGE`] for what the user fixes, else [`exit::FAILURE`].
    pub fn exit_code(&self) -> u8 {
        if self.is_config() {
            exit::USAGE
        } else {
            exit::FAILURE
        }
    }

    /// A stable machine-readable kind: `config`, `usage`, `plan-file`, `locked`,
    /// `no-such-session`, `state`, `credential-usage`, `credential`, or `connector-<kind>`
    /// (`connector-auth`, `connector-config`, `connector-throttled`, `connector-transient`,
    /// `connector-api`, `connector-decode`, `connector-other`).
    pub fn kind(&self) -> &'static str {
        match self {
            RuntimeError::Config(_) => "config",
            RuntimeError::Usage(_) => "usage",
            RuntimeError::PlanFile { .. } => "plan-file",
            RuntimeError::State(StateError::Locked { .. }) => "locked",
            RuntimeError::State(StateError::NoSuchSession(_)) => "no-such-session",
            RuntimeError::State(_) => "state",
            RuntimeError::Credentials(_) if self.is_config() => "credential-usage",
            RuntimeError::Credentials(_) => "credential",
            RuntimeError::Connector(e) => match e.kind {
                sync_engine::ErrorKind::Auth => "connector-auth",
                sync_engine::ErrorKind::Config => "connector-config",
                sync_engine::ErrorKind::Throttled => "connector-throttled",
                sync_engine::ErrorKind::Transient => "connector-transient",
                sync_engine::ErrorKind::Api => "connector-api",
                sync_engine::ErrorKind::Decode => "connector-decode",
                sync_engine::ErrorKind::Other => "connector-other",
            },
        }
    }
}

/// What `run` should do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Apply this saved plan (refused if either side changed since it was made).
    pub plan: Option<SyncPlan>,
    /// Approve deactivations above the thresholds.
    pub allow_deactivations: bool,
    /// Requested (SIGINT, SIGTERM) to stop the run at the next batch boundary; the session
    /// is then saved as `interrupted`.
    pub stop: Stop,
    /// How long batches in flight may take to finish after a stop request.
    pub stop_grace: Duration,
}

impl Default for RunOptions {
    /// A fresh plan, no approval, a stop nobody requests, 10 s of grace.
    fn default() -> Self {
        RunOptions {
            plan: None,
            allow_deactivations: false,
            stop: Stop::new(),
            stop_grace: DEFAULT_STOP_GRACE,
        }
    }
}

/// One run's source and target.
///
/// Opened afresh for every validation, plan and run ([`OpenConnectors`]), so each run owns
/// its counters (requests, waits, the wait cap) and caches (metadata, roles, application
/// ids): nothing carries over between the runs of a long-lived process, not even after a
/// run that failed half-way.
pub struct Connectors {
    /// Where users come from.
    pub source: Box<dyn Source>,
    /// Where they are written.
    pub target: Box<dyn Target>,
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connectors")
            .field("source", &self.source.system())
            .field("target", &self.target.system())
            .finish()
    }
}

/// Opens a run's [`Connectors`]. Opening sends nothing: it builds the clients from the
/// configuration and the secrets already resolved.
pub trait OpenConnectors: Send + Sync {
    /// A fresh source and target for one run of `definition`.
    fn open(&self, definition: &SyncDefinition) -> Result<Connectors, RuntimeError>;
}

impl<F> OpenConnectors for F
where
    F: Fn(&SyncDefinition) -> Result<Connectors, RuntimeError> + Send + Sync,
{
    fn open(&self, definition: &SyncDefinition) -> Result<Connectors, RuntimeError> {
        self(definition)
    }
}

/// One integration, ready to run: its definition, how to open its connectors, and apply
/// settings.
pub struct Integration {
    /// The engine's definition (mappings, filters, policy).
    pub definition: SyncDefinition,
    /// Opens a fresh source and target for each run.
    pub connectors: Box<dyn OpenConnectors>,
    /// Batching and concurrency of writes.
    pub apply: ApplyOptions,
}

impl std::fmt::Debug for Integration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integration")
            .field("name", &self.definition.integration)
            .field("apply", &self.apply)
            .finish_non_exhaustive()
    }
}

impl Integration {
    /// The integration's name.
    pub fn name(&self) -> &str {
        &self.definition.integration
    }

    /// A fresh source and target, for one run.
    pub fn open(&self) -> Result<Connectors, RuntimeError> {
        self.connectors.open(&self.definition)
    }

    /// The online checks of `validate`: the source accepts its credential, and every
    /// target field the mappings need exists (each sync key field unique). Writes nothing.
    /// Returns one line per check passed.
    pub async fn validate(&self) -> Result<Vec<String>, RuntimeError> {
        let Connectors { source, target } = self.open()?;
        let mut lines = source.validate().await?;
        for mapping in &self.definition.collections {
            let spec = mapping.spec();
            target.validate(spec).await?;
            let fields: Vec<&str> = spec.fields.iter().map(AsRef::as_ref).collect();
            lines.push(format!(
                "{} {}: fields present: {} (sync key {} is unique)",
                target.display_name(),
                spec.collection,
                fields.join(", "),
                spec.sync_key
            ));
        }
        Ok(lines)
    }

    /// Dry run: reads both sides, plans, stores the report as a (dry-run) session and
    /// returns the plan with its report. Writes nothing to either system.
    pub async fn plan(
        &self,
        state: &dyn StateStore,
        approved: bool,
        progress: &dyn Progress,
    ) -> Result<(Option<PlannedSync>, SessionReport), RuntimeError> {
        let started = chrono::Utc::now();
        let run = self.open()?;
        let _lock = match state.lock(self.name()).await {
            Ok(lock) => lock,
            Err(e @ StateError::Locked { .. }) => {
                return Ok((
                    None,
                    self.failed_report(&run, started, &error_report(&e), true),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let ledger = state.ledger(self.name()).await?;
        let opts = PlanOptions {
            approved,
            sync_time: None,
        };
        let planned = pipeline::plan(
            &self.definition,
            run.source.as_ref(),
            run.target.as_ref(),
            &ledger,
            &opts,
            progress,
        )
        .await;
        let (planned, report) = match planned {
            Ok(planned) => {
                let exec = ExecuteOptions {
                    apply: self.apply,
                    dry_run: true,
                };
                let outcome =
                    pipeline::execute(&planned, run.target.as_ref(), &exec, progress).await;
                (Some(planned), outcome.report)
            }
            Err(e) => (
                None,
                self.failed_report(&run, started, &error_report(&e), true),
            ),
        };
        state.save_session(&report).await?;
        Ok((planned, report))
    }

    /// Syncs: plans (or verifies a saved plan), applies, keeps the ledger and stores the
    /// session report. Never fails once the state directory is open: problems end up in the
    /// report (status `failed`), including another run holding the lock (that report is
    /// not stored: the state belongs to the other run) and a state directory that cannot
    /// be written.
    ///
    /// Write-ahead (sync-safety S15): intents left unconfirmed by a killed run are
    /// reconciled against the target's records once they are read, and every batch's
    /// deactivations, reactivations and creates are recorded durably before it is sent. A
    /// stop request (`opts.stop`) ends the run at a batch boundary with status
    /// `interrupted`.
    pub async fn run(
        &self,
        state: &dyn StateStore,
        opts: &RunOptions,
        progress: &dyn Progress,
    ) -> Result<SessionReport, RuntimeError> {
        let started = chrono::Utc::now();
        let run = self.open()?;
        let _lock = match state.lock(self.name()).await {
            Ok(lock) => lock,
            Err(e @ StateError::Locked { .. }) => {
                tracing::error!(integration = %self.name(), error = %error_report(&e), "sync could not start");
                return Ok(self.failed_report(&run, started, &error_report(&e), false));
            }
            Err(e) => return Err(e.into()),
        };
        let mut ledger = state.ledger(self.name()).await?;
        let reconciling = ReconcilingLedger::new(&ledger);
        let planning = async {
            if let Some(saved) = &opts.plan {
                pipeline::verify_plan(
                    saved.clone(),
                    &self.definition,
                    run.source.as_ref(),
                    run.target.as_ref(),
                    &reconciling,
                    progress,
                )
                .await
            } else {
                let plan_opts = PlanOptions {
                    approved: opts.allow_deactivations,
                    sync_time: None,
                };
                pipeline::plan(
                    &self.definition,
                    run.source.as_ref(),
                    run.target.as_ref(),
                    &reconciling,
                    &plan_opts,
                    progress,
                )
                .await
            }
        };
        let planned = tokio::select! {
            planned = planning => Some(planned),
            () = opts.stop.requested() => None,
        };
        let seen = reconciling.into_seen();
        let mut report = match planned {
            None => {
                let mut report = SessionReport::new(self.name().to_owned(), started);
                report.mode.clone_from(&self.definition.mode);
                report.finish(false);
                report.interrupt("stopped by a signal while reading; nothing was written");
                report
            }
            Some(Err(e)) => {
                tracing::error!(integration = %self.name(), error = %error_report(&e), "sync failed before writing");
                self.failed_report(&run, started, &error_report(&e), false)
            }
            Some(Ok(mut planned)) => {
                // Both sides were read completely: settle what a killed run left unconfirmed
                // before anything new is sent.
                let reconciled = ledger.reconcile(&seen);
                let saved = match reconciled {
                    Some(note) => {
                        tracing::warn!(integration = %self.name(), "{note}");
                        planned.warnings.push(note);
                        state.save_ledger(self.name(), &ledger).await
                    }
                    None => Ok(()),
                };
                if let Err(e) = saved {
                    self.failed_report(
                        &run,
                        started,
                        &format!(
                            "the state directory cannot be written, nothing was sent: {}",
                            error_report(&e)
                        ),
                        false,
                    )
                } else {
                    self.apply(&run, state, &planned, ledger, opts, progress)
                        .await
                }
            }
        };
        if let Err(e) = state.save_session(&report).await {
            tracing::error!(integration = %self.name(), error = %error_report(&e), "cannot save the session report");
            if report.fatal.is_none() {
                report.fatal = Some(format!(
                    "the session report could not be saved: {}",
                    error_report(&e)
                ));
                report.status = sync_engine::SessionStatus::Failed;
            }
        }
        Ok(report)
    }

    /// Applies a plan with the write-ahead journal and the stop request; the report says
    /// `failed` (naming the path) when the journal could not be written.
    async fn apply(
        &self,
        run: &Connectors,
        state: &dyn StateStore,
        planned: &PlannedSync,
        ledger: Ledger,
        opts: &RunOptions,
        progress: &dyn Progress,
    ) -> SessionReport {
        let exec = ExecuteOptions {
            apply: ApplyOptions {
                allow_held_deactivations: opts.allow_deactivations,
                ..self.apply
            },
            dry_run: false,
        };
        let journal = Journal::new(state, self.name(), ledger);
        let control = ApplyControl {
            write_ahead: &journal,
            stop: &opts.stop,
            grace: opts.stop_grace,
        };
        let outcome =
            pipeline::execute_with(planned, run.target.as_ref(), &exec, progress, &control).await;
        let mut report = outcome.report;
        if let Err(e) = journal.flush().await {
            tracing::error!(integration = %self.name(), error = %e, "cannot record the run's writes");
            if report.fatal.is_none() {
                report.fatal = Some(e);
            }
            report.finish(planned.degraded());
        }
        if opts.stop.is_requested() {
            report.interrupt(
                "stopped by a signal: no batch was started after it; the next run applies the rest",
            );
        }
        report
    }

    fn failed_report(
        &self,
        run: &Connectors,
        started: chrono::DateTime<chrono::Utc>,
        message: &str,
        dry_run: bool,
    ) -> SessionReport {
        let mut report = SessionReport::failed(self.name().to_owned(), started, message.to_owned());
        report.mode.clone_from(&self.definition.mode);
        report.dry_run = dry_run;
        report.add_api_stats(run.source.system(), &run.source.stats());
        report.add_api_stats(run.target.system(), &run.target.stats());
        report
    }
}

/// Writes a plan file atomically (owner-only permissions: it names people).
pub fn write_plan(path: &Path, plan: &SyncPlan) -> Result<(), RuntimeError> {
    crate::state::write_json_atomic(path, plan).map_err(|e| RuntimeError::PlanFile {
        path: path.to_owned(),
        message: error_report(&e),
    })
}

/// Reads a plan file.
pub fn read_plan(path: &Path) -> Result<SyncPlan, RuntimeError> {
    let text = std::fs::read_to_string(path).map_err(|e| RuntimeError::PlanFile {
        path: path.to_owned(),
        message: format!("cannot read it: {e}"),
    })?;
    SyncPlan::from_json(&text).map_err(|e| RuntimeError::PlanFile {
        path: path.to_owned(),
        message: format!("not a valid plan: {}", error_report(&e)),
    })
}
