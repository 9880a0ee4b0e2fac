//! Opening the database: SQLite by default (one file, created on first start, WAL, busy
//! timeout), PostgreSQL by URL; the embedded migrations of either.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor as _, Transaction};

use crate::clock::{Clock, SystemClock};
use crate::error::{ErrorKind, Result, StoreError};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Which database is behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file, no server.
    Sqlite,
    /// A server shared by several processes.
    Postgres,
}

/// Tunables of a [`Store`]; [`StoreOptions::default`] gives the documented defaults (build
/// with `StoreOptions { lease, ..StoreOptions::default() }`).
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long a claimed run's lease lasts without a heartbeat (60 s). Workers heartbeat
    /// every third of it; a dead worker's run is reclaimed by the next sweep after expiry.
    pub lease: Duration,
    /// How many times a run is claimed before a lost lease fails it (3).
    pub max_attempts: u32,
    /// A scheduled run still queued this long after its slot is reported missed (30 min).
    pub missed_grace: Duration,
    /// A run still running this long after it started is reported overdue (24 h).
    pub overdue_after: Duration,
    /// First wait before an email is retried after an SMTP failure (1 min, doubling).
    pub email_retry: Duration,
    /// Longest wait between email retries (1 h).
    pub email_retry_max: Duration,
    /// Pool size (SQLite: 4; PostgreSQL: 8).
    pub max_connections: Option<u32>,
    /// SQLite: how long a writer waits for another's lock before failing (30 s).
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            max_attempts: 3,
            missed_grace: Duration::from_secs(30 * 60),
            overdue_after: Duration::from_secs(24 * 3600),
            email_retry: Duration::from_secs(60),
            email_retry_max: Duration::from_secs(3600),
            max_connections: None,
            busy_timeout: Duration::from_secs(30),
        }
    }
}

pub(crate) struct Inner {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) options: StoreOptions,
    pub(crate) describe: String,
}

/// The cloud service's database. Cheap to clone (one pool behind an `Arc`).
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("database", &self.inner.describe)
            .finish_non_exhaustive()
    }
}

/// Percent-encodes what SQLite's URL form would otherwise read as syntax.
fn sqlite_url(path: &Path) -> String {
    let mut out = String::from("sqlite://");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out.push_str("?mode=rwc");
    out
}

/// Creates a new SQLite file (and its directory) readable by its owner only: it holds
/// sealed credentials and token hashes. SQLite gives the `-wal` and `-shm` files the same
/// mode. An existing file is left as it is.
fn create_private(path: &Path) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        open.mode(0o600);
    }
    match open.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// `postgres://user:secret@host/db` without the user's password (and any query).
fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (Some(auth), host),
        None => (None, rest),
    };
    let user = auth.map(|a| a.split(':').next().unwrap_or(""));
    match user {
        Some(user) if !user.is_empty() => format!("{scheme}://{user}@{host}"),
        _ => format!("{scheme}://{host}"),
    }
}

impl Store {
    /// Opens the store at `location` with the system clock and default options: a
    /// `postgres://` (or `postgresql://`) URL, a `sqlite://PATH` URL, or a file path
    /// (SQLite, created on first start). Applies the embedded migrations.
    pub async fn open(location: &str) -> Result<Self> {
        Self::open_with(location, StoreOptions::default(), Arc::new(SystemClock)).await
    }

    /// Like [`Store::open`] with options and a clock.
    pub async fn open_with(
        location: &str,
        options: StoreOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let sqlite_path =
            if location.starts_with("postgres://") || location.starts_with("postgresql://") {
                None
            } else if let Some(rest) = location.strip_prefix("sqlite://") {
                Some(rest.split('?').next().unwrap_or(rest))
            } else if location.contains("://") || location.is_empty() {
                return Err(ErrorKind::BadLocation(redact_url(location)).into());
            } else {
                Some(location)
            };
        let (backend, url, describe) = match sqlite_path {
            None => (Backend::Postgres, location.to_owned(), redact_url(location)),
            Some(path) => {
                let describe = format!("SQLite database {path}");
                create_private(Path::new(path)).map_err(|source| ErrorKind::Database {
                    store: describe.clone(),
                    source: sqlx::Error::Io(source),
                })?;
                (Backend::Sqlite, sqlite_url(Path::new(path)), describe)
            }
        };
        let connect: AnyConnectOptions = url.parse().map_err(|source| ErrorKind::Database {
            store: describe.clone(),
            source,
        })?;
        let busy_ms = options.busy_timeout.as_millis();
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections.unwrap_or(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 8,
            }))
            .acquire_timeout(Duration::from_secs(60))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL: readers never block the writer. synchronous=FULL: a commit
                        // that returned survives a power loss (the ledger relies on it).
                        conn.execute(
                            format!(
                                "PRAGMA busy_timeout = {busy_ms}; PRAGMA journal_mode = WAL; \
                                 PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
                            )
                            .as_str(),
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(connect)
            .await
            .map_err(|source| ErrorKind::Database {
                store: describe.clone(),
                source,
            })?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|source| ErrorKind::Migrate {
                store: describe.clone(),
                source,
            })?;
        Ok(Store {
            inner: Arc::new(Inner {
                pool,
                backend,
                clock,
                options,
                describe,
            }),
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The database, for messages (a URL without its password, or the file).
    pub fn describe(&self) -> &str {
        &self.inner.describe
    }

    /// The options in force.
    pub fn options(&self) -> &StoreOptions {
        &self.inner.options
    }

    /// The clock the store reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The connection pool, for operator tooling and tests that inspect the database.
    pub fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// Closes the pool (waits for connections in use to come back).
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.now().as_millisecond()
    }

    pub(crate) fn db(&self, source: sqlx::Error) -> StoreError {
        ErrorKind::Database {
            store: self.inner.describe.clone(),
            source,
        }
        .into()
    }

    /// A transaction that writes: `BEGIN IMMEDIATE` on SQLite (takes the write lock at
    /// once, so two writers queue on the busy timeout instead of failing with "database is
    /// locked" when a reader upgrades), a plain `BEGIN` on PostgreSQL.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        let result = match self.inner.backend {
            Backend::Sqlite => self.inner.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.inner.pool.begin().await,
        };
        result.map_err(|e| self.db(e))
    }

    /// `FOR UPDATE SKIP LOCKED` where the database has it (PostgreSQL); SQLite writers are
    /// serialised anyway.
    pub(crate) fn skip_locked(&self) -> &'static str {
        match self.inner.backend {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub(crate) fn ms_of(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords_and_sqlite_paths_their_syntax() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db.example:5432/sync?sslmode=require"),
            "postgres://app@db.example:5432/sync"
        );
        assert_eq!(redact_url("postgres://db/sync"), "postgres://db/sync");
        assert_eq!(redact_url("postgres://:pw@db/sync"), "postgres://db/sync");
        assert_eq!(
            sqlite_url(Path::new("/tmp/a?b#c%d.db")),
            "sqlite:///tmp/a%3Fb%23c%25d.db?mode=rwc"
        );
    }

    #[tokio::test]
    async fn a_bad_url_is_reported_without_its_password() {
        let e = Store::open("postgres://app:hunter2@db.example:notaport/sync")
            .await
            .expect_err("bad port");
        let mut chain = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            chain.push_str(" / ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        assert!(
            chain.contains("postgres://app@db.example:notaport/sync"),
            "{chain}"
        );
        assert!(!chain.contains("hunter2"), "{chain}");
        let e = Store::open("mysql://x").await.expect_err("unsupported");
        assert!(
            e.to_string().contains("unsupported database location"),
            "{e}"
        );
    }
}
