//! Credentials in the OS keyring, through [`keyring_core`].
//!
//! keyring-core itself only defines the store interface (plus an in-memory mock); the
//! platform stores are separate crates, and the persistent ones need system services
//! (the freedesktop Secret Service over D-Bus, macOS Keychain, Windows Credential
//! Manager). So this provider takes a keyring-core store from the application:
//!
//! - [`KeyringProvider::new`] with any store (`Arc<keyring_core::CredentialStore>`),
//! - [`KeyringProvider::from_default_store`] with the store the application registered
//!   through `keyring_core::set_default_store` (e.g. a binary built with
//!   `dbus-secret-service-keyring-store` on desktops).
//!
//! With no store (the normal case on a headless server), or when the store reports that
//! the platform storage cannot be reached (`NoStorageAccess`, `PlatformFailure`), every
//! call fails with [`ErrorKind::Unavailable`], so a [`Chain`](crate::Chain) goes on to its
//! next provider.
//!
//! Platform stores can block: the Secret Service store talks to the D-Bus session bus,
//! and a session bus that accepts a connection and never answers would hang the caller for
//! ever. So every call of this provider runs on a detached thread of its own and gives up
//! after a timeout ([`DEFAULT_KEYRING_TIMEOUT`], [`KeyringProvider::with_timeout`]): the
//! call then fails with [`ErrorKind::Unavailable`] (the chain goes on with its next
//! provider), a warning is logged once, and the provider answers "unavailable" at once for
//! the rest of its life instead of queueing more threads behind the stuck one. Opening a
//! store has the same problem; [`connect_store`] opens one the same way. A write that timed
//! out may still land later, when (if) the keyring wakes up.
//!
//! (The kernel keyutils store was considered and left out: it loses its contents at
//! reboot, which would make a file encrypted under a keyring-held key unreadable, and in
//! containers its first write in a process can fail with "access denied".)
//!
//! Each credential is one keyring entry (service: the application's, see [`KeyringProvider::with_service`]; user = credential name)
//! holding the credential as JSON. Because stores cannot enumerate portably, the names are
//! also kept in an index entry (service `<service>#index`, user `names`); updates of
//! the index are not atomic across processes, so `list` may briefly miss a name another
//! process is adding (`get` is unaffected).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use chrono::Utc;
use keyring_core::{CredentialStore, Entry};
use rand::RngCore as _;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{CredentialError, ErrorKind, Result};
use crate::file::FileKey;
use crate::model::{Credential, CredentialMetadata};
use crate::provider::{CredentialProvider, Detached, run_detached};
use crate::stored::{Stored, json_position, to_json_zeroizing};

/// Keyring service name when the application names none ([`KeyringProvider::with_service`]).
pub const DEFAULT_KEYRING_SERVICE: &str = "credential-store";

/// How long one keyring call (or opening a store with [`connect_store`]) may take before
/// the keyring is given up on.
pub const DEFAULT_KEYRING_TIMEOUT: Duration = Duration::from_secs(3);

/// Opens a platform keyring store with `connect` (for example
/// `zbus_secret_service_keyring_store::Store::new`, which connects to the D-Bus session
/// bus) on a detached thread, and gives up after `timeout`: then the result is
/// [`ErrorKind::Unavailable`] and a warning is logged; the thread is never waited for. A
/// store that reports an error is unavailable too (logged at debug level: the normal case
/// on a machine without a keyring service).
pub async fn connect_store<S>(
    timeout: Duration,
    connect: impl FnOnce() -> keyring_core::Result<Arc<S>> + Send + 'static,
) -> Result<Arc<CredentialStore>>
where
    S: keyring_core::api::CredentialStoreApi + Send + Sync + 'static,
{
    const LABEL: &str = "keyring";
    match run_detached("keyring-connect", timeout, connect).await {
        Detached::Finished(Ok(store)) => Ok(store as Arc<CredentialStore>),
        Detached::Finished(Err(e)) => {
            let reason = describe(&e).unwrap_or_else(|| "unrecognised keyring error".into());
            tracing::debug!(%reason, "the OS keyring is unavailable");
            Err(CredentialError::unavailable(LABEL, reason))
        }
        Detached::TimedOut => {
            tracing::warn!(
                "the OS keyring did not answer within {timeout:?}; going on without it \
                 (credentials come from the environment and the credential file)"
            );
            Err(CredentialError::unavailable(
                LABEL,
                format!("did not answer within {timeout:?}"),
            ))
        }
        Detached::Failed(reason) => Err(CredentialError::unavailable(LABEL, reason)),
    }
}

/// Credentials in an OS keyring store; see the [module docs](self).
#[derive(Clone)]
pub struct KeyringProvider {
    store: Option<Arc<CredentialStore>>,
    unavailable_reason: String,
    service: String,
    timeout: Duration,
    /// Set when a call timed out (shared by clones): the store is wedged, later calls
    /// answer "unavailable" at once.
    stalled: Arc<AtomicBool>,
}

#[derive(Serialize, Deserialize)]
struct Record {
    v: u32,
    credential: Stored,
}

const RECORD_VERSION: u32 = 1;

impl KeyringProvider {
    /// A provider on `store`.
    pub fn new(store: Arc<CredentialStore>) -> Self {
        Self {
            store: Some(store),
            unavailable_reason: String::new(),
            service: DEFAULT_KEYRING_SERVICE.to_owned(),
            timeout: DEFAULT_KEYRING_TIMEOUT,
            stalled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A provider on keyring-core's default store; unavailable if the application has not
    /// set one (`keyring_core::set_default_store`).
    pub fn from_default_store() -> Self {
        match keyring_core::get_default_store() {
            Some(store) => Self::new(store),
            None => Self::unavailable("no keyring store is configured on this machine"),
        }
    }

    /// A provider that answers every call with [`ErrorKind::Unavailable`] and `reason`.
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self {
            store: None,
            unavailable_reason: reason.into(),
            service: DEFAULT_KEYRING_SERVICE.to_owned(),
            timeout: DEFAULT_KEYRING_TIMEOUT,
            stalled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Uses another keyring service name (to separate installations or tests).
    #[must_use]
    pub fn with_service(mut self, service: impl Into<String>) -> Self {
        self.service = service.into();
        self
    }

    /// How long one call may take before the keyring is given up on (default
    /// [`DEFAULT_KEYRING_TIMEOUT`]); see the [module docs](self).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether a store is configured (the store may still fail at use).
    pub fn is_available(&self) -> bool {
        self.store.is_some()
    }

    fn store(&self) -> Result<&Arc<CredentialStore>> {
        self.store
            .as_ref()
            .ok_or_else(|| CredentialError::unavailable(self.label(), &self.unavailable_reason))
    }

    /// Runs `work` (blocking keyring access) on a detached thread, within the timeout.
    async fn call<T: Send + 'static>(
        &self,
        name: &str,
        work: impl FnOnce(&Self) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.store()?;
        if self.stalled.load(Ordering::Acquire) {
            return Err(CredentialError::unavailable(
                self.label(),
                format!(
                    "skipped: an earlier call did not answer within {:?}",
                    self.timeout
                ),
            ));
        }
        let this = self.clone();
        match run_detached("keyring", self.timeout, move || work(&this)).await {
            Detached::Finished(result) => result,
            Detached::TimedOut => {
                if !self.stalled.swap(true, Ordering::AcqRel) {
                    tracing::warn!(
                        credential = %name,
                        "the OS keyring did not answer within {:?}; skipping it from now on \
                         and going on with the next credential provider",
                        self.timeout
                    );
                }
                Err(CredentialError::unavailable(
                    self.label(),
                    format!("did not answer within {:?}", self.timeout),
                ))
            }
            Detached::Failed(reason) => Err(ErrorKind::Keyring {
                name: name.to_owned(),
                reason,
            }
            .into()),
        }
    }

    fn entry(&self, service: &str, user: &str) -> Result<Entry> {
        Entry::new_in_store(self.store()?, service, user).map_err(|e| self.map_err(user, e))
    }

    fn index_service(&self) -> String {
        format!("{}#index", self.service)
    }

    fn map_err(&self, name: &str, error: keyring_core::Error) -> CredentialError {
        use keyring_core::Error as K;
        match error {
            K::NoEntry => CredentialError::not_found(self.label(), name),
            K::NoStorageAccess(e) | K::PlatformFailure(e) => {
                CredentialError::unavailable(self.label(), e.to_string())
            }
            K::NoDefaultStore => {
                CredentialError::unavailable(self.label(), "no keyring store is configured")
            }
            other => ErrorKind::Keyring {
                name: name.to_owned(),
                reason: describe(&other).unwrap_or_else(|| "unrecognised keyring error".into()),
            }
            .into(),
        }
    }

    fn read_blocking(&self, name: &str) -> Result<Credential> {
        let entry = self.entry(&self.service, name)?;
        let secret = Zeroizing::new(entry.get_secret().map_err(|e| self.map_err(name, e))?);
        let record: Record = serde_json::from_slice(&secret).map_err(|e| ErrorKind::Keyring {
            name: name.to_owned(),
            reason: format!("stored entry is not a credential: {}", json_position(&e)),
        })?;
        if record.v != RECORD_VERSION {
            return Err(ErrorKind::Keyring {
                name: name.to_owned(),
                reason: format!("stored entry has unsupported version {}", record.v),
            }
            .into());
        }
        record.credential.into_credential()
    }

    fn read_index(&self) -> Result<BTreeSet<String>> {
        let entry = self.entry(&self.index_service(), "names")?;
        match entry.get_password() {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                ErrorKind::Keyring {
                    name: "index".to_owned(),
                    reason: format!("index entry is corrupt: {}", json_position(&e)),
                }
                .into()
            }),
            Err(keyring_core::Error::NoEntry) => Ok(BTreeSet::new()),
            Err(e) => Err(self.map_err("index", e)),
        }
    }

    fn write_index(&self, names: &BTreeSet<String>) -> Result<()> {
        let entry = self.entry(&self.index_service(), "names")?;
        let text = serde_json::to_string(names).expect("a set of strings serializes");
        entry
            .set_password(&text)
            .map_err(|e| self.map_err("index", e))
    }

    fn put_blocking(&self, credential: &Credential) -> Result<()> {
        let mut credential = credential.clone();
        let now = Utc::now();
        match self.read_blocking(credential.name()) {
            Ok(existing) => credential.set_created_at(existing.created_at()),
            Err(e) if e.is_not_found() => credential.set_created_at(now),
            Err(e) if matches!(e.kind(), ErrorKind::Keyring { .. }) => {
                // An unreadable old entry is replaced.
                tracing::warn!(credential = %credential.name(), error = %e, "replacing unreadable keyring entry");
            }
            Err(e) => return Err(e),
        }
        credential.set_updated_at(now);
        let record = Record {
            v: RECORD_VERSION,
            credential: Stored::from_credential(&credential),
        };
        let bytes = to_json_zeroizing(&record);
        let entry = self.entry(&self.service, credential.name())?;
        entry
            .set_secret(&bytes)
            .map_err(|e| self.map_err(credential.name(), e))?;
        let mut names = self.read_index()?;
        if names.insert(credential.name().to_owned()) {
            self.write_index(&names)?;
        }
        Ok(())
    }

    fn delete_blocking(&self, name: &str) -> Result<()> {
        let entry = self.entry(&self.service, name)?;
        let deleted = entry.delete_credential().map_err(|e| self.map_err(name, e));
        let mut names = self.read_index()?;
        if names.remove(name) {
            self.write_index(&names)?;
        }
        deleted
    }

    fn list_blocking(&self) -> Result<Vec<CredentialMetadata>> {
        let mut out = Vec::new();
        for name in self.read_index()? {
            match self.read_blocking(&name) {
                Ok(c) => out.push(c.metadata()),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// A 32-byte key for an encrypted [`FileProvider`](crate::FileProvider), kept in this
    /// keyring under `id` (service `quip-oomnitza#file-key`); created at random on first
    /// use. Lets the credential file be opened without a passphrase on machines that have
    /// a keyring.
    pub async fn file_key(&self, id: &str) -> Result<FileKey> {
        let owned = id.to_owned();
        self.call(id, move |this| this.file_key_blocking(&owned))
            .await
    }

    /// Blocking form of [`KeyringProvider::file_key`], on the calling thread and without
    /// the timeout.
    pub fn file_key_blocking(&self, id: &str) -> Result<FileKey> {
        let entry = self.entry(&format!("{}#file-key", self.service), id)?;
        match entry.get_password() {
            Ok(text) => {
                let text = Zeroizing::new(text);
                let bytes = Zeroizing::new(
                    base64::engine::general_purpose::STANDARD
                        .decode(text.trim())
                        .map_err(|_| ErrorKind::Keyring {
                            name: id.to_owned(),
                            reason: "stored file key is not base64".to_owned(),
                        })?,
                );
                let key: [u8; 32] =
                    bytes
                        .as_slice()
                        .try_into()
                        .map_err(|_| ErrorKind::Keyring {
                            name: id.to_owned(),
                            reason: "stored file key is not 32 bytes".to_owned(),
                        })?;
                Ok(FileKey::raw(key))
            }
            Err(keyring_core::Error::NoEntry) => {
                let mut key = Zeroizing::new([0_u8; 32]);
                rand::rng().fill_bytes(&mut *key);
                let text = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(*key));
                entry.set_password(&text).map_err(|e| self.map_err(id, e))?;
                tracing::info!(key = %id, "created a new credential-file key in the keyring");
                Ok(FileKey::raw(*key))
            }
            Err(e) => Err(self.map_err(id, e)),
        }
    }
}

/// A description of a keyring error that cannot contain stored data. (keyring-core's own
/// `Display` of `Ambiguous` prints the matching entries with `Debug`, which for some
/// stores includes the secret, and `BadDataFormat` prints the platform error with
/// `Debug`.)
fn describe(error: &keyring_core::Error) -> Option<String> {
    use keyring_core::Error as K;
    Some(match error {
        K::NoEntry => "no such entry".to_owned(),
        K::NoDefaultStore => "no default store".to_owned(),
        K::PlatformFailure(e) => format!("platform failure: {e}"),
        K::NoStorageAccess(e) => format!("cannot access platform storage: {e}"),
        K::BadEncoding(_) => "stored data is not valid UTF-8".to_owned(),
        K::BadDataFormat(..) => "stored data is malformed".to_owned(),
        K::BadStoreFormat(reason) => format!("store data is malformed: {reason}"),
        K::TooLong(attr, limit) => format!("`{attr}` is longer than the limit of {limit}"),
        K::Invalid(attr, reason) => format!("`{attr}` is invalid: {reason}"),
        K::Ambiguous(items) => format!("entry matches {} credentials", items.len()),
        K::NotSupportedByStore(what) => format!("not supported by the store: {what}"),
        _ => return None,
    })
}

impl fmt::Debug for KeyringProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("KeyringProvider");
        d.field("service", &self.service)
            .field("timeout", &self.timeout)
            .field(
                "stalled",
                &self.stalled.load(std::sync::atomic::Ordering::Relaxed),
            );
        match &self.store {
            Some(store) => d.field("store", &store.vendor()),
            None => d.field("unavailable", &self.unavailable_reason),
        };
        d.finish()
    }
}

#[async_trait]
impl CredentialProvider for KeyringProvider {
    fn label(&self) -> String {
        "keyring".to_owned()
    }

    async fn get(&self, name: &str) -> Result<Credential> {
        let owned = name.to_owned();
        self.call(name, move |this| this.read_blocking(&owned))
            .await
    }

    async fn put(&self, credential: &Credential) -> Result<()> {
        let credential = credential.clone();
        let name = credential.name().to_owned();
        self.call(&name, move |this| this.put_blocking(&credential))
            .await
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let owned = name.to_owned();
        self.call(name, move |this| this.delete_blocking(&owned))
            .await
    }

    async fn list(&self) -> Result<Vec<CredentialMetadata>> {
        self.call("index", Self::list_blocking).await
    }

    async fn rotate_secret(
        &self,
        name: &str,
        new_secret: SecretString,
    ) -> Result<CredentialMetadata> {
        let mut credential = self.get(name).await?;
        credential.rotate_secret(new_secret)?;
        self.put(&credential).await?;
        self.get(name).await.map(|c| c.metadata())
    }
}
