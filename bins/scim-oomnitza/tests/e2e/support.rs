//! The harness: a SCIM emulator and an Oomnitza emulator in this process, the real
//! `scim-oomnitza` binary in a child process, a temporary directory for configuration
//! files and the state directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use api_sandbox::oomnitza::{CustomField, SaasSeat};
use api_sandbox::scim::{ACTIVITY_SCHEMA, ScimConfig, ScimEmulator, ScimUser, from_people};
use api_sandbox::{DataSpec, OomnitzaConfig, OomnitzaEmulator, SaasSpend, datagen};
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::AsyncWriteExt as _;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_scim-oomnitza");

/// Environment variable the configurations name for the SCIM token.
pub const SCIM_VAR: &str = "E2E_SCIM_TOKEN";
/// Environment variable the configurations name for the Oomnitza token.
pub const OOMNITZA_VAR: &str = "E2E_OOMNITZA_TOKEN";

/// The application the seats belong to.
pub const APP: &str = "Slack";

/// Guard against a hung child (not a timing assertion: a healthy run takes seconds).
const HANG_GUARD: Duration = Duration::from_secs(180);

/// Variables of the test process that would change the binary's behaviour.
fn inherited_vars_to_drop() -> Vec<OsString> {
    let mut vars: Vec<OsString> = std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| {
            k.to_str()
                .is_some_and(|k| k.starts_with("SCIM_OOMNITZA_") || k.starts_with("E2E_"))
        })
        .collect();
    vars.push("RUST_LOG".into());
    vars
}

/// An Oomnitza emulator with the `scim_user_id` People field and the `Slack` price.
pub fn oomnitza_config() -> OomnitzaConfig {
    let mut config = OomnitzaConfig::default();
    let key = CustomField::new("scim_user_id", "SCIM User Id");
    config.custom_fields.push(key.unique(true).editable(false));
    config.saas_spend.push(SaasSpend {
        saas_name: APP.to_owned(),
        annual_spend: 36_000.0,
        total_licenses: 300,
    });
    config
}

/// Both emulators plus a scratch directory.
pub struct Harness {
    /// The SCIM service provider.
    pub scim: ScimEmulator,
    /// Oomnitza.
    pub oomnitza: OomnitzaEmulator,
    /// Configuration files and the state directory live here.
    pub dir: TempDir,
}

impl Harness {
    /// `users` generated people (from `seed`) in SCIM; Oomnitza empty.
    pub async fn start(users: usize, seed: u64) -> Harness {
        Harness::start_with(users, seed, ScimConfig::default()).await
    }

    /// [`Harness::start`] with this SCIM configuration (a token, a page cap).
    pub async fn start_with(users: usize, seed: u64, config: ScimConfig) -> Harness {
        let people = datagen::generate(&DataSpec {
            users,
            seed,
            ..DataSpec::default()
        });
        let (users, groups) = from_people(&people, seed);
        let scim = ScimEmulator::start(config, users, groups)
            .await
            .expect("SCIM emulator starts");
        let oomnitza = OomnitzaEmulator::start(oomnitza_config())
            .await
            .expect("Oomnitza emulator starts");
        let dir = tempfile::tempdir().expect("temporary directory");
        Harness {
            scim,
            oomnitza,
            dir,
        }
    }

    /// The state directory passed with `--state-dir`.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The standard configuration, users_and_saas, with `scim_extra` in `[scim]` and `tail`
    /// after `[oomnitza]`.
    pub fn config_text(&self, scim_extra: &str, tail: &str) -> String {
        let scim = self.scim.base_url();
        let oomnitza = self.oomnitza.base_url();
        format!(
            r#"[integration]
name = "E2E SCIM users"
mode = "users_and_saas"

[scim]
base_url = "{scim}"
credential = {{ env = "{SCIM_VAR}" }}
timeout = "5s"
max_wait = "2s"
last_activity_attribute = "{ACTIVITY_SCHEMA}:lastLogin"
robot_attribute = "{ACTIVITY_SCHEMA}:robot"
role_from_groups = ["Administrators"]
{scim_extra}

[oomnitza]
base_url = "{oomnitza}"
credential = {{ env = "{OOMNITZA_VAR}" }}
saas_name = "{APP}"
{tail}
"#
        )
    }

    /// Writes `text` as `name` in the scratch directory.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write a file");
        path
    }

    /// Writes the standard configuration as `config.toml`.
    pub fn config(&self) -> PathBuf {
        self.write("config.toml", &self.config_text("", ""))
    }

    /// A command with `--state-dir` and the emulators' tokens in the environment.
    pub fn cli<I, S>(&self, args: I) -> Cli
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut cli = Cli::new(["--state-dir".into(), OsString::from(self.state_dir())]);
        cli.args.extend(args.into_iter().map(Into::into));
        cli.env(SCIM_VAR, self.scim.token())
            .env(OOMNITZA_VAR, self.oomnitza.token())
    }

    /// `run --json --config config.toml` (the standard configuration).
    pub async fn run(&self) -> Output {
        self.cli(["run", "--json", "--config"])
            .arg(self.config())
            .run()
            .await
    }

    /// Write requests Oomnitza has received so far.
    pub fn oomnitza_writes(&self) -> u64 {
        self.oomnitza.counters().writes()
    }

    /// SCIM users now.
    pub fn scim_users(&self) -> Vec<ScimUser> {
        self.scim.state().users()
    }

    /// The one Oomnitza person whose `scim_user_id` is `id` (panics unless exactly one).
    pub fn person(&self, id: &str) -> Value {
        let found = self
            .oomnitza
            .state()
            .find_people("scim_user_id", &Value::String(id.to_owned()))
            .expect("scim_user_id is a People field");
        assert_eq!(found.len(), 1, "one person for {id}: {found:?}");
        found.into_iter().next().expect("one person")
    }

    /// The seats of the application.
    pub fn seats(&self) -> Vec<SaasSeat> {
        let state = self.oomnitza.state();
        state
            .saas_app_id(APP)
            .map(|id| state.saas_users(id))
            .unwrap_or_default()
    }
}

/// SCIM users a sync should own: active and not bots.
pub fn active_humans(users: &[ScimUser]) -> Vec<&ScimUser> {
    users.iter().filter(|u| u.active && !u.robot).collect()
}

/// One invocation of the binary.
pub struct Cli {
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    removed: Vec<OsString>,
    stdin: Option<String>,
}

impl Cli {
    /// `scim-oomnitza ARGS...` with a clean environment (no `SCIM_OOMNITZA_*`, `E2E_*`,
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

    /// Sets an environment variable on the child.
    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Cli {
        self.envs.push((key.into(), value.into()));
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
            .unwrap_or_else(|_| panic!("scim-oomnitza {:?} hung", self.args))
            .expect("the binary runs");
        Output {
            code: out.status.code().expect("exited, not killed by a signal"),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
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
