//! Fixtures: a fresh store on either backend with a test clock, and the aiosmtpd sink.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use jiff::Timestamp;
use sync_store::{IntegrationStatus, NewIntegration, Owner, Store, StoreOptions, TestClock};
use tokio::io::{AsyncBufReadExt as _, BufReader};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// Runs `async fn $name(kind: Kind)` on both backends: `$name::sqlite` and `$name::postgres`.
macro_rules! both {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::Kind::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::support::pg_available() {
                    super::$name($crate::support::Kind::Postgres).await;
                }
            }
        }
    )+};
}

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// The server the PostgreSQL half uses, if any.
pub fn pg_admin_url() -> Option<String> {
    ["SYNC_STORE_TEST_PG", "DATABASE_URL"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
}

/// True when the PostgreSQL half can run; panics when it must and cannot.
pub fn pg_available() -> bool {
    if pg_admin_url().is_some() {
        return true;
    }
    assert!(
        !flag("SYNC_STORE_REQUIRE_PG"),
        "SYNC_STORE_REQUIRE_PG=1 but neither SYNC_STORE_TEST_PG nor DATABASE_URL names a \
         PostgreSQL server (start one with scripts/ci-services)"
    );
    eprintln!("PostgreSQL half skipped: set SYNC_STORE_TEST_PG=postgres://... to run it");
    false
}

pub fn start_time() -> Timestamp {
    "2026-01-05T12:00:00Z".parse().unwrap()
}

/// A fresh, empty store.
pub struct TestDb {
    pub store: Store,
    pub clock: TestClock,

    /// What `Store::open` takes to reach the same database (another "process").
    pub location: String,
    pub sqlite_path: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(kind: Kind) -> Self {
        Self::with(kind, StoreOptions::default()).await
    }

    pub async fn with(kind: Kind, options: StoreOptions) -> Self {
        let clock = TestClock::new(start_time());
        let (location, dir, pg, path) = match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                // A directory that does not exist yet, with a space: created on first start.
                let path = dir.path().join("sub dir").join("cloud.db");
                (
                    path.to_str().unwrap().to_owned(),
                    Some(dir),
                    None,
                    Some(path),
                )
            }
            Kind::Postgres => {
                let admin = pg_admin_url().expect("checked by pg_available");
                let name = format!("sync_store_test_{}", uuid::Uuid::new_v4().simple());
                sqlx::any::install_default_drivers();
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .expect("connect to the PostgreSQL server");
                sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create a test database");
                let base = admin.split('?').next().unwrap();
                let base = &base[..base.rfind('/').unwrap()];
                (format!("{base}/{name}"), None, Some((admin, name)), None)
            }
        };
        let store = Store::open_with(&location, options, Arc::new(clock.clone()))
            .await
            .expect("open the store");
        TestDb {
            store,
            clock,

            location,
            sqlite_path: path,
            _dir: dir,
            pg,
        }
    }

    /// Another handle on the same database (its own pool), as another process has.
    pub async fn reopen(&self, options: StoreOptions) -> Store {
        Store::open_with(&self.location, options, Arc::new(self.clock.clone()))
            .await
            .expect("reopen")
    }

    /// An owner with a launched integration that has contacts.
    pub async fn launched(&self, owner: &str, name: &str) -> (Owner, sync_store::Integration) {
        let owner = self.store.ensure_owner(owner).await.unwrap();
        let integration = self
            .store
            .create_integration(
                &owner.id,
                &NewIntegration::new(name, r#"{"quip": {"credential": "q"}}"#)
                    .with_contacts(["ops@example.com", "lead@example.com"]),
            )
            .await
            .unwrap();
        let integration = self
            .store
            .set_status(
                &owner.id,
                &integration.id,
                IntegrationStatus::Launched,
                None,
            )
            .await
            .unwrap();
        (owner, integration)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            // Best effort, on a thread of its own: the test's runtime is going away.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    if let Ok(mut conn) =
                        <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await
                    {
                        let _ = sqlx::Executor::execute(
                            &mut conn,
                            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                        )
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// A finished report of `integration` with the given fatal error (None: succeeded).
pub fn report(integration: &str, fatal: Option<&str>) -> sync_engine::SessionReport {
    let mut report = sync_engine::SessionReport::new(integration, chrono::Utc::now());
    report.fatal = fatal.map(str::to_owned);
    report.finish(false);
    report
}

/// The python3 that imports aiosmtpd, if any; panics when required and missing.
pub fn smtp_python() -> Option<String> {
    let candidates = std::env::var("SYNC_STORE_PYTHON")
        .into_iter()
        .chain(["python3".to_owned(), "/usr/bin/python3".to_owned()]);
    for python in candidates {
        let ok = std::process::Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(python);
        }
    }
    assert!(
        !flag("SYNC_STORE_REQUIRE_SMTP"),
        "SYNC_STORE_REQUIRE_SMTP=1 but no python3 imports aiosmtpd (apt-get install \
         python3-aiosmtpd, or pip install aiosmtpd; SYNC_STORE_PYTHON names the interpreter)"
    );
    eprintln!("SMTP test skipped: aiosmtpd is not installed");
    None
}

const SINK: &str = r#"
import asyncio, json, sys
from aiosmtpd.controller import Controller
port, out = int(sys.argv[1]), sys.argv[2]
class Handler:
    async def handle_DATA(self, server, session, envelope):
        with open(out, "a") as f:
            f.write(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                                "data": envelope.content.decode("utf-8", "replace")}) + "\n")
        return "250 OK"
controller = Controller(Handler(), hostname="127.0.0.1", port=port)
controller.start()
print("READY", flush=True)
sys.stdin.read()
controller.stop()
"#;

/// aiosmtpd on loopback, saving each message as a JSON line. Stopped on drop.
pub struct SmtpSink {
    pub port: u16,
    out: PathBuf,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

/// A loopback port nobody listens on (for the moment).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SmtpSink {
    pub async fn start(python: &str, port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("messages.jsonl");
        let mut child = tokio::process::Command::new(python)
            .args(["-c", SINK, &port.to_string(), out.to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start aiosmtpd");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .expect("aiosmtpd did not start in 20 s")
            .unwrap();
        assert_eq!(ready.as_deref(), Some("READY"), "aiosmtpd did not start");
        SmtpSink {
            port,
            out,
            _child: child,
            _dir: dir,
        }
    }

    pub fn messages(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}
