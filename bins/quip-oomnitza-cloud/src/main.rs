//! `quip-oomnitza-cloud`: the cloud service (thin: configuration, wiring, serve). The API,
//! the worker and the metrics live in `sync-service`; the database in `sync-store`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use credential_store::MasterKey;
use secrecy::{ExposeSecret as _, SecretString};
use sync_service::{App, ServiceConfig, WorkerConfig};
use sync_store::{SmtpConfig, SmtpMailer, SmtpSecurity, Store, StoreOptions, SystemClock};

/// The prefix of the service's environment variables.
const ENV_PREFIX: &str = "QUIP_OOMNITZA_";

#[derive(Parser, Debug)]
#[command(
    name = "quip-oomnitza-cloud",
    version,
    about = "The Quip to Oomnitza cloud service: HTTP API, scheduler and workers"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, env = "QUIP_OOMNITZA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serves the HTTP API and runs queued runs (worker loop) in this process.
    Serve(Box<ServeArgs>),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The master key that seals credentials at rest.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Args, Debug)]
struct DatabaseArg {
    /// The database: a SQLite file path or sqlite://PATH (default: cloud.db in the data
    /// directory), or postgres://... to share the work between processes.
    #[arg(long, env = "QUIP_OOMNITZA_DATABASE")]
    database: Option<String>,
}

#[derive(Args, Debug)]
struct ServeArgs {
    #[command(flatten)]
    database: DatabaseArg,
    /// Address the API listens on.
    #[arg(long, env = "QUIP_OOMNITZA_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Runs this process executes at once (0: API only, no worker).
    #[arg(long, env = "QUIP_OOMNITZA_WORKERS", default_value_t = 2)]
    workers: usize,
    /// Name of this worker in leases and logs (default: host:pid).
    #[arg(long, env = "QUIP_OOMNITZA_WORKER_ID")]
    worker_id: Option<String>,
    /// How often the queue is polled.
    #[arg(long, env = "QUIP_OOMNITZA_POLL", default_value = "2s", value_parser = humantime::parse_duration)]
    poll: Duration,
    /// How often this process sweeps (reclaims expired leases, fires schedules, checks
    /// deadlines, sends email).
    #[arg(long, env = "QUIP_OOMNITZA_SWEEP_EVERY", default_value = "10s", value_parser = humantime::parse_duration)]
    sweep_every: Duration,
    /// Lease of a claimed run without a heartbeat (renewed every third of it).
    #[arg(long, env = "QUIP_OOMNITZA_LEASE", default_value = "60s", value_parser = humantime::parse_duration)]
    lease: Duration,
    /// On SIGTERM/SIGINT, how long runs in flight may take to finish on their own.
    #[arg(long, env = "QUIP_OOMNITZA_DRAIN", default_value = "20s", value_parser = humantime::parse_duration)]
    drain: Duration,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "QUIP_OOMNITZA_BODY_LIMIT", default_value_t = 1024 * 1024)]
    body_limit: usize,
    /// Longest a request may take.
    #[arg(long, env = "QUIP_OOMNITZA_REQUEST_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    request_timeout: Duration,
    /// SMTP server for notification email (none: in-app notifications only).
    #[arg(long, env = "QUIP_OOMNITZA_SMTP_HOST")]
    smtp_host: Option<String>,
    /// SMTP port (default: 25, 587 with starttls, 465 with tls).
    #[arg(long, env = "QUIP_OOMNITZA_SMTP_PORT")]
    smtp_port: Option<u16>,
    /// SMTP connection security.
    #[arg(long, env = "QUIP_OOMNITZA_SMTP_SECURITY", value_enum, default_value_t = Security::Starttls)]
    smtp_security: Security,
    /// SMTP user (the password is read from QUIP_OOMNITZA_SMTP_PASSWORD only).
    #[arg(long, env = "QUIP_OOMNITZA_SMTP_USER")]
    smtp_user: Option<String>,
    /// The From address of notification email.
    #[arg(
        long,
        env = "QUIP_OOMNITZA_SMTP_FROM",
        default_value = "quip-oomnitza@localhost"
    )]
    smtp_from: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Security {
    /// Plain text (a relay on loopback only).
    None,
    /// STARTTLS required.
    Starttls,
    /// TLS from the first byte.
    Tls,
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Creates an API token for a user (created if new); prints it alone on the last line.
    Create {
        /// The user (owner) the token acts for.
        #[arg(long)]
        user: String,
        /// An admin token (may create tokens through the API).
        #[arg(long)]
        admin: bool,
        /// A label to recognise the token by.
        #[arg(long)]
        label: Option<String>,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// Prints a new random master key (base64) for QUIP_OOMNITZA_MASTER_KEY.
    Generate,
}

/// A failure with its exit code.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

fn usage(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: sync_runtime::exit::USAGE,
        error: error.into(),
    }
}

fn failure(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: sync_runtime::exit::FAILURE,
        error: error.into(),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report(&failure(e));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            report(&f);
            ExitCode::from(f.code)
        }
    }
}

#[allow(clippy::print_stderr)]
fn report(f: &Failure) {
    eprintln!("error: {:#}", f.error);
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

async fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Key(KeyCommand::Generate) => {
            let key = MasterKey::generate("default").map_err(failure)?;
            print_last_line(key.to_base64().expose_secret());
            Ok(0)
        }
        Command::Token(TokenCommand::Create {
            user,
            admin,
            label,
            database,
        }) => {
            let store = open_store(&database, StoreOptions::default()).await?;
            let owner = store.ensure_owner(&user).await.map_err(failure)?;
            let (id, token) = store
                .create_token(&owner, admin, label.as_deref())
                .await
                .map_err(failure)?;
            store.close().await;
            tracing::info!(token_id = %id, user = %owner.name, admin, "token created; it is shown once");
            print_last_line(token.expose_secret());
            Ok(0)
        }
        Command::Serve(args) => serve(*args).await,
    }
}

#[allow(clippy::print_stdout)]
fn print_last_line(text: &str) {
    println!("{text}");
}

fn database_location(arg: &DatabaseArg) -> Result<String, Failure> {
    if let Some(url) = &arg.database {
        return Ok(url.clone());
    }
    let dir: PathBuf = sync_runtime::StateDir::default_location("quip-oomnitza").ok_or_else(|| {
        usage(anyhow::anyhow!(
            "no data directory on this system: pass --database PATH or set QUIP_OOMNITZA_DATABASE"
        ))
    })?;
    Ok(dir.join("cloud.db").to_string_lossy().into_owned())
}

async fn open_store(arg: &DatabaseArg, options: StoreOptions) -> Result<Store, Failure> {
    let location = database_location(arg)?;
    Store::open_with(&location, options, Arc::new(SystemClock))
        .await
        .map_err(|e| match e.kind() {
            sync_store::ErrorKind::BadLocation(_) => usage(e),
            _ => failure(e),
        })
}

fn smtp(args: &ServeArgs) -> Result<Option<SmtpMailer>, Failure> {
    let Some(host) = &args.smtp_host else {
        return Ok(None);
    };
    let security = match args.smtp_security {
        Security::None => SmtpSecurity::None,
        Security::Starttls => SmtpSecurity::StartTls,
        Security::Tls => SmtpSecurity::Tls,
    };
    let port = args.smtp_port.unwrap_or(match security {
        SmtpSecurity::None => 25,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Tls => 465,
    });
    let mut config = SmtpConfig::new(host.clone(), port, security, args.smtp_from.clone());
    if let Some(user) = &args.smtp_user {
        let password = std::env::var(format!("{ENV_PREFIX}SMTP_PASSWORD"))
            .map(SecretString::from)
            .map_err(|_| {
                usage(anyhow::anyhow!(
                    "--smtp-user needs the password in {ENV_PREFIX}SMTP_PASSWORD"
                ))
            })?;
        config = config.with_credentials(user.clone(), password);
    }
    SmtpMailer::new(&config).map(Some).map_err(usage)
}

async fn serve(args: ServeArgs) -> Result<u8, Failure> {
    // The key first: a service that cannot open credentials must not start at all.
    let master = MasterKey::from_env(ENV_PREFIX).map_err(|e| {
        usage(anyhow::anyhow!(
            "{e}; generate one with `quip-oomnitza-cloud key generate` and keep it in the \
             service's secret configuration"
        ))
    })?;
    let mailer = smtp(&args)?;
    let options = StoreOptions {
        lease: args.lease,
        ..StoreOptions::default()
    };
    let store = open_store(&args.database, options).await?;
    let config = ServiceConfig {
        listen: args.listen,
        body_limit: args.body_limit,
        request_timeout: args.request_timeout,
        worker: WorkerConfig {
            worker_id: args
                .worker_id
                .clone()
                .unwrap_or_else(sync_service::worker::default_worker_id),
            concurrency: args.workers,
            poll: args.poll,
            sweep_every: args.sweep_every,
            drain: args.drain,
            ..WorkerConfig::default()
        },
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| usage(anyhow::anyhow!("cannot listen on {}: {e}", args.listen)))?;
    let app = Arc::new(App::new(
        store.clone(),
        Arc::new(master),
        &quip_oomnitza_pairing::PAIRING,
        config,
    ));
    let mailer = mailer.map(|m| Arc::new(m) as Arc<dyn sync_store::Mailer>);
    sync_service::serve(app, listener, mailer, shutdown_signal())
        .await
        .map_err(failure)?;
    store.close().await;
    tracing::info!("stopped");
    Ok(0)
}

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = int.recv() => tracing::info!("SIGINT received"),
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
