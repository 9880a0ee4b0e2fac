//! The local command-line tool of a pairing into Oomnitza, shared by every binary.
//!
//! A binary (`quip-oomnitza`, `scim-oomnitza`) is a few lines: an [`App`] naming its
//! [`sync_runtime::Pairing`], its one-line description and its [`Demo`] hook, and a `main`
//! that calls [`main`]. Everything else lives here: the commands of the local CLI contract
//! (`validate`, `plan`, `run`, `seats`, `credentials`, `sessions`, `sandbox`, `demo`), their
//! exit codes, the session report output, progress bars, hidden prompts, signal handling,
//! the OS keyring, logging, and the demo story, told with the pairing's emulated source.
//!
//! ```no_run
//! # fn pairing() -> &'static sync_runtime::Pairing { unimplemented!() }
//! # fn demo() -> &'static dyn sync_cli::Demo { unimplemented!() }
//! use std::sync::LazyLock;
//! static APP: LazyLock<sync_cli::App> = LazyLock::new(|| sync_cli::App {
//!     pairing: pairing(),
//!     about: "Keeps Oomnitza People and SaaS users in step with Acme.",
//!     source_credential_help: "Acme API token (sent as `Authorization: Bearer ...`)",
//!     source_name: "Acme",
//!     demo_app: "Acme",
//!     demo: demo(),
//! });
//! fn main() -> std::process::ExitCode {
//!     sync_cli::main(&APP)
//! }
//! ```
//!
//! Names that depend on the binary come from the pairing's
//! [`Product`](sync_runtime::credentials::Product): the command (`--help`, `--version`,
//! messages, the default state directory) and the prefix of its environment variables
//! (`<PREFIX>_STATE_DIR`, `<PREFIX>_CONFIG`, `<PREFIX>_KEYRING_TIMEOUT`,
//! `<PREFIX>_PASSPHRASE`, `<PREFIX>_NEW_PASSPHRASE`).

mod cli;
mod commands;
mod demo;
mod progress;
mod prompt;

use std::io::IsTerminal;
use std::process::ExitCode;

use sync_runtime::Pairing;
use tracing_subscriber::EnvFilter;

pub use demo::{Demo, DemoSource, PersonChange};
pub use progress::Bars;

use crate::cli::{Cli, Command, LogFormat};

/// Exit codes (contract: architecture.md §6): the runtime's, and the two signal codes of
/// `run`.
pub mod exit {
    pub use sync_runtime::exit::{FAILURE, OK, PARTIAL, USAGE};
    /// `run` stopped by SIGINT (128 + 2): the session is saved as `interrupted`.
    pub const SIGINT: u8 = 130;
    /// `run` stopped by SIGTERM (128 + 15): the session is saved as `interrupted`.
    pub const SIGTERM: u8 = 143;
}

/// What a binary tells the CLI about itself.
pub struct App {
    /// The source and target factories and the pair's defaults; its `product` names the
    /// command and its environment variables.
    pub pairing: &'static Pairing,
    /// The first line of `--help`, e.g. "Keeps Oomnitza People and SaaS users in step with
    /// Quip."
    pub about: &'static str,
    /// What `credentials add --kind <source section>` stores, for `--help`.
    pub source_credential_help: &'static str,
    /// How the demo story and `--help` name the source, e.g. `Quip`.
    pub source_name: &'static str,
    /// The SaaS application in Oomnitza whose seats the demo syncs, e.g. `Quip`.
    pub demo_app: &'static str,
    /// The emulated source of `demo` and `sandbox`.
    pub demo: &'static dyn Demo,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("pairing", self.pairing)
            .field("about", &self.about)
            .finish_non_exhaustive()
    }
}

/// Parses the arguments, runs the command and returns its exit code.
pub fn main(app: &'static App) -> ExitCode {
    let cli = match cli::parse(app) {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout with exit 0, usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report_error(&anyhow::anyhow!(e).context("cannot start the async runtime"));
            return ExitCode::from(exit::FAILURE);
        }
    };
    let code = runtime.block_on(run(app, cli));
    ExitCode::from(code)
}

async fn run(app: &'static App, cli: Cli) -> u8 {
    if matches!(
        cli.command,
        Command::Validate(_)
            | Command::Plan(_)
            | Command::Run(_)
            | Command::Seats(_)
            | Command::Credentials(_)
    ) {
        install_keyring(cli.keyring_timeout).await;
    }
    let ctx = commands::Context::new(app, &cli);
    let result = match cli.command {
        Command::Demo(args) => demo::run(&ctx, &args).await,
        Command::Sandbox(args) => commands::sandbox(&ctx, &args).await,
        Command::Validate(args) => commands::validate(&ctx, &args).await,
        Command::Plan(args) => commands::plan(&ctx, &args).await,
        Command::Run(args) => commands::run(&ctx, &args).await,
        Command::Seats(args) => commands::seats(&ctx, &args).await,
        Command::Credentials(cmd) => commands::credentials(&ctx, cmd).await,
        Command::Sessions(cmd) => commands::sessions(&ctx, cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            report_error(&e);
            commands::exit_code_for(&e)
        }
    }
}
/// Makes the OS keyring the credential chain's keyring store, when this machine has one
/// that answers within `timeout`. (A session bus that accepts and never answers would
/// otherwise hang every command; the connection attempt is then left behind on its own
/// thread, never waited for, and the chain goes on without the keyring, with a warning.)
#[cfg(target_os = "linux")]
async fn install_keyring(timeout: std::time::Duration) {
    // Without a session bus (servers, containers, CI) there is no Secret Service to ask.
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        tracing::debug!("no D-Bus session: the OS keyring is unavailable");
        return;
    }
    let connected = credential_store::keyring::connect_store(
        timeout,
        zbus_secret_service_keyring_store::Store::new,
    )
    .await;
    match connected {
        Ok(store) => keyring_core::set_default_store(store),
        // Already logged (a timeout as a warning).
        Err(e) => tracing::debug!(error = %e, "going on without the OS keyring"),
    }
}

/// No OS keyring store is wired in on this platform yet.
#[cfg(not(target_os = "linux"))]
async fn install_keyring(_timeout: std::time::Duration) {}

fn report_error(e: &anyhow::Error) {
    use std::fmt::Write as _;
    // A configuration file with several problems: one `error:` line each.
    let config_errors = e.chain().find_map(|cause| {
        cause.downcast_ref::<sync_runtime::ConfigErrors>().or(
            match cause.downcast_ref::<sync_runtime::RuntimeError>() {
                Some(sync_runtime::RuntimeError::Config(errors)) => Some(errors),
                _ => None,
            },
        )
    });
    if let Some(errors) = config_errors {
        for error in errors.errors() {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {error}");
            }
        }
        return;
    }
    // Every message says its own part only; its causes follow, one line each.
    let mut message = format!("error: {e}");
    for cause in e.chain().skip(1) {
        let _ = write!(message, "\n  caused by: {cause}");
    }
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{message}");
    }
}

fn init_logging(cli: &Cli) {
    let quiet = format!("error,{}=warn", credential_store::SECURITY_LOG_TARGET);
    let default = match (cli.quiet, cli.verbose) {
        // --quiet keeps warnings about exposed secrets (docs/credentials.md).
        (true, _) => quiet.as_str(),
        (false, 0) => "warn",
        (false, 1) => {
            "info,connector_http=debug,quip_client=debug,scim_client=debug,oomnitza_client=debug,\
             sync_engine=debug,sync_runtime=debug"
        }
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(cli.verbose > 0);
    match cli.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .compact()
            .init(),
    }
}
