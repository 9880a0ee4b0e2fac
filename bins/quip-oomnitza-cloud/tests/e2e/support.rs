//! The harness: the real `quip-oomnitza-cloud` binary in child processes, the Quip and
//! Oomnitza emulators in this process, a fresh database per test (a SQLite file, or a
//! PostgreSQL database when `SYNC_STORE_TEST_PG` names a server).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use api_sandbox::{QuipLimits, Sandbox, SandboxConfig};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_quip-oomnitza-cloud");

/// Guard against a hung service (not a timing assertion).
const HANG_GUARD: Duration = Duration::from_secs(90);

/// A master key for tests (32 bytes of 0x2a, base64).
pub const MASTER_KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

fn pg_admin_url() -> Option<String> {
    ["SYNC_STORE_TEST_PG", "DATABASE_URL"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
}

/// True when the PostgreSQL variant can run; panics when `SYNC_STORE_REQUIRE_PG=1` and it
/// cannot.
pub fn pg_available() -> bool {
    if pg_admin_url().is_some() {
        return true;
    }
    assert!(
        !flag("SYNC_STORE_REQUIRE_PG"),
        "SYNC_STORE_REQUIRE_PG=1 but SYNC_STORE_TEST_PG names no PostgreSQL server"
    );
    eprintln!("PostgreSQL variant skipped: set SYNC_STORE_TEST_PG=postgres://... to run it");
    false
}

/// `sqlite` and `postgres` variants of an async test `fn name(kind: Kind)`.
#[macro_export]
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

/// A fresh database and a scratch directory.
pub struct Db {
    /// What `--database` takes.
    pub url: String,
    /// The SQLite file, when SQLite.
    pub sqlite_path: Option<PathBuf>,
    /// Scratch space (logs, the SQLite file).
    pub dir: TempDir,
}

impl Db {
    /// A new empty database of `kind`.
    pub async fn new(kind: Kind) -> Db {
        let dir = tempfile::tempdir().expect("temporary directory");
        match kind {
            Kind::Sqlite => {
                let path = dir.path().join("data").join("cloud.db");
                Db {
                    url: path.to_str().expect("utf-8 path").to_owned(),
                    sqlite_path: Some(path),
                    dir,
                }
            }
            Kind::Postgres => {
                let admin = pg_admin_url().expect("checked by pg_available");
                let name =
                    format!("cloud_e2e_{}", std::process::id()) + &format!("_{}", rand_suffix());
                sqlx::any::install_default_drivers();
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .expect("connect to PostgreSQL");
                sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create a test database");
                let base = admin.split('?').next().expect("url");
                let base = &base[..base.rfind('/').expect("a database path")];
                Db {
                    url: format!("{base}/{name}"),
                    sqlite_path: None,
                    dir,
                }
            }
        }
    }

    /// `token create --user USER [--admin]`: the token on stdout's last line.
    pub async fn token(&self, user: &str, admin: bool) -> String {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(["token", "create", "--user", user, "--database", &self.url]);
        if admin {
            cmd.arg("--admin");
        }
        let out = clean_env(&mut cmd)
            .output()
            .await
            .expect("run token create");
        assert!(
            out.status.success(),
            "token create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).expect("utf-8");
        let token = stdout.lines().last().expect("a line").trim().to_owned();
        assert!(token.starts_with("qot_"), "a token: {token:?}");
        token
    }
}

fn rand_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{nanos:x}")
}

/// Drops the test process's variables that would change the binary's behaviour.
pub fn clean_env(cmd: &mut tokio::process::Command) -> &mut tokio::process::Command {
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| k.starts_with("QUIP_OOMNITZA_")) {
            cmd.env_remove(&k);
        }
    }
    cmd.env_remove("RUST_LOG").kill_on_drop(true)
}

/// A free loopback port (bound, then released for the service to take).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A running `serve` process.
pub struct Service {
    /// The child.
    pub child: tokio::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its stderr (the logs).
    pub log: PathBuf,
    /// An HTTP client.
    pub http: reqwest::Client,
}

/// Options of a `serve` process.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `--workers`.
    pub workers: usize,
    /// `RUST_LOG`.
    pub log_level: &'static str,
    /// `--lease`.
    pub lease: &'static str,
    /// `--worker-id`.
    pub worker_id: Option<String>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            workers: 2,
            log_level: "info",
            lease: "60s",
            worker_id: None,
        }
    }
}

impl Service {
    /// `serve` on `db` with the defaults.
    pub async fn start(db: &Db) -> Service {
        Service::start_with(db, &ServeOptions::default()).await
    }

    /// `serve` on `db` with `opts`; returns once `/healthz` answers.
    pub async fn start_with(db: &Db, opts: &ServeOptions) -> Service {
        let port = free_port();
        let log = db.dir.path().join(format!("serve-{port}.log"));
        let stderr = std::fs::File::create(&log).expect("log file");
        let mut cmd = tokio::process::Command::new(BIN);
        clean_env(&mut cmd)
            .args([
                "serve",
                "--database",
                &db.url,
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--workers",
                &opts.workers.to_string(),
                "--poll",
                "200ms",
                "--sweep-every",
                "500ms",
                "--lease",
                opts.lease,
                "--drain",
                "5s",
            ])
            .env("QUIP_OOMNITZA_MASTER_KEY", MASTER_KEY)
            .env("RUST_LOG", opts.log_level)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        if let Some(id) = &opts.worker_id {
            cmd.args(["--worker-id", id]);
        }
        let child = cmd.spawn().expect("start serve");
        let service = Service {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
        };
        let deadline = tokio::time::Instant::now() + HANG_GUARD;
        loop {
            if let Ok(r) = service.http.get(service.url("/healthz")).send().await
                && r.status().is_success()
            {
                return service;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "serve did not become healthy: {}",
                service.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A URL on the service.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The logs so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A request with a bearer token.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        Reply::from(req.send().await.expect("request sent")).await
    }

    /// A raw request: `content_type` and bytes as given.
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut req = self.http.request(method, self.url(path)).body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        Reply::from(req.send().await.expect("request sent")).await
    }

    /// GET with a token.
    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    /// POST JSON with a token.
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.call(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }

    /// Polls a run until it is no longer queued or running.
    pub async fn wait_run(&self, token: &str, run_id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + HANG_GUARD;
        loop {
            let r = self.get(&format!("/api/v1/runs/{run_id}"), token).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let state = r.json["state"].as_str().unwrap_or_default().to_owned();
            if state != "queued" && state != "running" {
                return r.json;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "run {run_id} still {state}; logs:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// SIGTERM, then waits for the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        tokio::time::timeout(HANG_GUARD, self.child.wait())
            .await
            .expect("serve stops after SIGTERM")
            .expect("exit status")
    }
}

/// A response, read.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Content-Type.
    pub content_type: String,
    /// Body text.
    pub text: String,
    /// Body as JSON (`null` when not JSON).
    pub json: Value,
}

impl Reply {
    async fn from(r: reqwest::Response) -> Reply {
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = r.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            content_type,
            text,
            json,
        }
    }

    /// Asserts a problem+json answer of `status` and returns its `type`.
    pub fn problem(&self, status: u16) -> String {
        assert_eq!(self.status, status, "status of {}", self.text);
        assert!(
            self.content_type.starts_with("application/problem+json"),
            "problem+json, got {:?}: {}",
            self.content_type,
            self.text
        );
        assert_eq!(self.json["status"], status, "{}", self.text);
        self.json["type"]
            .as_str()
            .expect("a problem type")
            .to_owned()
    }
}

/// The emulators' configuration: `users` people, no Quip rate limits.
pub fn sandbox_config(users: usize) -> SandboxConfig {
    let mut config = SandboxConfig::default();
    config.data.users = users;
    config.data.seed = 7;
    config.quip.limits = QuipLimits::unlimited();
    config
}

/// The emulators with `users` people, no Quip rate limits.
pub async fn sandbox(users: usize) -> Sandbox {
    Sandbox::start(sandbox_config(users))
        .await
        .expect("emulators start")
}

/// Creates the two credentials an integration needs (`quip`, `oomnitza`).
pub async fn create_credentials(service: &Service, token: &str, sandbox: &Sandbox) {
    let r = service
        .post(
            "/api/v1/credentials",
            token,
            &json!({"name": "quip", "kind": "api_key", "secret": sandbox.quip.token(),
                    "prefix": "Bearer "}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = service
        .post(
            "/api/v1/credentials",
            token,
            &json!({"name": "oomnitza", "kind": "api_key", "secret": sandbox.oomnitza.token(),
                    "token_name": "Authorization2"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// An integration config against the emulators.
pub fn config(sandbox: &Sandbox, mode: &str) -> Value {
    let quip = sandbox.quip.base_url();
    json!({
        "integration": {"mode": mode, "contacts": ["it-ops@example.com"]},
        "quip": {
            "base_url": quip, "scim_url": quip, "credential": "quip",
            "events_lookback": "3650d", "timeout": "5s", "max_wait": "2s"
        },
        "oomnitza": {"base_url": sandbox.oomnitza.base_url(), "credential": "oomnitza"}
    })
}

/// Creates and launches an integration; returns its id.
pub async fn launched_integration(
    service: &Service,
    token: &str,
    sandbox: &Sandbox,
    name: &str,
) -> String {
    let r = service
        .post(
            "/api/v1/integrations",
            token,
            &json!({"name": name, "config": config(sandbox, "users_and_saas")}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["id"].as_str().expect("id").to_owned();
    let r = service
        .post(
            &format!("/api/v1/integrations/{id}/launch"),
            token,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "launched");
    id
}
