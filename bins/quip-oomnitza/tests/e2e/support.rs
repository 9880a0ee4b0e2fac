//! The harness: emulators in this process, the real `quip-oomnitza` binary in a child
//! process, a temporary directory for configuration files, plans and the state directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use api_sandbox::{Person, QuipLimits, Sandbox, SandboxConfig};
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_quip-oomnitza");

/// Environment variable the configurations name for the Quip token.
pub const QUIP_VAR: &str = "E2E_QUIP_TOKEN";
/// Environment variable the configurations name for the Oomnitza token.
pub const OOMNITZA_VAR: &str = "E2E_OOMNITZA_TOKEN";

/// Guard against a hung child (not a timing assertion: a healthy run takes a second or two).
const HANG_GUARD: Duration = Duration::from_secs(120);

/// Variables of the test process that would change the binary's behaviour.
fn inherited_vars_to_drop() -> Vec<OsString> {
    let mut vars: Vec<OsString> = std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| {
            k.to_str()
                .is_some_and(|k| k.starts_with("QUIP_OOMNITZA_") || k.starts_with("E2E_"))
        })
        .collect();
    vars.push("RUST_LOG".into());
    vars
}

/// A sandbox config with `users` people from `seed` and no Quip rate limits (runs in a
/// test follow each other faster than Quip's per-minute budgets allow).
pub fn sandbox_config(users: usize, seed: u64) -> SandboxConfig {
    let mut config = SandboxConfig::default();
    config.data.users = users;
    config.data.seed = seed;
    config.quip.limits = QuipLimits::unlimited();
    config
}

/// Emulators plus a scratch directory.
pub struct Harness {
    /// Both emulators, serving on loopback from this process.
    pub sandbox: Sandbox,
    /// Configuration files, plans and the state directory live here.
    pub dir: TempDir,
}

impl Harness {
    /// Starts the emulators with `users` people generated from `seed`.
    pub async fn start(users: usize, seed: u64) -> Harness {
        Harness::start_with(sandbox_config(users, seed)).await
    }

    /// Starts the emulators with this configuration.
    pub async fn start_with(config: SandboxConfig) -> Harness {
        let sandbox = Sandbox::start(config).await.expect("emulators start");
        let dir = tempfile::tempdir().expect("temporary directory");
        Harness { sandbox, dir }
    }

    /// The state directory passed with `--state-dir`.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// A path inside the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` to `name` in the scratch directory.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write a file");
        path
    }

    /// The standard configuration: the emulators' URLs, tokens from `E2E_*` variables,
    /// long login lookback (the generated logins go back years), short Quip waits.
    /// `integration` goes into `[integration]` (subtables may follow it), `tail` after
    /// `[oomnitza]`.
    pub fn config_text(&self, integration: &str, tail: &str) -> String {
        self.config_text_with_quip(integration, "", tail)
    }

    /// [`Harness::config_text`] with `quip` added to `[quip]`.
    pub fn config_text_with_quip(&self, integration: &str, quip_extra: &str, tail: &str) -> String {
        let quip = self.sandbox.quip.base_url();
        let oomnitza = self.sandbox.oomnitza.base_url();
        format!(
            r#"[integration]
name = "E2E users"
{integration}

[quip]
base_url = "{quip}"
scim_url = "{quip}"
credential = {{ env = "{QUIP_VAR}" }}
events_lookback = "3650d"
timeout = "5s"
max_wait = "2s"
{quip_extra}

[oomnitza]
base_url = "{oomnitza}"
credential = {{ env = "{OOMNITZA_VAR}" }}
{tail}
"#
        )
    }

    /// Writes the standard configuration as `name` and returns its path.
    pub fn config(&self, name: &str, integration: &str, tail: &str) -> PathBuf {
        self.write(name, &self.config_text(integration, tail))
    }

    /// Writes the standard `users_and_saas` configuration as `config.toml`.
    pub fn saas_config(&self) -> PathBuf {
        self.config("config.toml", r#"mode = "users_and_saas""#, "")
    }

    /// A command with `--state-dir` and the emulators' tokens in the environment.
    pub fn cli<I, S>(&self, args: I) -> Cli
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut cli = Cli::new(["--state-dir".into(), OsString::from(self.state_dir())]);
        cli.args.extend(args.into_iter().map(Into::into));
        cli.env(QUIP_VAR, self.sandbox.quip.token())
            .env(OOMNITZA_VAR, self.sandbox.oomnitza.token())
    }

    /// Write requests (anything but GET/HEAD/OPTIONS) Oomnitza has received so far.
    pub fn oomnitza_writes(&self) -> u64 {
        self.sandbox.oomnitza.counters().writes()
    }

    /// Quip people in the emulator now.
    pub fn quip_people(&self) -> Vec<Person> {
        self.sandbox.quip.state().people()
    }

    /// Oomnitza People now.
    pub fn oomnitza_people(&self) -> Vec<Value> {
        self.sandbox.oomnitza.state().people()
    }

    /// The one Oomnitza person whose `quip_user_id` is `quip_id` (panics unless exactly one).
    pub fn person_by_quip_id(&self, quip_id: &str) -> Value {
        let found = self
            .sandbox
            .oomnitza
            .state()
            .find_people("quip_user_id", &Value::String(quip_id.to_owned()))
            .expect("quip_user_id is a People field");
        assert_eq!(
            found.len(),
            1,
            "exactly one person for {quip_id}: {found:?}"
        );
        found.into_iter().next().expect("one person")
    }

    /// The seats of the "Quip" SaaS application (empty when it does not exist).
    pub fn quip_seats(&self) -> Vec<api_sandbox::oomnitza::SaasSeat> {
        let state = self.sandbox.oomnitza.state();
        state
            .saas_app_id("Quip")
            .map(|id| state.saas_users(id))
            .unwrap_or_default()
    }
}

/// Quip people a sync should own: enabled and not robots.
pub fn active_humans(people: &[Person]) -> Vec<&Person> {
    people
        .iter()
        .filter(|p| !p.disabled && !p.is_robot)
        .collect()
}

/// One invocation of the binary.
pub struct Cli {
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    removed: Vec<OsString>,
    stdin: Option<String>,
}

impl Cli {
    /// `quip-oomnitza ARGS...` with a clean environment (no `QUIP_OOMNITZA_*`, `E2E_*`,
    /// `RUST_LOG` from the test process).
    pub fn new<I, S>(args: I) -> Cli
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Cli {
            args: args.into_iter().map(Into::into).collect(),
            envs: Vec::new(),
            removed: Vec::new(),
            stdin: None,
        }
    }

    /// Appends an argument.
    #[must_use]
    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Cli {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends several arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Cli
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable on the child.
    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Cli {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Removes an environment variable the harness set.
    #[must_use]
    pub fn env_remove(mut self, key: impl Into<OsString>) -> Cli {
        let key = key.into();
        self.envs.retain(|(k, _)| *k != key);
        self.removed.push(key);
        self
    }

    /// Feeds `text` on stdin.
    #[must_use]
    pub fn stdin(mut self, text: impl Into<String>) -> Cli {
        self.stdin = Some(text.into());
        self
    }

    fn command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(&self.args)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for key in inherited_vars_to_drop()
            .into_iter()
            .chain(self.removed.clone())
        {
            cmd.env_remove(key);
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs the binary to completion; the emulators keep serving meanwhile.
    pub async fn run(self) -> Output {
        let mut child = self.command().spawn().expect("the binary starts");
        if let Some(text) = &self.stdin {
            let mut stdin = child.stdin.take().expect("piped stdin");
            stdin.write_all(text.as_bytes()).await.expect("write stdin");
            drop(stdin);
        }
        let out = tokio::time::timeout(HANG_GUARD, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("quip-oomnitza {:?} hung", self.args))
            .expect("the binary runs");
        Output {
            code: out.status.code().expect("exited, not killed by a signal"),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Starts the binary and leaves it running (for long-running commands).
    pub fn spawn(self) -> Running {
        assert!(self.stdin.is_none(), "stdin is for `run`");
        let mut child = self.command().spawn().expect("the binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        Running {
            child,
            stdout: BufReader::new(stdout).lines(),
            stderr: tokio::spawn(async move {
                let mut text = String::new();
                let mut stderr = stderr;
                stderr
                    .read_to_string(&mut text)
                    .await
                    .expect("stderr is UTF-8");
                text
            }),
            seen: String::new(),
        }
    }
}

/// A binary still running, its stdout read line by line.
pub struct Running {
    child: tokio::process::Child,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    stderr: tokio::task::JoinHandle<String>,
    seen: String,
}

impl Running {
    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id().expect("still running")
    }

    /// Reads stdout until a line equal to `line` (returns everything read so far).
    pub async fn read_until_line(&mut self, line: &str) -> &str {
        let read = async {
            while let Some(l) = self.stdout.next_line().await.expect("read stdout") {
                self.seen.push_str(&l);
                self.seen.push('\n');
                if l == line {
                    return true;
                }
            }
            false
        };
        let found = tokio::time::timeout(HANG_GUARD, read)
            .await
            .unwrap_or_else(|_| panic!("no line {line:?} in time; stdout so far:\n{}", self.seen));
        assert!(found, "stdout closed before {line:?}:\n{}", self.seen);
        &self.seen
    }

    /// Sends a signal (`TERM`, `INT`) with the system's `kill`.
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().expect("still running");
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(pid.to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} {pid}");
    }

    /// Sends SIGKILL and waits until the process is gone (it prints nothing more).
    pub async fn kill(mut self) {
        self.signal("KILL");
        let status = tokio::time::timeout(HANG_GUARD, self.child.wait())
            .await
            .expect("a killed process exits")
            .expect("wait");
        assert!(status.code().is_none(), "killed by the signal: {status:?}");
    }

    /// Waits for the exit; everything it printed.
    pub async fn finish(mut self) -> Output {
        let status = tokio::time::timeout(HANG_GUARD, async {
            while let Some(l) = self.stdout.next_line().await.expect("read stdout") {
                self.seen.push_str(&l);
                self.seen.push('\n');
            }
            self.child.wait().await.expect("wait")
        })
        .await
        .unwrap_or_else(|_| panic!("did not exit; stdout:\n{}", self.seen));
        Output {
            code: status.code().expect("exited, not killed by a signal"),
            stdout: self.seen,
            stderr: self.stderr.await.expect("stderr reader"),
        }
    }
}

/// What the binary did.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code.
    pub code: i32,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

impl Output {
    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Output {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// stdout parsed as one JSON document (`--json` prints nothing else).
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e})\n--- stdout ---\n{}\n--- stderr ---\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// A count from a session report: `report[section][key]` as u64.
#[track_caller]
pub fn count(report: &Value, section: &str, key: &str) -> u64 {
    report[section][key]
        .as_u64()
        .unwrap_or_else(|| panic!("{section}.{key} in {report:#}"))
}

/// The seven counts of a report section, in contract order.
#[track_caller]
pub fn counts(report: &Value, section: &str) -> [u64; 7] {
    [
        "created",
        "updated",
        "deactivated",
        "reactivated",
        "unchanged",
        "skipped",
        "failed",
    ]
    .map(|k| count(report, section, k))
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read a directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
