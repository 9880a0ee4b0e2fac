//! Command-line arguments (contract: architecture.md §6, docs/cli.md). The derive gives
//! the shape; [`parse`] names the command, its environment variables and the source's
//! credential kind after the binary's pairing.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand, ValueEnum};

use crate::App;

/// The command line of `app`: the derived arguments with the binary's names.
pub fn command(app: &App) -> clap::Command {
    let product = app.pairing.product;
    let source = app.pairing.source.section();
    let with_config = |c: clap::Command| c.mut_arg("config", |a| a.env(product.var("CONFIG")));
    Cli::command()
        .name(product.command)
        .bin_name(product.command)
        .about(app.about)
        .mut_arg("state_dir", |a| a.env(product.var("STATE_DIR")))
        .mut_arg("keyring_timeout", |a| a.env(product.var("KEYRING_TIMEOUT")))
        .mut_subcommand("validate", with_config)
        .mut_subcommand("plan", with_config)
        .mut_subcommand("run", with_config)
        .mut_subcommand("seats", with_config)
        .mut_subcommand("sandbox", |c| {
            let display = app.source_name;
            c.about(format!(
                "Run the {display} and Oomnitza emulators standalone until interrupted"
            ))
            .mut_arg("users", |a| a.help(format!("Number of {display} users")))
            .mut_arg("port_source", |a| {
                a.long(format!("port-{source}"))
                    .value_name(format!("PORT_{}", source.to_uppercase()))
                    .help(format!(
                        "Port of the {display} emulator (0 = any free port)"
                    ))
            })
        })
        .mut_subcommand("demo", |c| {
            c.mut_arg("users", |a| {
                a.help(format!(
                    "Number of {} users in the demo company",
                    app.source_name
                ))
            })
        })
        .mut_subcommand("credentials", |c| {
            c.mut_subcommand("add", |c| {
                c.mut_arg("kind", |a| {
                    a.value_parser(PossibleValuesParser::new([
                        PossibleValue::new(source).help(app.source_credential_help),
                        PossibleValue::new(OOMNITZA_KIND)
                            .help("Oomnitza API token (sent as `Authorization2: ...`)"),
                        PossibleValue::new(API_KEY_KIND)
                            .help("Any API key: give --token-name and optionally --prefix"),
                    ]))
                })
            })
            .mut_subcommand("rotate", |c| {
                c.mut_arg("passphrase", |a| {
                    a.help(format!(
                        "Re-encrypt the credential file under a new passphrase of at least \
                         12 characters (read from {}, or typed twice, not shown, on a terminal)",
                        product.var("NEW_PASSPHRASE")
                    ))
                })
            })
        })
}

/// Parses the process's arguments for `app`.
pub fn parse(app: &App) -> Result<Cli, clap::Error> {
    let matches = command(app).try_get_matches()?;
    Cli::from_arg_matches(&matches)
}

/// `credentials add --kind oomnitza`.
pub const OOMNITZA_KIND: &str = "oomnitza";
/// `credentials add --kind api-key`.
pub const API_KEY_KIND: &str = "api-key";

/// Keeps Oomnitza People and SaaS users in step with a SaaS application.
#[derive(Debug, Parser)]
#[command(name = "sync-cli", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Where sessions, the deactivation ledger, locks and the credential file live
    /// (default: the platform data directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// More log output (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors; no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// How long the OS keyring may take to answer (connecting, and each lookup) before it
    /// is skipped with a warning and the next credential provider is asked.
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        default_value = "3s",
        value_parser = parse_duration
    )]
    pub keyring_timeout: std::time::Duration,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a complete demonstration against the built-in emulators (no tenant needed).
    Demo(DemoArgs),
    /// Run the emulators standalone until interrupted.
    Sandbox(SandboxArgs),
    /// Check the configuration, the credentials and the Oomnitza fields the mapping needs.
    Validate(ConfigArg),
    /// Dry run: read both sides and show what a sync would change. Changes nothing.
    Plan(PlanArgs),
    /// Sync: apply the changes (held deactivations need --allow-deactivations).
    Run(RunArgs),
    /// Seat usage of the SaaS application in Oomnitza: active, idle and never-used seats
    /// and what the idle ones cost. Reads Oomnitza only; changes nothing.
    Seats(SeatsArgs),
    /// Manage the local credential store.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Past sync sessions kept in the state directory.
    #[command(subcommand)]
    Sessions(SessionsCommand),
}

/// `--config FILE`
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The configuration file (TOML; see docs/configuration.md).
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
}

/// `demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of users in the demo company.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(20..=100_000))]
    pub users: u32,
    /// Random seed for the generated people.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// `sandbox`
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Number of users.
    #[arg(long, default_value_t = 500)]
    pub users: usize,
    /// Random seed for the generated people.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Port of the source's emulator (0 = any free port); `--port-<source section>`.
    #[arg(long, default_value_t = 0)]
    pub port_source: u16,
    /// Port of the Oomnitza emulator (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub port_oomnitza: u16,
}

/// `plan`
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Print the session report as JSON on stdout (nothing else).
    #[arg(long)]
    pub json: bool,
    /// Also write the plan to FILE, for `run --plan FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `seats`
#[derive(Debug, Args)]
pub struct SeatsArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// A seat is idle when its last activity is older than this (e.g. 90d, 6w).
    #[arg(long, value_name = "DURATION", default_value = "90d", value_parser = parse_days)]
    pub idle_for: std::time::Duration,
    /// Print the seat usage as JSON on stdout (nothing else).
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print the seats as CSV with a header row on stdout (nothing else).
    #[arg(long)]
    pub csv: bool,
    /// Show at most N idle seats in the terminal table.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// `run`
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Print the session report as JSON on stdout (nothing else).
    #[arg(long)]
    pub json: bool,
    /// Apply exactly this saved plan (refused if either side changed since).
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Apply deactivations even above the configured thresholds.
    #[arg(long)]
    pub allow_deactivations: bool,
    /// Keep running on the configuration's [schedule] until SIGINT/SIGTERM.
    #[arg(long, conflicts_with_all = ["plan", "every"])]
    pub schedule: bool,
    /// Keep running every DURATION (e.g. 1d, 6h) until SIGINT/SIGTERM.
    #[arg(long, value_name = "DURATION", conflicts_with = "plan")]
    pub every: Option<String>,
    /// With --every: align runs to this time of day (HH:MM, in the schedule's time zone).
    #[arg(long, value_name = "HH:MM", requires = "every")]
    pub at: Option<String>,
}

/// `credentials ...`
#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Store a credential (the secret is read from stdin or an environment variable,
    /// never from the command line).
    Add(CredentialAddArgs),
    /// List stored credentials (never shows secrets).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a stored credential.
    Remove {
        /// Its name.
        name: String,
    },
    /// Replace a credential's secret (keeps its name, so configurations stay valid), or
    /// re-encrypt the whole file under a new passphrase with --passphrase.
    Rotate(CredentialRotateArgs),
}

/// `credentials add`
#[derive(Debug, Args)]
pub struct CredentialAddArgs {
    /// Name used in the configuration (`credential = "NAME"`).
    pub name: String,
    /// What kind of credential: the source's token, `oomnitza` or `api-key`.
    #[arg(long, default_value = API_KEY_KIND)]
    pub kind: String,
    /// Header name for --kind api-key.
    #[arg(long, default_value = "Authorization")]
    pub token_name: String,
    /// Text before the secret for --kind api-key, e.g. "Bearer ".
    #[arg(long)]
    pub prefix: Option<String>,
    /// Read the secret from this environment variable instead of stdin.
    #[arg(long, value_name = "VAR")]
    pub from_env: Option<String>,
    /// Owner recorded with the credential.
    #[arg(long, default_value = "local")]
    pub owner: String,
}

/// `credentials rotate`
#[derive(Debug, Args)]
pub struct CredentialRotateArgs {
    /// The credential whose secret is replaced.
    #[arg(required_unless_present = "passphrase")]
    pub name: Option<String>,
    /// Read the new secret from this environment variable instead of stdin.
    #[arg(long, value_name = "VAR")]
    pub from_env: Option<String>,
    /// Re-encrypt the credential file under a new passphrase of at least 12 characters
    /// (read from <PREFIX>_NEW_PASSPHRASE, or typed twice, not shown, on a terminal).
    #[arg(long, conflicts_with = "name")]
    pub passphrase: bool,
}

/// `sessions ...`
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List past sessions, newest first.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Show one session with its per-record errors.
    Show {
        /// Session id (a unique prefix is enough).
        id: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `--keyring-timeout`: a duration such as `3s`, with the configuration file's words for a
/// bad one.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    sync_runtime::config::HumanDuration::parse(text).map(Into::into)
}

/// `--idle-for`: a duration of at least one day.
fn parse_days(text: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(text)?;
    if d < std::time::Duration::from_secs(86_400) {
        return Err(format!("must be at least 1d, got {text}"));
    }
    Ok(d)
}
