//! Local state: session reports, the ledger of records this integration deactivated (with
//! its write-ahead intents, sync-safety S15), and the per-integration run lock.
//!
//! Every file is written atomically and durably: temporary file in the same directory,
//! fsync, rename, fsync of the directory; so a crash never leaves a half-written file
//! behind and a rename that was reported done survives a power loss. Files are opened
//! with `O_NOFOLLOW` (a symbolic link planted in the directory is never followed), and a
//! directory owned by another user is refused rather than adopted.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sync_engine::SessionReport;

use crate::ledger::Ledger;
use crate::store::{RunGuard, StateStore};

/// A local-state failure.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// File system trouble, with the path involved.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A state file does not decode.
    #[error("{path} is corrupt")]
    Corrupt {
        /// Which file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Another run of the same integration holds the lock.
    #[error(
        "another run of integration \"{integration}\" is in progress: {holder} holds its lock \
         {path}; wait for that run to finish or stop that process (the operating system \
         releases the lock when the process exits, so deleting the file is not the fix)"
    )]
    Locked {
        /// The integration.
        integration: String,
        /// The lock file.
        path: PathBuf,
        /// Who holds it: `process 1234`, or `another process` when it has not said.
        holder: String,
    },
    /// The state directory (or a directory inside it) belongs to another user.
    #[error(
        "state directory {path} is owned by uid {owner}, not by this user (uid {me}); \
         refusing to use it: pass --state-dir with a directory of your own"
    )]
    NotOwned {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The current (effective) user.
        me: u32,
    },
    /// A state path is a symbolic link or not the kind of file expected.
    #[error("{path} {what}; refusing to follow or replace it")]
    Unsafe {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        what: &'static str,
    },
    /// No session with that id.
    #[error("no session \"{0}\" in the state directory")]
    NoSuchSession(String),
}

fn io<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> StateError + 'p {
    move |source| StateError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// `O_NOFOLLOW` for every state file opened: a symbolic link is an error, never followed.
fn no_follow(opts: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits().cast_signed());
    }
    opts
}

/// Opens `path` for reading without following a symbolic link.
fn open_read(path: &Path) -> Result<File, StateError> {
    no_follow(OpenOptions::new().read(true))
        .open(path)
        .map_err(|e| symlink_or(path, "cannot read", e))
}

/// `ELOOP` from an `O_NOFOLLOW` open means the path is a symbolic link: say so.
fn symlink_or(path: &Path, action: &'static str, e: std::io::Error) -> StateError {
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        StateError::Unsafe {
            path: path.to_owned(),
            what: "is a symbolic link",
        }
    } else {
        io(action, path)(e)
    }
}

/// Flushes a directory's entries (a rename in it) to disk.
fn sync_dir(dir: &Path) -> Result<(), StateError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("cannot sync the directory", dir))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The effective user id of this process.
#[cfg(unix)]
fn current_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Creates `dir` (owner-only) when missing; otherwise checks it is a real directory owned
/// by the current user. Never changes the mode of a directory it did not create.
fn ensure_private_dir(dir: &Path) -> Result<(), StateError> {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt as _;
                // Reports name people: private to the owner from the start.
                builder.mode(0o700);
            }
            builder.create(dir).map_err(io("cannot create", dir))?;
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
            Ok(())
        }
        Err(e) => Err(io("cannot inspect", dir)(e)),
        Ok(meta) => {
            // The root itself may be a link the admin made on purpose; follow that one.
            let meta = if meta.file_type().is_symlink() {
                fs::metadata(dir).map_err(io("cannot inspect", dir))?
            } else {
                meta
            };
            if !meta.is_dir() {
                return Err(StateError::Unsafe {
                    path: dir.to_owned(),
                    what: "is not a directory",
                });
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt as _;
                let (owner, me) = (meta.uid(), current_uid());
                if owner != me {
                    return Err(StateError::NotOwned {
                        path: dir.to_owned(),
                        owner,
                        me,
                    });
                }
                if meta.mode() & 0o077 != 0 {
                    tracing::warn!(
                        path = %dir.display(),
                        mode = format!("{:o}", meta.mode() & 0o777),
                        "the state directory is readable by other users; `chmod 700` it (left as it is)"
                    );
                }
            }
            Ok(())
        }
    }
}

/// The local state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// The platform data directory of application `app` (e.g. `~/.local/share/<app>` on
    /// Linux).
    pub fn default_location(app: &str) -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", app).map(|d| d.data_dir().to_owned())
    }

    /// Opens (creating when needed, mode 0700) the state directory at `root`. An existing
    /// directory must belong to the current user; its mode is left as it is.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StateError> {
        let root = root.into();
        ensure_private_dir(&root)?;
        for sub in ["sessions", "ledger", "locks", "plans"] {
            let dir = root.join(sub);
            if fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(StateError::Unsafe {
                    path: dir,
                    what: "is a symbolic link",
                });
            }
            ensure_private_dir(&dir)?;
        }
        Ok(StateDir { root })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Stores a session report (dry runs and failed runs included).
    pub fn save_session(&self, report: &SessionReport) -> Result<PathBuf, StateError> {
        let path = self
            .root
            .join("sessions")
            .join(format!("{}.json", report.id));
        write_json_atomic(&path, report)?;
        Ok(path)
    }

    /// Every stored session, newest first.
    pub fn sessions(&self) -> Result<Vec<SessionReport>, StateError> {
        let dir = self.root.join("sessions");
        let mut reports = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io("cannot read", &dir))? {
            let path = entry.map_err(io("cannot read", &dir))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                reports.push(read_json::<SessionReport>(&path)?);
            }
        }
        reports.sort_by(|a, b| {
            b.started_at
                .cmp(&a.started_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok(reports)
    }

    /// One session by id (a unique prefix of the id is enough).
    pub fn session(&self, id: &str) -> Result<SessionReport, StateError> {
        let exact = self.root.join("sessions").join(format!("{id}.json"));
        if exact.is_file() {
            return read_json(&exact);
        }
        let matches: Vec<SessionReport> = self
            .sessions()?
            .into_iter()
            .filter(|r| r.id.to_string().starts_with(id))
            .collect();
        match matches.len() {
            1 => Ok(matches
                .into_iter()
                .next()
                .ok_or_else(|| StateError::NoSuchSession(id.to_owned()))?),
            _ => Err(StateError::NoSuchSession(id.to_owned())),
        }
    }

    /// The ledger of one integration (with any intents a killed run left unconfirmed).
    pub fn ledger(&self, integration: &str) -> Result<Ledger, StateError> {
        let path = self.ledger_path(integration);
        match fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ledger::default()),
            _ => read_json(&path),
        }
    }

    /// Stores the ledger of one integration (durably: file and directory synced).
    pub fn save_ledger(&self, integration: &str, ledger: &Ledger) -> Result<(), StateError> {
        write_json_atomic(&self.ledger_path(integration), ledger)
    }

    /// The ledger file of one integration.
    pub fn ledger_path(&self, integration: &str) -> PathBuf {
        self.root
            .join("ledger")
            .join(format!("{}.json", slug(integration)))
    }

    /// Takes the run lock of `integration` (S13: one run at a time). Released on drop, and
    /// by the operating system when the process dies, so a crash never leaves it held.
    /// The lock file is never followed through a symbolic link, and a held lock's file is
    /// never truncated (it names the holder's pid).
    pub fn lock(&self, integration: &str) -> Result<RunLock, StateError> {
        let path = self
            .root
            .join("locks")
            .join(format!("{}.lock", slug(integration)));
        let mut file = no_follow(
            OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true),
        )
        .open(&path)
        .map_err(|e| symlink_or(&path, "cannot open", e))?;
        if !file
            .metadata()
            .map_err(io("cannot inspect", &path))?
            .is_file()
        {
            return Err(StateError::Unsafe {
                path,
                what: "is not a regular file",
            });
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = text
                    .trim()
                    .strip_prefix("pid ")
                    .and_then(|p| p.parse::<u32>().ok())
                    .map_or_else(
                        || "another process".to_owned(),
                        |pid| format!("live process pid {pid}"),
                    );
                return Err(StateError::Locked {
                    integration: integration.to_owned(),
                    path,
                    holder,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io("cannot lock", &path)(e)),
        }
        // Who holds it, for people looking at a stuck lock (only now that it is ours).
        let _ = file.set_len(0);
        let _ = writeln!(file, "pid {}", std::process::id());
        Ok(RunLock { _file: file, path })
    }
}

/// The state directory as a [`StateStore`].
#[async_trait]
impl StateStore for StateDir {
    fn describe(&self) -> String {
        format!("state directory {}", self.root.display())
    }

    async fn lock(&self, integration: &str) -> Result<Box<dyn RunGuard>, StateError> {
        Ok(Box::new(StateDir::lock(self, integration)?))
    }

    async fn ledger(&self, integration: &str) -> Result<Ledger, StateError> {
        StateDir::ledger(self, integration)
    }

    async fn save_ledger(&self, integration: &str, ledger: &Ledger) -> Result<(), StateError> {
        StateDir::save_ledger(self, integration, ledger)
    }

    async fn save_session(&self, report: &SessionReport) -> Result<(), StateError> {
        StateDir::save_session(self, report).map(drop)
    }

    async fn sessions(&self) -> Result<Vec<SessionReport>, StateError> {
        StateDir::sessions(self)
    }

    async fn session(&self, id: &str) -> Result<SessionReport, StateError> {
        StateDir::session(self, id)
    }
}

/// Holds a run lock until dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

impl RunGuard for RunLock {}

impl RunLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A file-name-safe form of an integration name.
fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-').to_owned();
    if s.is_empty() {
        "integration".to_owned()
    } else {
        s
    }
}

/// Writes `value` as pretty JSON to `path` atomically and durably (temporary file in the
/// same directory, fsync, rename, fsync of the directory), with owner-only permissions.
/// A symbolic link at `path` is replaced, never followed.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), StateError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(io("cannot create a file in", dir))?;
    serde_json::to_writer_pretty(&mut tmp, value).map_err(|e| StateError::Io {
        action: "cannot write",
        path: path.to_owned(),
        source: e.into(),
    })?;
    tmp.write_all(b"\n").map_err(io("cannot write", path))?;
    tmp.as_file().sync_all().map_err(io("cannot sync", path))?;
    tmp.persist(path).map_err(|e| StateError::Io {
        action: "cannot replace",
        path: path.to_owned(),
        source: e.error,
    })?;
    sync_dir(dir)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, StateError> {
    let mut bytes = Vec::new();
    open_read(path)?
        .read_to_end(&mut bytes)
        .map_err(io("cannot read", path))?;
    serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_engine::Collection;

    #[test]
    fn ledger_round_trip_and_atomic_write() {
        use sync_engine::{ApplyResult, LedgerEntry};
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::open(dir.path()).expect("open");
        let mut ledger = state.ledger("Directory users").expect("empty ledger");
        assert!(!ledger.contains(Collection::Users, "42"));
        let entry = LedgerEntry {
            collection: Collection::Users,
            key: "U1".into(),
            id: "42".into(),
        };
        let mut result = ApplyResult {
            collection: Collection::Users,
            changes: Vec::new(),
            created: 0,
            updated: 0,
            deactivated: 1,
            reactivated: 0,
            failed: 0,
            deactivated_records: vec![entry.clone()],
            reactivated_records: Vec::new(),
        };
        ledger.record(&result);
        state.save_ledger("Directory users", &ledger).expect("save");
        let mut again = state.ledger("Directory users").expect("load");
        assert!(again.contains(Collection::Users, "42"));
        assert!(!again.contains(Collection::SaasUsers, "42"));
        result.deactivated_records.clear();
        result.reactivated_records.push(entry);
        again.record(&result);
        assert!(
            !again.contains(Collection::Users, "42"),
            "reactivation clears the mark"
        );
        let files: Vec<_> = fs::read_dir(dir.path().join("ledger"))
            .expect("ls")
            .collect();
        assert_eq!(files.len(), 1, "no temporary files left behind");
    }

    #[test]
    fn run_lock_is_exclusive_and_released_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::open(dir.path()).expect("open");
        let first = state.lock("Directory users").expect("first lock");
        let second = state.lock("Directory users");
        assert!(
            matches!(second, Err(StateError::Locked { .. })),
            "{second:?}"
        );
        assert!(state.lock("Other").is_ok(), "locks are per integration");
        drop(first);
        assert!(state.lock("Directory users").is_ok(), "released on drop");
    }

    #[test]
    fn corrupt_ledger_is_reported_with_its_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::open(dir.path()).expect("open");
        fs::write(dir.path().join("ledger/directory-users.json"), b"{not json").expect("write");
        let e = state.ledger("Directory users").expect_err("corrupt");
        assert!(
            e.to_string().contains("directory-users.json is corrupt"),
            "{e}"
        );
    }

    #[test]
    fn a_held_lock_names_its_pid_and_is_not_truncated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::open(dir.path()).expect("open");
        let held = state.lock("Directory users").expect("first lock");
        let e = state.lock("Directory users").expect_err("held");
        let text = e.to_string();
        assert!(
            text.contains(&format!("live process pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("deleting the file is not the fix"), "{text}");
        assert_eq!(
            fs::read_to_string(held.path()).expect("lock file"),
            format!("pid {}\n", std::process::id())
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_never_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::open(dir.path().join("state")).expect("open");
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").expect("write");
        let lock = state.path().join("locks/directory-users.lock");
        std::os::unix::fs::symlink(&victim, &lock).expect("symlink");
        let e = state.lock("Directory users").expect_err("refused");
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        let ledger = state.ledger_path("Directory users");
        std::os::unix::fs::symlink(&victim, &ledger).expect("symlink");
        let e = state.ledger("Directory users").expect_err("refused");
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        // Saving replaces the link itself.
        state
            .save_ledger("Directory users", &Ledger::default())
            .expect("save");
        assert_eq!(fs::read(&victim).expect("victim"), b"precious");
        assert!(!fs::symlink_metadata(&ledger).expect("ledger").is_symlink());
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_directory_keeps_its_mode_and_a_foreign_one_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let mine = dir.path().join("mine");
        fs::create_dir(&mine).expect("mkdir");
        fs::set_permissions(&mine, fs::Permissions::from_mode(0o750)).expect("chmod");
        StateDir::open(&mine).expect("open");
        let mode = fs::metadata(&mine).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o750, "not changed");
        let fresh = dir.path().join("fresh");
        StateDir::open(&fresh).expect("open");
        let mode = fs::metadata(&fresh).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "created private");

        let foreign = dir.path().join("foreign");
        fs::create_dir(&foreign).expect("mkdir");
        fs::set_permissions(&foreign, fs::Permissions::from_mode(0o755)).expect("chmod");
        if let Err(e) = std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)) {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("skipped the foreign-owner part: cannot chown to uid 65534 ({e})");
            }
            return;
        }
        let e = StateDir::open(&foreign).expect_err("refused");
        assert!(e.to_string().contains("is owned by uid 65534"), "{e}");
        let mode = fs::metadata(&foreign).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o755, "left alone");
        assert_eq!(fs::read_dir(&foreign).expect("ls").count(), 0);
    }
}
