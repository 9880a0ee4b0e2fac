//! Issue 19, credentials: no store is locked under a blank or short new passphrase, a
//! credential file other users can read is made private with a warning `--quiet` keeps,
//! and a D-Bus session that accepts and never answers does not hang the tool.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::{Cli, Harness, OOMNITZA_VAR, Output, QUIP_VAR};

const PASSPHRASE_VAR: &str = "QUIP_OOMNITZA_PASSPHRASE";
const NEW_PASSPHRASE_VAR: &str = "QUIP_OOMNITZA_NEW_PASSPHRASE";
const PASSPHRASE: &str = "correct horse battery staple";
const SECRET: &str = "stored-secret-1c7e5a90";

fn credential_file(h: &Harness) -> PathBuf {
    h.state_dir().join("credentials.enc")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("credential file")
        .permissions()
        .mode()
        & 0o777
}

/// A command on the harness's state directory with the passphrase set.
fn with_passphrase<const N: usize>(h: &Harness, args: [&str; N]) -> Cli {
    h.cli(args).env(PASSPHRASE_VAR, PASSPHRASE)
}

/// Stores `name` (an Oomnitza-style token) in the credential file, creating it.
async fn add(h: &Harness, name: &str, kind: &str, secret: &str) {
    let out = with_passphrase(h, ["credentials", "add", name, "--kind", kind])
        .stdin(format!("{secret}\n"))
        .run()
        .await;
    out.expect_code(0);
}

#[track_caller]
fn assert_no_secret(out: &Output) {
    assert!(!out.stdout.contains(SECRET), "stdout: {}", out.stdout);
    assert!(!out.stderr.contains(SECRET), "stderr: {}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blank_and_short_new_passphrases_are_refused_and_the_old_one_still_opens() {
    let h = Harness::start(20, 61).await;
    add(&h, "oomnitza", "oomnitza", SECRET).await;
    let file = credential_file(&h);
    let before = std::fs::read(&file).expect("credential file");

    // `credentials rotate --passphrase` with the variable empty, blank, short or unset:
    // exit 2 before the file is touched (a kill there has nothing to interrupt).
    for (new, says) in [
        (Some(""), "is empty"),
        (Some("            "), "white space"),
        (Some("x"), "1 characters; new passphrases need at least 12"),
        (
            Some("elevenchars"),
            "11 characters; new passphrases need at least 12",
        ),
        (None, "set QUIP_OOMNITZA_NEW_PASSPHRASE"),
    ] {
        let cli = with_passphrase(&h, ["credentials", "rotate", "--passphrase"]);
        let cli = match new {
            Some(value) => cli.env(NEW_PASSPHRASE_VAR, value),
            None => cli.env_remove(NEW_PASSPHRASE_VAR),
        };
        let out = cli.run().await;
        out.expect_code(2);
        assert!(out.stderr.contains(says), "{new:?}: {}", out.stderr);
        assert_eq!(std::fs::read(&file).expect("file"), before, "{new:?}");

        // The old passphrase still opens the store.
        let out = with_passphrase(&h, ["credentials", "list"]).run().await;
        out.expect_code(0);
        assert!(out.stdout.starts_with("oomnitza: "), "{}", out.stdout);
        assert_no_secret(&out);
    }

    // Twelve characters are accepted, and then only the new passphrase opens it.
    with_passphrase(&h, ["credentials", "rotate", "--passphrase"])
        .env(NEW_PASSPHRASE_VAR, "twelve chars")
        .run()
        .await
        .expect_code(0);
    let out = h
        .cli(["credentials", "list"])
        .env(PASSPHRASE_VAR, "twelve chars")
        .run()
        .await;
    out.expect_code(0);
    assert!(out.stdout.starts_with("oomnitza: "), "{}", out.stdout);
    let out = with_passphrase(&h, ["credentials", "list"]).run().await;
    assert_ne!(out.code, 0, "the old passphrase no longer opens it");
    assert!(out.stderr.contains("wrong passphrase"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_store_is_not_created_under_a_blank_or_short_passphrase() {
    let h = Harness::start(20, 62).await;
    let state = h.path("fresh-state");
    for (passphrase, says) in [
        ("", "needs a passphrase"),
        ("short", "5 characters; new passphrases need at least 12"),
        ("           ", "white space"),
    ] {
        let out = Cli::new([
            OsString::from("--state-dir"),
            state.clone().into_os_string(),
        ])
        .arg("credentials")
        .arg("add")
        .arg("quip")
        .env(PASSPHRASE_VAR, passphrase)
        .stdin(format!("{SECRET}\n"))
        .run()
        .await;
        out.expect_code(2);
        assert!(out.stderr.contains(says), "{passphrase:?}: {}", out.stderr);
        assert!(out.stderr.contains(PASSPHRASE_VAR), "{}", out.stderr);
        assert_no_secret(&out);
        assert!(
            !state.join("credentials.enc").exists(),
            "{passphrase:?} created a credential file"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_file_other_users_can_read_is_made_private_with_a_warning_quiet_or_not() {
    let h = Harness::start(20, 63).await;
    add(&h, "e2e-quip", "quip", h.sandbox.quip.token()).await;
    add(&h, "e2e-oomnitza", "oomnitza", h.sandbox.oomnitza.token()).await;
    let file = credential_file(&h);
    assert_eq!(mode(&file), 0o600);
    let config = h.write(
        "stored.toml",
        &h.config_text("", "")
            .replace(
                &format!("credential = {{ env = \"{QUIP_VAR}\" }}"),
                "credential = \"e2e-quip\"",
            )
            .replace(
                &format!("credential = {{ env = \"{OOMNITZA_VAR}\" }}"),
                "credential = \"e2e-oomnitza\"",
            ),
    );

    // The fix is one chmod of the open file: a kill before it leaves the file as it was
    // (and the next command fixes it), after it there is nothing left to do.
    let warning = "had mode 644, so other users could read it; changed it to 600";
    for quiet in [false, true] {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let mut cli = with_passphrase(&h, ["credentials", "list"]);
        if quiet {
            cli = cli.arg("--quiet");
        }
        let out = cli.run().await;
        out.expect_code(0);
        assert!(
            out.stderr.contains(warning),
            "quiet {quiet}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("credentials.enc"), "{}", out.stderr);
        assert_eq!(mode(&file), 0o600, "quiet {quiet}");
        assert_eq!(out.stdout.lines().count(), 2, "{}", out.stdout);

        // Once private, nothing more is said.
        let out = with_passphrase(&h, ["credentials", "list"]).run().await;
        out.expect_code(0);
        assert!(!out.stderr.contains("mode"), "{}", out.stderr);
    }

    // The same when a sync reads its stored credentials; the report stays clean JSON.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = with_passphrase(&h, ["--quiet", "run", "--json", "--config"])
        .arg(&config)
        .env_remove(QUIP_VAR)
        .env_remove(OOMNITZA_VAR)
        .run()
        .await;
    out.expect_code(0);
    assert_eq!(out.json()["status"], "succeeded");
    assert!(out.stderr.contains(warning), "{}", out.stderr);
    assert_eq!(mode(&file), 0o600);
}

/// A D-Bus "session bus" on a Unix socket that accepts every connection and never says a
/// word (a wedged session): counts the connections and keeps them open.
struct SilentBus {
    address: String,
    connections: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

impl SilentBus {
    fn start() -> SilentBus {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("bus");
        let listener = UnixListener::bind(&path).expect("bind the bus socket");
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        std::thread::spawn(move || {
            let mut open = Vec::new();
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                counter.fetch_add(1, Ordering::SeqCst);
                open.push(stream);
            }
        });
        SilentBus {
            address: format!("unix:path={}", path.display()),
            connections,
            _dir: dir,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_d_bus_session_that_never_answers_does_not_hang_credentials_or_run() {
    let h = Harness::start(30, 64).await;
    add(&h, "oomnitza", "oomnitza", SECRET).await;
    let bus = SilentBus::start();

    // The default timeout.
    let out = with_passphrase(&h, ["credentials", "list"])
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .run()
        .await;
    out.expect_code(0);
    assert!(out.stdout.starts_with("oomnitza: "), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("the OS keyring did not answer within 3s; going on without it"),
        "{}",
        out.stderr
    );
    assert!(
        bus.connections.load(Ordering::SeqCst) >= 1,
        "the bus was tried"
    );
    assert_no_secret(&out);

    // A sync against the emulators, with a shorter timeout from the environment.
    let tried = bus.connections.load(Ordering::SeqCst);
    let config = h.saas_config();
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&config)
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env("QUIP_OOMNITZA_KEYRING_TIMEOUT", "500ms")
        .run()
        .await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(report["status"], "succeeded");
    assert!(
        report["counts"]["created"].as_u64().unwrap_or_default() > 0,
        "{report:#}"
    );
    assert!(
        out.stderr.contains("did not answer within 500ms"),
        "{}",
        out.stderr
    );
    assert!(
        bus.connections.load(Ordering::SeqCst) > tried,
        "the bus was tried"
    );

    // A timeout that is not a duration is a usage error.
    let out = h
        .cli(["credentials", "list", "--keyring-timeout", "soon"])
        .run()
        .await;
    out.expect_code(2);
    assert!(out.stderr.contains("--keyring-timeout"), "{}", out.stderr);
}
