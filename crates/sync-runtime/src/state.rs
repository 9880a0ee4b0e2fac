//! Local state: session reports, the ledger of records this integration deactivated (with
//! its write-ahead intents, sync-safety S15), and the per-integration run lock.
//!
//! Every file is written atomically and durably: temporary file in the same directory,
//! fsync, rename, fsync of the directory; so a crash never leaves a half-written file
//! behind and a rename that was reported done survives a power loss. Files are opened
//! with `O_NOFOLLOW` (a symbolic link planted in the directory is never followed), and a
//! directory owned by another user is refused rather than adopted.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use sync_engine::{
    AppliedChange, ApplyResult, Change, ChangeKind, Collection, Operation, SessionReport,
    TargetRecord,
};

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
    /// The platform data directory (e.g. `~/.local/share/quip-oomnitza` on Linux).
    pub fn default_location() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "quip-oomnitza").map(|d| d.data_dir().to_owned())
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

/// A write this integration is about to send (or sent without seeing the answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// `deactivate` or `reactivate`.
    pub kind: ChangeKind,
    /// The record's sync key.
    pub key: String,
}

/// Which records this integration deactivated, per collection (S5: only those are
/// reactivated). Keyed by the target's record id, with the sync key alongside for people
/// reading the file. Also the write-ahead log of the run in progress (S15): deactivations,
/// reactivations and creates recorded before they are sent and confirmed after; a run
/// killed in between leaves them `pending` for the next run to reconcile.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ledger {
    /// Target id → sync key of every record this integration deactivated, by collection.
    pub deactivated: BTreeMap<Collection, BTreeMap<String, String>>,
    /// Target id → deactivation or reactivation sent but not confirmed, by collection.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<Collection, BTreeMap<String, Intent>>,
    /// Sync keys of creates sent but not confirmed, by collection.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending_creates: BTreeMap<Collection, BTreeSet<String>>,
}

impl Ledger {
    /// True when this integration deactivated the record with target id `id`.
    pub fn contains(&self, collection: Collection, id: &str) -> bool {
        self.deactivated
            .get(&collection)
            .is_some_and(|m| m.contains_key(id))
    }

    /// True when a run left writes unconfirmed.
    pub fn has_pending(&self) -> bool {
        self.pending.values().any(|m| !m.is_empty())
            || self.pending_creates.values().any(|s| !s.is_empty())
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

    /// Records the intents of a batch about to be sent. True when anything was added
    /// (updates leave nothing a later run relies on).
    pub fn intend(&mut self, collection: Collection, batch: &[Change]) -> bool {
        let mut added = false;
        for c in batch {
            match &c.op {
                Operation::Deactivate { id } | Operation::Reactivate { id, .. } => {
                    self.pending.entry(collection).or_default().insert(
                        id.to_string(),
                        Intent {
                            kind: ChangeKind::of(&c.op),
                            key: c.key.to_string(),
                        },
                    );
                    added = true;
                }
                Operation::Create { .. } => {
                    self.pending_creates
                        .entry(collection)
                        .or_default()
                        .insert(c.key.to_string());
                    added = true;
                }
                Operation::Update { .. } => {}
            }
        }
        added
    }

    /// Confirms a batch's outcomes: applied deactivations enter the ledger, applied
    /// reactivations leave it. A failed change keeps its intent (the target may have
    /// applied it anyway, e.g. a 5xx after the write): the next run reconciles it.
    pub fn confirm(&mut self, collection: Collection, applied: &[AppliedChange]) {
        for c in applied.iter().filter(|c| c.is_done()) {
            match (c.kind, &c.id) {
                (ChangeKind::Deactivate, Some(id)) => {
                    self.unpend(collection, id);
                    self.deactivated
                        .entry(collection)
                        .or_default()
                        .insert(id.to_string(), c.key.to_string());
                }
                (ChangeKind::Reactivate, Some(id)) => {
                    self.unpend(collection, id);
                    if let Some(m) = self.deactivated.get_mut(&collection) {
                        m.remove(id.as_str());
                    }
                }
                (ChangeKind::Create, _) => {
                    if let Some(s) = self.pending_creates.get_mut(&collection) {
                        s.remove(c.key.as_str());
                    }
                }
                _ => {}
            }
        }
    }

    fn unpend(&mut self, collection: Collection, id: &str) {
        if let Some(m) = self.pending.get_mut(&collection) {
            m.remove(id);
        }
    }

    /// Settles the intents a killed run left against what the target showed in a complete
    /// read (`seen_inactive`: the records found inactive among those pending): a pending
    /// deactivation or reactivation whose record is inactive leaves the record in the
    /// ledger (the deactivation happened, or the reactivation did not); otherwise it
    /// leaves the ledger. Unconfirmed creates need nothing: the plan found them by their
    /// sync key (linked, not created again). Returns a note for the report, if any.
    pub fn reconcile(&mut self, seen_inactive: &HashSet<(Collection, String)>) -> Option<String> {
        if !self.has_pending() {
            return None;
        }
        let (mut inactive, mut active) = (0_usize, 0_usize);
        for (collection, intents) in std::mem::take(&mut self.pending) {
            for (id, intent) in intents {
                if seen_inactive.contains(&(collection, id.clone())) {
                    inactive += 1;
                    self.deactivated
                        .entry(collection)
                        .or_default()
                        .insert(id, intent.key);
                } else {
                    active += 1;
                    if let Some(m) = self.deactivated.get_mut(&collection) {
                        m.remove(&id);
                    }
                }
            }
        }
        let creates: usize = std::mem::take(&mut self.pending_creates)
            .values()
            .map(BTreeSet::len)
            .sum();
        Some(format!(
            "an earlier run ended without confirming {} write(s); reconciled against the target: \
             {inactive} record(s) found inactive (kept as deactivated by this sync), {active} \
             found active or gone, {creates} unconfirmed create(s) matched by sync key",
            inactive + active + creates
        ))
    }
}

impl sync_engine::Ledger for Ledger {
    fn deactivated_by_sync(&self, collection: Collection, record: &TargetRecord) -> bool {
        self.contains(collection, &record.id)
            || self
                .pending
                .get(&collection)
                .is_some_and(|m| m.contains_key(record.id.as_str()))
    }
}

/// A [`Ledger`] as the engine reads it while planning, noting which pending intents' records
/// the target shows inactive (for [`Ledger::reconcile`]).
#[derive(Debug)]
pub struct ReconcilingLedger<'a> {
    ledger: &'a Ledger,
    seen_inactive: Mutex<HashSet<(Collection, String)>>,
}

impl<'a> ReconcilingLedger<'a> {
    /// Wraps `ledger`.
    pub fn new(ledger: &'a Ledger) -> Self {
        ReconcilingLedger {
            ledger,
            seen_inactive: Mutex::new(HashSet::new()),
        }
    }

    /// The pending records seen inactive.
    pub fn into_seen(self) -> HashSet<(Collection, String)> {
        self.seen_inactive
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl sync_engine::Ledger for ReconcilingLedger<'_> {
    fn deactivated_by_sync(&self, collection: Collection, record: &TargetRecord) -> bool {
        let pending = self
            .ledger
            .pending
            .get(&collection)
            .is_some_and(|m| m.contains_key(record.id.as_str()));
        if pending && !record.active {
            self.seen_inactive
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert((collection, record.id.to_string()));
        }
        self.ledger.contains(collection, &record.id) || pending
    }
}

/// The write-ahead journal of one run: the ledger, saved durably with every batch's
/// intents before the batch is sent. Confirmations are kept in memory and written with the
/// next batch's intents or by [`Journal::flush`] (one fsync per batch, not per record).
#[derive(Debug)]
pub struct Journal<'a> {
    state: &'a StateDir,
    integration: &'a str,
    inner: Mutex<JournalInner>,
}

#[derive(Debug)]
struct JournalInner {
    ledger: Ledger,
    dirty: bool,
    error: Option<String>,
}

impl<'a> Journal<'a> {
    /// A journal over `ledger` (already reconciled and saved).
    pub fn new(state: &'a StateDir, integration: &'a str, ledger: Ledger) -> Self {
        Journal {
            state,
            integration,
            inner: Mutex::new(JournalInner {
                ledger,
                dirty: false,
                error: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, JournalInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes confirmations not yet on disk; the first error, if any, names the file.
    pub fn flush(&self) -> Result<(), String> {
        let mut inner = self.lock();
        if inner.dirty {
            self.state
                .save_ledger(self.integration, &inner.ledger)
                .map_err(|e| e.to_string())?;
            inner.dirty = false;
        }
        inner.error.clone().map_or(Ok(()), Err)
    }

    /// The ledger as it stands.
    pub fn ledger(&self) -> Ledger {
        self.lock().ledger.clone()
    }
}

impl sync_engine::WriteAhead for Journal<'_> {
    fn intend(&self, collection: Collection, batch: &[Change]) -> Result<(), String> {
        let mut inner = self.lock();
        let added = inner.ledger.intend(collection, batch);
        if added || inner.dirty {
            if let Err(e) = self.state.save_ledger(self.integration, &inner.ledger) {
                let message = format!("the state directory cannot be written: {e}");
                inner.error.get_or_insert_with(|| message.clone());
                return Err(message);
            }
            inner.dirty = false;
        }
        Ok(())
    }

    fn confirm(&self, collection: Collection, applied: &[AppliedChange]) {
        let mut inner = self.lock();
        inner.ledger.confirm(collection, applied);
        inner.dirty = true;
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

    fn deactivate(key: &str, id: &str) -> Change {
        Change {
            key: key.into(),
            op: Operation::Deactivate { id: id.into() },
        }
    }

    fn done(key: &str, kind: ChangeKind, id: &str) -> AppliedChange {
        AppliedChange {
            key: key.into(),
            kind,
            id: Some(id.into()),
            result: sync_engine::OutcomeResult::Done { id: id.into() },
        }
    }

    fn target(id: &str, active: bool) -> TargetRecord {
        TargetRecord {
            id: id.into(),
            key: None,
            fields: sync_engine::Fields::new(),
            active,
            owned: true,
            deactivated_by_sync: false,
        }
    }

    #[test]
    fn journal_writes_intents_before_the_batch_and_confirms_after() {
        use sync_engine::WriteAhead as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::open(dir.path()).expect("open");
        let journal = Journal::new(&state, "Quip users", Ledger::default());
        let batch = [deactivate("U1", "1"), deactivate("U2", "2")];
        journal.intend(Collection::Users, &batch).expect("intend");
        // On disk before anything is sent: a kill now leaves both pending.
        let on_disk = state.ledger("Quip users").expect("load");
        assert_eq!(on_disk.pending[&Collection::Users].len(), 2, "{on_disk:?}");
        assert!(!on_disk.contains(Collection::Users, "1"));
        let failed = AppliedChange {
            result: sync_engine::OutcomeResult::Failed {
                message: "503".to_owned(),
            },
            ..done("U2", ChangeKind::Deactivate, "2")
        };
        journal.confirm(
            Collection::Users,
            &[done("U1", ChangeKind::Deactivate, "1"), failed],
        );
        journal.flush().expect("flush");
        let on_disk = state.ledger("Quip users").expect("load");
        assert!(on_disk.contains(Collection::Users, "1"), "confirmed");
        assert!(
            on_disk.pending[&Collection::Users].contains_key("2"),
            "a failed write stays pending for the next run to reconcile"
        );
        // Updates leave nothing to record: no write at all.
        let update = Change {
            key: "U3".into(),
            op: Operation::Update {
                id: "3".into(),
                set: sync_engine::Fields::new(),
                adopt: false,
            },
        };
        let mut ledger = on_disk.clone();
        assert!(!ledger.intend(Collection::Users, &[update]));
    }

    #[test]
    fn unconfirmed_intents_are_settled_by_what_the_target_shows() {
        use sync_engine::Ledger as _;
        let mut ledger = Ledger::default();
        ledger.intend(
            Collection::Users,
            &[deactivate("U1", "1"), deactivate("U2", "2")],
        );
        ledger.confirm(
            Collection::Users,
            &[done("U4", ChangeKind::Deactivate, "4")],
        );
        ledger.record(&ApplyResult {
            deactivated_records: vec![sync_engine::LedgerEntry {
                collection: Collection::Users,
                key: "U3".into(),
                id: "3".into(),
            }],
            ..ApplyResult::empty(Collection::Users)
        });
        ledger.intend(
            Collection::Users,
            &[
                Change {
                    key: "U3".into(),
                    op: Operation::Reactivate {
                        id: "3".into(),
                        set: sync_engine::Fields::new(),
                    },
                },
                Change {
                    key: "U9".into(),
                    op: Operation::Create {
                        fields: sync_engine::Fields::new(),
                    },
                },
            ],
        );
        let view = ReconcilingLedger::new(&ledger);
        // 1 reached the target (inactive), 2 did not (active), 3's reactivation did not.
        assert!(view.deactivated_by_sync(Collection::Users, &target("1", false)));
        assert!(view.deactivated_by_sync(Collection::Users, &target("3", false)));
        assert!(!view.deactivated_by_sync(Collection::Users, &target("5", false)));
        let seen = view.into_seen();
        assert_eq!(seen.len(), 2);
        let note = ledger.reconcile(&seen).expect("a note");
        assert!(note.contains("2 record(s) found inactive"), "{note}");
        assert!(note.contains("1 unconfirmed create(s)"), "{note}");
        assert!(!ledger.has_pending());
        for (id, expected) in [("1", true), ("2", false), ("3", true), ("4", true)] {
            assert_eq!(ledger.contains(Collection::Users, id), expected, "{id}");
        }
        assert!(ledger.reconcile(&HashSet::new()).is_none(), "nothing left");
    }

    #[test]
    fn a_held_lock_names_its_pid_and_is_not_truncated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::open(dir.path()).expect("open");
        let held = state.lock("Quip users").expect("first lock");
        let e = state.lock("Quip users").expect_err("held");
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
        let lock = state.path().join("locks/quip-users.lock");
        std::os::unix::fs::symlink(&victim, &lock).expect("symlink");
        let e = state.lock("Quip users").expect_err("refused");
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        let ledger = state.ledger_path("Quip users");
        std::os::unix::fs::symlink(&victim, &ledger).expect("symlink");
        let e = state.ledger("Quip users").expect_err("refused");
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        // Saving replaces the link itself.
        state
            .save_ledger("Quip users", &Ledger::default())
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
