//! The subcommands: thin wrappers over `sync-runtime`.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use credential_store::{ErrorKind, KeyringProvider};
use secrecy::{ExposeSecret as _, SecretString};
use sync_engine::{SessionReport, SessionStatus, Stop};
use sync_runtime::config::{HumanDuration, TimeOfDay};
use sync_runtime::credentials::{self, LocalStore};
use sync_runtime::{Config, Integration, RunOptions, RuntimeError, Schedule, StateDir};

use crate::cli::{
    API_KEY_KIND, Cli, CredentialAddArgs, CredentialRotateArgs, CredentialsCommand, OOMNITZA_KIND,
    PlanArgs, RunArgs, SandboxArgs, SessionsCommand,
};
use crate::progress::Bars;
use crate::{App, exit, prompt};

/// What every command may need.
pub struct Context {
    /// The binary.
    pub app: &'static App,
    state_dir: Option<PathBuf>,
    quiet: bool,
    keyring_timeout: Duration,
}

impl Context {
    /// From the global options.
    pub fn new(app: &'static App, cli: &Cli) -> Self {
        Context {
            app,
            state_dir: cli.state_dir.clone(),
            quiet: cli.quiet,
            keyring_timeout: cli.keyring_timeout,
        }
    }

    /// The state directory (created when needed).
    pub fn state(&self) -> anyhow::Result<StateDir> {
        let dir =
            match &self.state_dir {
                Some(d) => d.clone(),
                None => StateDir::default_location(self.app.pairing.product.command).ok_or_else(
                    || RuntimeError::Usage("no home directory: pass --state-dir DIR".to_owned()),
                )?,
            };
        Ok(StateDir::open(&dir).map_err(RuntimeError::from)?)
    }

    /// Progress bars (hidden with --quiet or when stderr is not a terminal).
    pub fn bars(&self) -> Bars {
        Bars::new(self.quiet || !std::io::stderr().is_terminal())
    }

    /// The local credential store for this state directory.
    pub fn store(&self) -> anyhow::Result<LocalStore> {
        Ok(self.store_in(&self.state()?))
    }

    /// The local credential store of `state`, its keyring calls limited to
    /// `--keyring-timeout`.
    fn store_in(&self, state: &StateDir) -> LocalStore {
        let keyring = KeyringProvider::from_default_store().with_timeout(self.keyring_timeout);
        LocalStore::open_with_keyring(state.path(), self.app.pairing.product, keyring)
    }
}

/// Exit code for an error that ended a command: the runtime error's own (usage and
/// configuration problems 2), else 1.
pub fn exit_code_for(e: &anyhow::Error) -> u8 {
    e.chain()
        .find_map(|cause| cause.downcast_ref::<RuntimeError>())
        .map_or(exit::FAILURE, RuntimeError::exit_code)
}

/// Prints to stdout (the command's output).
#[allow(clippy::print_stdout)]
fn out(text: &str) {
    println!("{text}");
}

/// Loads the configuration (first, so its errors come before anything else), opens the
/// state directory once, and builds the integration with that directory's credentials.
async fn load(
    ctx: &Context,
    path: &std::path::Path,
) -> anyhow::Result<(Config, StateDir, Integration)> {
    let config = Config::load(path, ctx.app.pairing).map_err(RuntimeError::from)?;
    let state = ctx.state()?;
    let store = ctx.store_in(&state);
    let integration = sync_runtime::build(&config, &store).await?;
    Ok((config, state, integration))
}

fn exit_for(report: &SessionReport) -> u8 {
    u8::try_from(report.exit_code()).unwrap_or(exit::FAILURE)
}

fn print_report(report: &SessionReport, json: bool) -> anyhow::Result<()> {
    if json {
        out(&serde_json::to_string_pretty(report)?);
    } else {
        out(report.render_human().trim_end());
    }
    Ok(())
}

/// `validate`
pub async fn validate(ctx: &Context, args: &crate::cli::ConfigArg) -> anyhow::Result<u8> {
    let config = Config::load(&args.config, ctx.app.pairing).map_err(RuntimeError::from)?;
    let store = ctx.store()?;
    let integration = sync_runtime::build(&config, &store).await?;
    out(&format!(
        "✓ configuration {} is valid",
        args.config.display()
    ));
    out("✓ credentials resolved; mappings and filters compiled");
    let checks = integration.validate().await?;
    for line in checks {
        out(&format!("✓ {line}"));
    }
    out("configuration, credentials and Oomnitza fields are ready");
    Ok(exit::OK)
}

/// `plan`
pub async fn plan(ctx: &Context, args: &PlanArgs) -> anyhow::Result<u8> {
    let (_, state, integration) = load(ctx, &args.config.config).await?;
    let bars = ctx.bars();
    let (planned, report) = integration.plan(&state, false, &bars).await?;
    if let (Some(planned), Some(path)) = (&planned, &args.out) {
        sync_runtime::write_plan(path, &planned.plan)?;
        if !args.json {
            bars.println(&format!(
                "plan written to {} (apply it with: run --plan {})",
                path.display(),
                path.display()
            ));
        }
    }
    print_report(&report, args.json)?;
    Ok(exit_for(&report))
}

/// `seats`
pub async fn seats(ctx: &Context, args: &crate::cli::SeatsArgs) -> anyhow::Result<u8> {
    let (config, _, integration) = load(ctx, &args.config.config).await?;
    let bars = ctx.bars();
    let report = integration
        .seats(args.idle_for, config.file.insights.price_per_seat, &bars)
        .await?;
    if args.json {
        out(&serde_json::to_string_pretty(&report.usage)?);
    } else if args.csv {
        out(report.render_csv()?.trim_end());
    } else {
        out(report
            .render_terminal(args.limit, ctx.app.pairing.no_activity_hint)
            .trim_end());
    }
    Ok(exit::OK)
}

/// Watches for SIGINT and SIGTERM while `run` works: the first requests `stop` (no new
/// batch; those in flight get their grace period) and stores the exit code the signal
/// calls for (130 or 143) in `code`; a second one exits at once with that code.
fn watch_signals(stop: Stop, code: Arc<AtomicU8>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            tracing::warn!("cannot listen for SIGINT/SIGTERM; a signal ends the run at once");
            return;
        };
        tokio::spawn(async move {
            let first = tokio::select! {
                _ = int.recv() => ("SIGINT", exit::SIGINT),
                _ = term.recv() => ("SIGTERM", exit::SIGTERM),
            };
            code.store(first.1, Ordering::SeqCst);
            stop.request();
            tracing::warn!(
                signal = first.0,
                "stopping: no new batches are sent, those in flight may finish; send the signal again to exit at once"
            );
            let second = tokio::select! {
                _ = int.recv() => ("SIGINT", exit::SIGINT),
                _ = term.recv() => ("SIGTERM", exit::SIGTERM),
            };
            tracing::error!(signal = second.0, "second signal: exiting at once");
            std::process::exit(i32::from(second.1));
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            code.store(exit::SIGINT, Ordering::SeqCst);
            stop.request();
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(i32::from(exit::SIGINT));
        }
    });
}

/// The exit code of a run's report: an interrupted run answers with its signal's code.
fn run_exit(report: &SessionReport, signal: &AtomicU8) -> u8 {
    match (report.status, signal.load(Ordering::SeqCst)) {
        (SessionStatus::Interrupted, 0) => exit::SIGINT,
        (SessionStatus::Interrupted, code) => code,
        _ => exit_for(report),
    }
}

/// `run`
pub async fn run(ctx: &Context, args: &RunArgs) -> anyhow::Result<u8> {
    // Before anything is read: a signal from here on stops the run cleanly.
    let stop = Stop::new();
    let signal = Arc::new(AtomicU8::new(0));
    watch_signals(stop.clone(), signal.clone());
    let (config, state, integration) = load(ctx, &args.config.config).await?;
    let plan = match &args.plan {
        Some(path) => Some(sync_runtime::read_plan(path)?),
        None => None,
    };
    let opts = RunOptions {
        plan,
        allow_deactivations: args.allow_deactivations,
        stop: stop.clone(),
        ..RunOptions::default()
    };
    let schedule = if args.schedule {
        Some(Schedule::from_section(&config.file.schedule))
    } else if let Some(every) = &args.every {
        let usage = |m: String| RuntimeError::Usage(format!("--every/--at: {m}"));
        let mut section = config.file.schedule.clone();
        section.every = HumanDuration::parse(every).map_err(usage)?;
        section.at = args
            .at
            .as_deref()
            .map(TimeOfDay::parse)
            .transpose()
            .map_err(usage)?;
        Some(Schedule::from_section(&section))
    } else {
        None
    };
    let Some(schedule) = schedule else {
        let bars = ctx.bars();
        let report = integration.run(&state, &opts, &bars).await?;
        print_report(&report, args.json)?;
        return Ok(run_exit(&report, &signal));
    };
    tracing::info!(integration = %integration.name(), ?schedule, "running on a schedule");
    let job = || async {
        let bars = ctx.bars();
        match integration.run(&state, &opts, &bars).await {
            Ok(report) => {
                tracing::info!(session = %report.id, status = report.status.as_str(), "scheduled run finished");
                if let Err(e) = print_report(&report, args.json) {
                    tracing::error!(error = %e, "cannot print the report");
                }
            }
            Err(e) => {
                tracing::error!(error = %sync_engine::error::report(&e), "scheduled run could not start");
            }
        }
    };
    // The signal stops the run in progress at a batch boundary and then the loop.
    sync_runtime::schedule::run_loop(schedule, job, stop.requested()).await;
    Ok(match signal.load(Ordering::SeqCst) {
        0 => exit::OK,
        code => code,
    })
}

/// `sandbox`
pub async fn sandbox(ctx: &Context, args: &SandboxArgs) -> anyhow::Result<u8> {
    let demo = ctx.app.demo;
    let spec = api_sandbox::DataSpec {
        users: args.users,
        seed: args.seed,
        ..api_sandbox::DataSpec::default()
    };
    let people = api_sandbox::datagen::generate(&spec);
    let source = demo.start(&people, args.seed, args.port_source).await?;
    let mut oomnitza_config = api_sandbox::OomnitzaConfig {
        port: args.port_oomnitza,
        ..api_sandbox::OomnitzaConfig::default()
    };
    crate::demo::prepare_oomnitza(ctx.app, &mut oomnitza_config);
    let oomnitza = api_sandbox::OomnitzaEmulator::start(oomnitza_config).await?;
    let name = ctx.app.source_name;
    let var = format!("{}_TOKEN", ctx.app.pairing.source.section().to_uppercase());
    out(&format!(
        "{name} emulator: {}  (token: {})\nOomnitza emulator: {}  (token: {})\n\n\
         Try it with a configuration like:\n\n\
         {}\n[oomnitza]\nbase_url = \"{}\"\ncredential = {{ env = \"OOMNITZA_TOKEN\" }}\n\
         saas_name = \"{}\"\n\n\
         and {var}={} OOMNITZA_TOKEN={} in the environment.\nPress Ctrl-C to stop.",
        source.base_url,
        source.token,
        oomnitza.base_url(),
        oomnitza.token(),
        source
            .section(ctx.app.pairing.source.section(), &var)
            .trim_end(),
        oomnitza.base_url(),
        ctx.app.demo_app,
        source.token,
        oomnitza.token(),
    ));
    sync_runtime::schedule::shutdown_signal().await;
    source.shutdown.await;
    oomnitza.shutdown().await;
    Ok(exit::OK)
}

fn read_secret(from_env: Option<&str>) -> anyhow::Result<SecretString> {
    let text =
        if let Some(var) = from_env {
            SecretString::from(std::env::var(var).map_err(|_| {
                RuntimeError::Usage(format!("environment variable {var} is not set"))
            })?)
        } else if std::io::stdin().is_terminal() {
            // Typed or pasted at a terminal: one line, not echoed.
            prompt::read_hidden_line("paste the secret (it is not shown), then press Enter: ")
                .context("cannot read the secret from the terminal")?
        } else {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the secret from stdin")?;
            SecretString::from(s)
        };
    let trimmed = text.expose_secret().trim();
    if trimmed.is_empty() {
        bail!(RuntimeError::Usage("the secret is empty".to_owned()));
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

/// The new passphrase for `credentials rotate --passphrase`: from
/// `<PREFIX>_NEW_PASSPHRASE`, or typed twice (not shown) when that is unset and stdin
/// is a terminal. A blank or short one is a usage error, before the file is touched.
fn read_new_passphrase(ctx: &Context) -> anyhow::Result<SecretString> {
    let var = ctx.app.pairing.product.var("NEW_PASSPHRASE");
    let new = match std::env::var(&var) {
        Ok(value) => SecretString::from(value),
        Err(std::env::VarError::NotUnicode(_)) => {
            bail!(RuntimeError::Usage(format!("{var} is not valid UTF-8")))
        }
        Err(std::env::VarError::NotPresent) if std::io::stdin().is_terminal() => {
            let first = prompt::read_hidden_line(&format!(
                "new passphrase (at least {} characters, not shown): ",
                credential_store::file::MIN_PASSPHRASE_CHARS
            ))
            .context("cannot read the new passphrase from the terminal")?;
            credential_store::file::check_new_passphrase(&first).map_err(|reason| {
                RuntimeError::Usage(format!("new passphrase refused: {reason}"))
            })?;
            let again = prompt::read_hidden_line("the new passphrase again: ")
                .context("cannot read the new passphrase from the terminal")?;
            if first.expose_secret() != again.expose_secret() {
                bail!(RuntimeError::Usage(
                    "the two passphrases differ; the credential file is unchanged".to_owned()
                ));
            }
            first
        }
        Err(std::env::VarError::NotPresent) => bail!(RuntimeError::Usage(format!(
            "set {var} to the new passphrase (at least {} characters)",
            credential_store::file::MIN_PASSPHRASE_CHARS
        ))),
    };
    credential_store::file::check_new_passphrase(&new).map_err(|reason| {
        RuntimeError::Usage(format!(
            "{var} refused: {reason}; the credential file is unchanged"
        ))
    })?;
    Ok(new)
}

/// `credentials ...`
pub async fn credentials(ctx: &Context, cmd: CredentialsCommand) -> anyhow::Result<u8> {
    let store = ctx.store()?;
    match cmd {
        CredentialsCommand::Add(args) => add_credential(ctx, &store, &args).await,
        CredentialsCommand::List { json } => {
            let list = store.list().await.map_err(RuntimeError::from)?;
            if json {
                out(&serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                out("no stored credentials");
            } else {
                for m in &list {
                    out(&credentials::describe(m));
                }
            }
            Ok(exit::OK)
        }
        CredentialsCommand::Remove { name } => {
            store.remove(&name).await.map_err(RuntimeError::from)?;
            out(&format!("removed credential \"{name}\""));
            Ok(exit::OK)
        }
        CredentialsCommand::Rotate(args) => rotate_credential(ctx, &store, &args).await,
    }
}

async fn add_credential(
    ctx: &Context,
    store: &LocalStore,
    args: &CredentialAddArgs,
) -> anyhow::Result<u8> {
    let secret = read_secret(args.from_env.as_deref())?;
    // The parser accepts these two and the source's section name (a bearer token).
    let (token_name, prefix) = match args.kind.as_str() {
        OOMNITZA_KIND => ("Authorization2".to_owned(), None),
        API_KEY_KIND => (args.token_name.clone(), args.prefix.clone()),
        _ => ("Authorization".to_owned(), Some("Bearer ".to_owned())),
    };
    let meta = store
        .add_api_key(&args.name, &args.owner, &token_name, prefix, secret)
        .await
        .map_err(|e| {
            let weak = matches!(
                &e,
                sync_runtime::credentials::StoreError::Credential(c)
                    if matches!(c.kind(), ErrorKind::WeakPassphrase { .. })
            );
            let e = anyhow::Error::new(RuntimeError::from(e));
            if weak {
                e.context(format!(
                    "{} cannot protect a new credential file",
                    ctx.app.pairing.product.passphrase_var()
                ))
            } else {
                e
            }
        })?;
    out(&format!("stored {}", credentials::describe(&meta)));
    Ok(exit::OK)
}

async fn rotate_credential(
    ctx: &Context,
    store: &LocalStore,
    args: &CredentialRotateArgs,
) -> anyhow::Result<u8> {
    if args.passphrase {
        let new = read_new_passphrase(ctx)?;
        store
            .rotate_passphrase(new)
            .await
            .map_err(RuntimeError::from)?;
        out(&format!(
            "credential file re-encrypted under the new passphrase; set {} to it from now on",
            ctx.app.pairing.product.passphrase_var()
        ));
        return Ok(exit::OK);
    }
    let name = args
        .name
        .as_deref()
        .ok_or_else(|| RuntimeError::Usage("name the credential to rotate".to_owned()))?;
    let secret = read_secret(args.from_env.as_deref())?;
    let meta = store
        .rotate_secret(name, secret)
        .await
        .map_err(RuntimeError::from)?;
    out(&format!("rotated {}", credentials::describe(&meta)));
    Ok(exit::OK)
}

/// `sessions ...`
pub fn sessions(ctx: &Context, cmd: SessionsCommand) -> anyhow::Result<u8> {
    let state = ctx.state()?;
    match cmd {
        SessionsCommand::List { json, limit } => {
            let sessions: Vec<SessionReport> = state
                .sessions()
                .map_err(RuntimeError::from)?
                .into_iter()
                .take(limit)
                .collect();
            if json {
                out(&serde_json::to_string_pretty(&sessions)?);
                return Ok(exit::OK);
            }
            if sessions.is_empty() {
                out(&format!("no sessions in {}", state.path().display()));
                return Ok(exit::OK);
            }
            out(&format!(
                "{:<36}  {:<20}  {:<21}  {:>7} {:>7} {:>7} {:>7} {:>6}  {}",
                "ID",
                "STARTED (UTC)",
                "STATUS",
                "CREATED",
                "UPDATED",
                "DEACT",
                "REACT",
                "FAILED",
                "INTEGRATION"
            ));
            for r in &sessions {
                let status = if r.dry_run {
                    format!("{} (dry run)", r.status.as_str())
                } else {
                    r.status.as_str().to_owned()
                };
                out(&format!(
                    "{:<36}  {:<20}  {:<21}  {:>7} {:>7} {:>7} {:>7} {:>6}  {}",
                    r.id,
                    r.started_at.format("%Y-%m-%d %H:%M:%S"),
                    status,
                    r.counts.created,
                    r.counts.updated,
                    r.counts.deactivated,
                    r.counts.reactivated,
                    r.counts.failed,
                    r.integration
                ));
            }
            Ok(exit::OK)
        }
        SessionsCommand::Show { id, json } => {
            let report = state.session(&id).map_err(RuntimeError::from)?;
            if json {
                out(&serde_json::to_string_pretty(&report)?);
            } else {
                out(report.render_human().trim_end());
                if !report.errors.is_empty() {
                    out("\nper-record errors:");
                    for e in &report.errors {
                        out(&format!("  {} {}: {}", e.collection, e.key, e.message));
                    }
                }
            }
            Ok(exit::OK)
        }
    }
}
