//! Local state: session reports, the ledger of records this integration deactivated, and
//! the per-integration run lock. Everything is written atomically (temporary file, fsync,
//! rename), so a crash never leaves a half-written file behind.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sync_engine::{ApplyResult, Collection, SessionReport, TargetRecord};

/// A local-state failure.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// File system trouble, with the path involved.
    #[error("{action} {path}: {source}")]
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
    #[error("{path} is corrupt: {source}")]
    Corrupt {
        /// Which file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Another run of the same integration holds the lock.
    #[error(
        "another run of integration \"{integration}\" is in progress (lock {path}); if no run \
         is active (e.g. after a crash), delete that file to force-unlock"
    )]
    Locked {
        /// The integration.
        integration: String,
        /// The lock file.
        path: PathBuf,
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

/// The local state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// The platform data directory (e.g. `~/.local/share/quip-oomnitza` on Linux).
    pub fn default_location() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "quip-oomnitza").map(|d| d.data_dir().to_owned())
    }

    /// Opens (creating when needed) the state directory at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StateError> {
        let root = root.into();
        for sub in ["sessions", "ledger", "locks", "plans"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Reports name people; keep the directory private to its owner.
            fs::set_permissions(&root, fs::Permissions::from_mode(0o700))
                .map_err(io("cannot set permissions on", &root))?;
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

    /// The ledger of one integration.
    pub fn ledger(&self, integration: &str) -> Result<Ledger, StateError> {
        let path = self.ledger_path(integration);
        if path.exists() {
            read_json(&path)
        } else {
            Ok(Ledger::default())
        }
    }

    /// Stores the ledger of one integration.
    pub fn save_ledger(&self, integration: &str, ledger: &Ledger) -> Result<(), StateError> {
        write_json_atomic(&self.ledger_path(integration), ledger)
    }

    fn ledger_path(&self, integration: &str) -> PathBuf {
        self.root
            .join("ledger")
            .join(format!("{}.json", slug(integration)))
    }

    /// Takes the run lock of `integration` (S13: one run at a time). Released on drop, and
    /// by the operating system when the process dies, so a crash never leaves it held.
    pub fn lock(&self, integration: &str) -> Result<RunLock, StateError> {
        let path = self
            .root
            .join("locks")
            .join(format!("{}.lock", slug(integration)));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("cannot open", &path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(StateError::Locked {
                    integration: integration.to_owned(),
                    path,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io("cannot lock", &path)(e)),
        }
        // Who holds it, for people looking at a stuck lock.
        let _ = file.set_len(0);
        let _ = writeln!(file, "pid {}", std::process::id());
        Ok(RunLock { _file: file, path })
    }
}

/// Holds a run lock until dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Which records this integration deactivated, per collection (S5: only those are
/// reactivated). Keyed by the target's record id, with the sync key alongside for people
/// reading the file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ledger {
    /// Target id → sync key of every record this integration deactivated, by collection.
    pub deactivated: BTreeMap<Collection, BTreeMap<String, String>>,
}

impl Ledger {
    /// True when this integration deactivated the record with target id `id`.
    pub fn contains(&self, collection: Collection, id: &str) -> bool {
        self.deactivated
            .get(&collection)
            .is_some_and(|m| m.contains_key(id))
    }

    /// Records what one apply step deactivated and reactivated.
    pub fn record(&mut self, result: &ApplyResult) {
        for e in &result.deactivated_records {
            self.deactivated
                .entry(e.collection)
                .or_default()
                .insert(e.id.to_string(), e.key.to_string());
        }
        for e in &result.reactivated_records {
            if let Some(m) = self.deactivated.get_mut(&e.collection) {
                m.remove(e.id.as_str());
            }
        }
    }
}

impl sync_engine::Ledger for Ledger {
    fn deactivated_by_sync(&self, collection: Collection, record: &TargetRecord) -> bool {
        self.contains(collection, &record.id)
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

/// Writes `value` as pretty JSON to `path` atomically (temporary file in the same
/// directory, fsync, rename), with owner-only permissions.
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
    Ok(())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, StateError> {
    let bytes = fs::read(path).map_err(io("cannot read", path))?;
    serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_round_trip_and_atomic_write() {
        use sync_engine::{ApplyResult, LedgerEntry};
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::open(dir.path()).expect("open");
        let mut ledger = state.ledger("Quip users").expect("empty ledger");
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
        state.save_ledger("Quip users", &ledger).expect("save");
        let mut again = state.ledger("Quip users").expect("load");
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
        let first = state.lock("Quip users").expect("first lock");
        let second = state.lock("Quip users");
        assert!(
            matches!(second, Err(StateError::Locked { .. })),
            "{second:?}"
        );
        assert!(state.lock("Other").is_ok(), "locks are per integration");
        drop(first);
        assert!(state.lock("Quip users").is_ok(), "released on drop");
    }

    #[test]
    fn corrupt_ledger_is_reported_with_its_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::open(dir.path()).expect("open");
        fs::write(dir.path().join("ledger/quip-users.json"), b"{not json").expect("write");
        let e = state.ledger("Quip users").expect_err("corrupt");
        assert!(e.to_string().contains("quip-users.json is corrupt"), "{e}");
    }
}
