//! An encrypted local credential file.
//!
//! All credentials live in one file, encrypted with XChaCha20-Poly1305 under a key derived
//! from a passphrase with Argon2id (or a raw 32-byte key, e.g. from the OS keyring). The
//! versioned header is bound to the body as associated data; see [`format`](mod@format) for the
//! layout.
//!
//! Writes are atomic (temporary file in the same directory, fsync, rename, fsync of the
//! directory) and happen under an exclusive advisory lock on a sidecar `<file>.lock`, so
//! concurrent writers — threads or processes — never lose an update or leave a partial
//! file. The file and the lock file are created with mode 0600; a credential file found
//! readable by group or others is changed to 0600 when it is read, with a warning on the
//! [`SECURITY_LOG_TARGET`](crate::SECURITY_LOG_TARGET) log target (or, if its mode cannot
//! be changed, refused with [`ErrorKind::Permissions`]).
//!
//! New passphrases — the one a new file is created under, and the one
//! [`FileProvider::rotate_passphrase`] moves to — must have at least
//! [`MIN_PASSPHRASE_CHARS`] characters and must not be blank ([`ErrorKind::WeakPassphrase`],
//! nothing written). Files created under a shorter passphrase before this rule keep opening.

pub mod format;

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use async_trait::async_trait;
use chrono::Utc;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{CredentialError, ErrorKind, Result};
use crate::model::{Credential, CredentialMetadata};
use crate::provider::{CredentialProvider, run_blocking};
use crate::stored::{Stored, json_position, to_json_zeroizing};
pub use format::DEFAULT_DOMAIN;
pub use format::KdfParams;
use format::{FileSecret, Header, Kdf, Labels};

/// The fewest characters (Unicode scalar values) a new passphrase may have.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// Checks a passphrase that is about to protect a new or re-encrypted credential file:
/// `Err` with the reason (never the passphrase) when it is blank or shorter than
/// [`MIN_PASSPHRASE_CHARS`]. [`FileProvider`] applies the same rule before it writes; call
/// this to refuse early with a message of your own.
///
/// ```
/// use credential_store::file::check_new_passphrase;
/// use secrecy::SecretString;
///
/// assert!(check_new_passphrase(&SecretString::from("")).is_err());
/// assert!(check_new_passphrase(&SecretString::from("short")).is_err());
/// assert!(check_new_passphrase(&SecretString::from("correct horse battery staple")).is_ok());
/// ```
pub fn check_new_passphrase(passphrase: &SecretString) -> std::result::Result<(), String> {
    let text = passphrase.expose_secret();
    if text.trim().is_empty() {
        return Err(if text.is_empty() {
            "it is empty".to_owned()
        } else {
            "it is only white space".to_owned()
        });
    }
    let chars = text.chars().count();
    if chars < MIN_PASSPHRASE_CHARS {
        return Err(format!(
            "it has {chars} characters; new passphrases need at least {MIN_PASSPHRASE_CHARS}"
        ));
    }
    Ok(())
}

/// The key that opens a credential file: a passphrase (stretched with Argon2id) or a raw
/// 32-byte key. `Debug` shows only which of the two it is.
#[derive(Clone)]
pub struct FileKey(KeyMaterial);

#[derive(Clone)]
enum KeyMaterial {
    Passphrase(SecretString),
    Raw(Box<Zeroizing<[u8; 32]>>),
}

impl FileKey {
    /// A passphrase.
    pub fn passphrase(passphrase: SecretString) -> Self {
        Self(KeyMaterial::Passphrase(passphrase))
    }

    /// A raw key (see [`KeyringProvider::file_key`](crate::KeyringProvider::file_key)).
    pub fn raw(key: [u8; 32]) -> Self {
        Self(KeyMaterial::Raw(Box::new(Zeroizing::new(key))))
    }

    /// Refuses a weak passphrase about to protect `path` (raw keys are always accepted).
    fn check_new(&self, path: &Path) -> Result<()> {
        match &self.0 {
            KeyMaterial::Passphrase(p) => check_new_passphrase(p).map_err(|reason| {
                ErrorKind::WeakPassphrase {
                    path: path.to_owned(),
                    reason,
                }
                .into()
            }),
            KeyMaterial::Raw(_) => Ok(()),
        }
    }

    /// The key derivation to record for a new file.
    fn kdf(&self, params: KdfParams) -> Kdf {
        match self.0 {
            KeyMaterial::Passphrase(_) => Kdf::Argon2id(params),
            KeyMaterial::Raw(_) => Kdf::Raw,
        }
    }

    /// The file secret for a header's derivation and salt.
    fn derive(&self, path: &Path, kdf: &Kdf, salt: &[u8; 16]) -> Result<FileSecret> {
        match (&self.0, kdf) {
            (KeyMaterial::Passphrase(p), Kdf::Argon2id(params)) => {
                format::derive_from_passphrase(p, params, salt)
            }
            (KeyMaterial::Raw(k), Kdf::Raw) => Ok(Zeroizing::new(***k)),
            (KeyMaterial::Raw(_), Kdf::Argon2id(_)) => Err(ErrorKind::WrongKey {
                path: path.to_owned(),
                detail: "the file is protected by a passphrase, but a raw key was given".into(),
            }
            .into()),
            (KeyMaterial::Passphrase(_), Kdf::Raw) => Err(ErrorKind::WrongKey {
                path: path.to_owned(),
                detail: "the file is protected by a raw key, but a passphrase was given".into(),
            }
            .into()),
        }
    }
}

impl From<SecretString> for FileKey {
    fn from(passphrase: SecretString) -> Self {
        Self::passphrase(passphrase)
    }
}

impl fmt::Debug for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            KeyMaterial::Passphrase(_) => "FileKey::Passphrase([REDACTED])",
            KeyMaterial::Raw(_) => "FileKey::Raw([REDACTED])",
        })
    }
}

/// The decrypted body.
#[derive(Serialize, Deserialize, Default)]
struct Body {
    credentials: Vec<Stored>,
}

/// Credentials in an encrypted local file; see the [module docs](self).
///
/// Cheap to clone (clones share the key and the derived-key cache). The async
/// [`CredentialProvider`] methods run the file work on tokio's blocking pool; the
/// `*_blocking` methods do the same work on the calling thread.
#[derive(Clone)]
pub struct FileProvider {
    inner: Arc<Inner>,
    labels: Arc<Labels>,
}

struct Inner {
    path: PathBuf,
    lock_path: PathBuf,
    key: RwLock<FileKey>,
    params: KdfParams,
    /// The last derived file secret, by derivation and salt: Argon2id is deliberately slow
    /// and the salt only changes on rotation.
    cache: Mutex<Option<(Kdf, [u8; 16], FileSecret)>>,
}

/// What a loaded file contributes to the next write.
struct Loaded {
    header: Option<Header>,
    secret: Option<FileSecret>,
    body: Body,
}

impl FileProvider {
    /// A provider for the file at `path` (created on first write), opened with `key`. New
    /// files use the default (strong) Argon2id parameters.
    pub fn new(path: impl Into<PathBuf>, key: impl Into<FileKey>) -> Self {
        Self::with_kdf(path, key, KdfParams::default())
    }

    /// Like [`FileProvider::new`] with explicit Argon2id parameters for new files and
    /// passphrase rotations (existing files record their own).
    pub fn with_kdf(path: impl Into<PathBuf>, key: impl Into<FileKey>, params: KdfParams) -> Self {
        let path = path.into();
        let mut lock_name = path.file_name().unwrap_or_default().to_os_string();
        lock_name.push(".lock");
        let lock_path = path.with_file_name(lock_name);
        Self {
            inner: Arc::new(Inner {
                path,
                lock_path,
                key: RwLock::new(key.into()),
                params,
                cache: Mutex::new(None),
            }),
            labels: Arc::new(Labels::new(DEFAULT_DOMAIN)),
        }
    }

    /// Separates this application's files from any other's: the file key's sub-keys are
    /// derived under `domain` (e.g. the application's name), so a file written under one
    /// domain does not open under another (the default is [`DEFAULT_DOMAIN`]).
    #[must_use]
    pub fn with_domain(mut self, domain: &str) -> Self {
        self.labels = Arc::new(Labels::new(domain));
        self
    }

    /// The credential file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The sidecar lock file.
    pub fn lock_path(&self) -> &Path {
        &self.inner.lock_path
    }

    fn key(&self) -> FileKey {
        self.inner
            .key
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The file secret for `header`, from the cache or derived with `key`.
    fn secret_for(&self, key: &FileKey, header: &Header, use_cache: bool) -> Result<FileSecret> {
        if use_cache {
            let cache = self
                .inner
                .cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some((kdf, salt, secret)) = cache.as_ref()
                && *kdf == header.kdf
                && *salt == header.salt
            {
                return Ok(secret.clone());
            }
        }
        let secret = key.derive(&self.inner.path, &header.kdf, &header.salt)?;
        Ok(secret)
    }

    fn remember(&self, header: &Header, secret: &FileSecret) {
        *self
            .inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner) =
            Some((header.kdf, header.salt, secret.clone()));
    }

    /// Reads and decrypts the file with `key` (`None` if it does not exist).
    fn load(&self, key: &FileKey, use_cache: bool) -> Result<Loaded> {
        let path = &self.inner.path;
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Loaded {
                    header: None,
                    secret: None,
                    body: Body::default(),
                });
            }
            Err(e) => return Err(CredentialError::io(path, e)),
        };
        restrict_permissions(path, &file)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| CredentialError::io(path, e))?;
        let header = format::parse_header(path, &bytes)?;
        let secret = self.secret_for(key, &header, use_cache)?;
        let plain = format::decrypt(&self.labels, path, &bytes, &header, &secret)?;
        if use_cache {
            self.remember(&header, &secret);
        }
        let body: Body = serde_json::from_slice(&plain).map_err(|e| {
            CredentialError::tampered(
                path,
                format!(
                    "decrypted body is not a credential list: {}",
                    json_position(&e)
                ),
            )
        })?;
        Ok(Loaded {
            header: Some(header),
            secret: Some(secret),
            body,
        })
    }

    /// Encrypts `body` and replaces the file atomically. Keeps the derivation and salt of
    /// `previous` (so the cached key stays valid), or starts a new file with `key`.
    fn store(
        &self,
        key: &FileKey,
        previous: Option<(&Header, &FileSecret)>,
        body: &Body,
    ) -> Result<()> {
        let (kdf, salt, secret) = if let Some((header, secret)) = previous {
            (header.kdf, header.salt, secret.clone())
        } else {
            key.check_new(&self.inner.path)?;
            let kdf = key.kdf(self.inner.params);
            let salt = format::random_salt();
            let secret = key.derive(&self.inner.path, &kdf, &salt)?;
            (kdf, salt, secret)
        };
        let plain = to_json_zeroizing(body);
        let bytes = format::encode(&self.labels, kdf, salt, &secret, plain);
        write_atomically(&self.inner.path, &bytes)
    }

    /// Runs `f` on the credential list under the exclusive lock and writes the result back
    /// if `f` reports a change.
    fn modify<T>(&self, f: impl FnOnce(&mut Vec<Stored>) -> Result<(T, bool)>) -> Result<T> {
        with_lock(&self.inner.lock_path, true, || {
            let key = self.key();
            let mut loaded = self.load(&key, true)?;
            let (out, changed) = f(&mut loaded.body.credentials)?;
            if changed {
                loaded.body.credentials.sort_by(|a, b| a.name.cmp(&b.name));
                let previous = loaded.header.as_ref().zip(loaded.secret.as_ref());
                self.store(&key, previous, &loaded.body)?;
            }
            Ok(out)
        })
    }

    fn read_all(&self) -> Result<Vec<Stored>> {
        with_lock(&self.inner.lock_path, false, || {
            Ok(self.load(&self.key(), true)?.body.credentials)
        })
    }

    fn not_found(&self, name: &str) -> CredentialError {
        CredentialError::not_found(self.label(), name)
    }

    /// Blocking form of [`CredentialProvider::get`].
    pub fn get_blocking(&self, name: &str) -> Result<Credential> {
        self.read_all()?
            .into_iter()
            .find(|c| c.name == name)
            .ok_or_else(|| self.not_found(name))?
            .into_credential()
    }

    /// Blocking form of [`CredentialProvider::put`]: replaces a credential of the same
    /// name, keeping its creation time; sets the update time to now.
    pub fn put_blocking(&self, credential: &Credential) -> Result<()> {
        let mut stored = Stored::from_credential(credential);
        let now = Utc::now();
        stored.updated_at = now;
        self.modify(|list| {
            if let Some(existing) = list.iter_mut().find(|c| c.name == stored.name) {
                stored.created_at = existing.created_at;
                *existing = stored;
            } else {
                stored.created_at = now;
                list.push(stored);
            }
            Ok(((), true))
        })
    }

    /// Blocking form of [`CredentialProvider::delete`].
    pub fn delete_blocking(&self, name: &str) -> Result<()> {
        self.modify(|list| {
            let before = list.len();
            list.retain(|c| c.name != name);
            if list.len() == before {
                Err(self.not_found(name))
            } else {
                Ok(((), true))
            }
        })
    }

    /// Blocking form of [`CredentialProvider::list`].
    pub fn list_blocking(&self) -> Result<Vec<CredentialMetadata>> {
        let mut out = self
            .read_all()?
            .into_iter()
            .map(|s| s.into_credential().map(|c| c.metadata()))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Blocking form of [`CredentialProvider::rotate_secret`]: replaces the secret of
    /// `name` under the file lock, keeping name, owner, creation time and settings.
    pub fn rotate_secret_blocking(
        &self,
        name: &str,
        new_secret: SecretString,
    ) -> Result<CredentialMetadata> {
        self.modify(|list| {
            let index = list
                .iter()
                .position(|c| c.name == name)
                .ok_or_else(|| self.not_found(name))?;
            // On error nothing is written, so taking the entry out is harmless.
            let mut credential = list.remove(index).into_credential()?;
            credential.rotate_secret(new_secret)?;
            list.insert(index, Stored::from_credential(&credential));
            Ok((credential.metadata(), true))
        })
    }

    /// Re-encrypts the whole file under `new` (a fresh salt, and this provider's Argon2id
    /// parameters for a passphrase), after checking that `old` opens it. From then on
    /// this provider uses `new`. Without a file, only the provider's key changes.
    pub async fn rotate_passphrase(
        &self,
        old: impl Into<FileKey>,
        new: impl Into<FileKey>,
    ) -> Result<()> {
        let this = self.clone();
        let (old, new) = (old.into(), new.into());
        run_blocking(self.label(), move || {
            this.rotate_passphrase_blocking(old, new)
        })
        .await
    }

    /// Blocking form of [`FileProvider::rotate_passphrase`].
    pub fn rotate_passphrase_blocking(
        &self,
        old: impl Into<FileKey>,
        new: impl Into<FileKey>,
    ) -> Result<()> {
        let (old, new) = (old.into(), new.into());
        // Before anything else, so a refused passphrase leaves the file and the provider
        // exactly as they were.
        new.check_new(&self.inner.path)?;
        with_lock(&self.inner.lock_path, true, || {
            let loaded = self.load(&old, false)?;
            if loaded.header.is_some() {
                // `None` as previous: a new salt and the new key's derivation.
                self.store(&new, None, &loaded.body)?;
            }
            *self
                .inner
                .key
                .write()
                .unwrap_or_else(PoisonError::into_inner) = new;
            *self
                .inner
                .cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = None;
            tracing::info!(path = %self.inner.path.display(), "credential file re-encrypted under a new key");
            Ok(())
        })
    }
}

impl fmt::Debug for FileProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileProvider")
            .field("path", &self.inner.path)
            .field("kdf", &self.inner.params)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl CredentialProvider for FileProvider {
    fn label(&self) -> String {
        format!("file {}", self.inner.path.display())
    }

    async fn get(&self, name: &str) -> Result<Credential> {
        let (this, name) = (self.clone(), name.to_owned());
        run_blocking(self.label(), move || this.get_blocking(&name)).await
    }

    async fn put(&self, credential: &Credential) -> Result<()> {
        let (this, credential) = (self.clone(), credential.clone());
        run_blocking(self.label(), move || this.put_blocking(&credential)).await
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let (this, name) = (self.clone(), name.to_owned());
        run_blocking(self.label(), move || this.delete_blocking(&name)).await
    }

    async fn list(&self) -> Result<Vec<CredentialMetadata>> {
        let this = self.clone();
        run_blocking(self.label(), move || this.list_blocking()).await
    }

    async fn rotate_secret(
        &self,
        name: &str,
        new_secret: SecretString,
    ) -> Result<CredentialMetadata> {
        let (this, name) = (self.clone(), name.to_owned());
        run_blocking(self.label(), move || {
            this.rotate_secret_blocking(&name, new_secret)
        })
        .await
    }
}

/// Runs `f` while holding an advisory lock (flock) on the sidecar lock file: shared for
/// reads, exclusive for read-modify-write. flock locks belong to the open file
/// description, so separate calls exclude each other across threads as well as processes.
fn with_lock<T>(path: &Path, exclusive: bool, f: impl FnOnce() -> Result<T>) -> Result<T> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options
        .open(path)
        .map_err(|e| CredentialError::io(path, e))?;
    let mut lock = fd_lock::RwLock::new(file);
    if exclusive {
        let _guard = lock.write().map_err(|e| CredentialError::io(path, e))?;
        f()
    } else {
        let _guard = lock.read().map_err(|e| CredentialError::io(path, e))?;
        f()
    }
}

/// Creates `dir` (and parents) with mode 0700 if it is missing.
fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| CredentialError::io(dir, e))
}

/// Replaces `path` with `bytes`: temporary file (mode 0600) in the same directory, fsync,
/// rename over `path`, fsync of the directory so the rename itself is durable.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    create_private_dir(&dir)?;
    let prefix = format!(
        ".{}.",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(fs::Permissions::from_mode(0o600));
    }
    let mut temp = builder
        .tempfile_in(&dir)
        .map_err(|e| CredentialError::io(&dir, e))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| CredentialError::io(temp.path(), e))?;
    temp.persist(path)
        .map_err(|e| CredentialError::io(path, e.error))?;
    #[cfg(unix)]
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| CredentialError::io(&dir, e))?;
    Ok(())
}

/// Makes an open credential file private: a file that group or others may access (a copy
/// made with a loose umask, an archive restored without modes) is changed to 0600 on the
/// spot, through the open handle, with a warning on the security log target that
/// applications keep visible even when asked to be quiet; one whose mode cannot be changed
/// is refused. (Whoever could read it had only ciphertext, but that is what an offline
/// passphrase guess needs.)
fn restrict_permissions(path: &Path, file: &File) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = file.metadata().map_err(|e| CredentialError::io(path, e))?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            file.set_permissions(fs::Permissions::from_mode(0o600))
                .map_err(|source| ErrorKind::Permissions {
                    path: path.to_owned(),
                    mode,
                    source,
                })?;
            tracing::warn!(
                target: crate::SECURITY_LOG_TARGET,
                path = %path.display(),
                "credential file {} had mode {mode:o}, so other users could read it; changed it to 600",
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, file);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::{CredentialKind, Placement};

    /// A file written under a passphrase shorter than today's minimum (as older versions
    /// allowed) still opens, and keeps its passphrase through later writes: the rule is
    /// for new passphrases only.
    #[test]
    fn files_under_short_passphrases_keep_opening_and_accept_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.qoc");
        let short = SecretString::from("hunter2");
        let params = KdfParams::new(8, 1, 1).unwrap();
        let kdf = Kdf::Argon2id(params);
        let salt = format::random_salt();
        let secret = format::derive_from_passphrase(&short, &params, &salt).unwrap();
        let kind = CredentialKind::api_key(
            "Authorization2",
            Placement::Header,
            None,
            SecretString::from("old-token"),
        )
        .unwrap();
        let credential = Credential::new("crm", "it-ops", kind).unwrap();
        let body = Body {
            credentials: vec![Stored::from_credential(&credential)],
        };
        fs::write(
            &path,
            format::encode(
                &Labels::new(DEFAULT_DOMAIN),
                kdf,
                salt,
                &secret,
                to_json_zeroizing(&body),
            ),
        )
        .unwrap();

        let file = FileProvider::with_kdf(&path, short.clone(), params);
        assert_eq!(file.get_blocking("crm").unwrap().owner(), "it-ops");
        let kind = CredentialKind::api_key("Authorization", Placement::Header, None, short.clone())
            .unwrap();
        file.put_blocking(&Credential::new("wiki", "it-ops", kind).unwrap())
            .unwrap();
        let again = FileProvider::with_kdf(&path, short, params);
        assert_eq!(again.list_blocking().unwrap().len(), 2);
    }
}
