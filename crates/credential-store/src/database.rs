//! The database provider of the cloud service.
//!
//! The cloud store (crate `sync-store`) implements [`CredentialDatabase`]: four
//! owner-scoped operations on opaque rows of [`SealedCredential`] (clear metadata for
//! listings plus a [`SealedSecret`]). [`DatabaseProvider`] does the encryption: it seals
//! the whole credential under the master key (from the environment, see
//! [`MasterKey::from_env`]) with the owner and name as associated data, and it only ever
//! asks the database for its own owner's rows. The sealed payload is authoritative; the
//! clear metadata only serves listings.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::error::{CredentialError, Result};
use crate::model::{Credential, CredentialMetadata};
use crate::provider::CredentialProvider;
use crate::sealed::{MasterKey, SealedSecret};
use crate::stored::{Stored, json_position, to_json_zeroizing};

/// One stored row: metadata in clear, the credential sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SealedCredential {
    /// Name, owner, kind settings, timestamps (no secrets).
    pub metadata: CredentialMetadata,
    /// The whole credential, sealed for `metadata.owner` / `metadata.name`.
    pub sealed: SealedSecret,
}

impl SealedCredential {
    /// A row.
    pub fn new(metadata: CredentialMetadata, sealed: SealedSecret) -> Self {
        Self { metadata, sealed }
    }
}

/// Storage of sealed credential rows, implemented by the cloud database. Every operation
/// is scoped to an owner; rows of other owners must be neither returned nor changed.
///
/// Implementations report failures with [`CredentialError::database`] (or
/// [`CredentialError::unavailable`] when the database cannot be reached, so a chain can go
/// on).
#[async_trait]
pub trait CredentialDatabase: Send + Sync {
    /// The row of `owner` called `name`, if any.
    async fn fetch(&self, owner: &str, name: &str) -> Result<Option<SealedCredential>>;
    /// Inserts or replaces the row of `owner` called `row.metadata.name`.
    async fn upsert(&self, owner: &str, row: SealedCredential) -> Result<()>;
    /// Deletes the row; `false` if there was none.
    async fn remove(&self, owner: &str, name: &str) -> Result<bool>;
    /// Metadata of all rows of `owner`.
    async fn list(&self, owner: &str) -> Result<Vec<CredentialMetadata>>;
}

#[async_trait]
impl<D: CredentialDatabase + ?Sized> CredentialDatabase for Arc<D> {
    async fn fetch(&self, owner: &str, name: &str) -> Result<Option<SealedCredential>> {
        (**self).fetch(owner, name).await
    }
    async fn upsert(&self, owner: &str, row: SealedCredential) -> Result<()> {
        (**self).upsert(owner, row).await
    }
    async fn remove(&self, owner: &str, name: &str) -> Result<bool> {
        (**self).remove(owner, name).await
    }
    async fn list(&self, owner: &str) -> Result<Vec<CredentialMetadata>> {
        (**self).list(owner).await
    }
}

/// A [`CredentialDatabase`] in memory: for tests, demos and as a reference for real
/// implementations.
#[derive(Default)]
pub struct InMemoryDatabase {
    rows: Mutex<BTreeMap<(String, String), SealedCredential>>,
}

impl InMemoryDatabase {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every row (to inspect what is at rest).
    pub fn rows(&self) -> Vec<SealedCredential> {
        self.lock().values().cloned().collect()
    }

    /// Replaces a row as is, bypassing the provider (to simulate tampering in tests).
    pub fn insert_raw(&self, owner: &str, row: SealedCredential) {
        self.lock()
            .insert((owner.to_owned(), row.metadata.name.clone()), row);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), SealedCredential>> {
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for InMemoryDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryDatabase")
            .field("rows", &self.lock().len())
            .finish()
    }
}

#[async_trait]
impl CredentialDatabase for InMemoryDatabase {
    async fn fetch(&self, owner: &str, name: &str) -> Result<Option<SealedCredential>> {
        Ok(self
            .lock()
            .get(&(owner.to_owned(), name.to_owned()))
            .cloned())
    }

    async fn upsert(&self, owner: &str, row: SealedCredential) -> Result<()> {
        self.insert_raw(owner, row);
        Ok(())
    }

    async fn remove(&self, owner: &str, name: &str) -> Result<bool> {
        Ok(self
            .lock()
            .remove(&(owner.to_owned(), name.to_owned()))
            .is_some())
    }

    async fn list(&self, owner: &str) -> Result<Vec<CredentialMetadata>> {
        Ok(self
            .lock()
            .iter()
            .filter(|((o, _), _)| o == owner)
            .map(|(_, row)| row.metadata.clone())
            .collect())
    }
}

/// The credentials of one owner in a [`CredentialDatabase`], sealed with a
/// [`MasterKey`].
pub struct DatabaseProvider<D> {
    db: Arc<D>,
    owner: String,
    master: Arc<MasterKey>,
}

impl<D> Clone for DatabaseProvider<D> {
    fn clone(&self) -> Self {
        Self {
            db: Arc::clone(&self.db),
            owner: self.owner.clone(),
            master: Arc::clone(&self.master),
        }
    }
}

impl<D: CredentialDatabase> DatabaseProvider<D> {
    /// The credentials of `owner` in `db`.
    pub fn new(db: Arc<D>, owner: impl Into<String>, master: Arc<MasterKey>) -> Self {
        Self {
            db,
            owner: owner.into(),
            master,
        }
    }

    /// The same database and key, scoped to another owner.
    #[must_use]
    pub fn for_owner(&self, owner: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            ..self.clone()
        }
    }

    /// The owner this provider is scoped to.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    fn open(&self, name: &str, row: &SealedCredential) -> Result<Credential> {
        let plain = row.sealed.open(&self.master, &self.owner, name)?;
        let stored: Stored = serde_json::from_slice(&plain).map_err(|e| {
            CredentialError::invalid(name, format!("sealed payload: {}", json_position(&e)))
        })?;
        if stored.owner != self.owner || stored.name != name {
            return Err(CredentialError::invalid(
                name,
                "sealed payload names another owner or credential",
            ));
        }
        stored.into_credential()
    }
}

impl<D> fmt::Debug for DatabaseProvider<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseProvider")
            .field("owner", &self.owner)
            .field("master", &self.master)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<D: CredentialDatabase + 'static> CredentialProvider for DatabaseProvider<D> {
    fn label(&self) -> String {
        format!("database (owner `{}`)", self.owner)
    }

    async fn get(&self, name: &str) -> Result<Credential> {
        match self.db.fetch(&self.owner, name).await? {
            Some(row) => self.open(name, &row),
            None => Err(CredentialError::not_found(self.label(), name)),
        }
    }

    async fn put(&self, credential: &Credential) -> Result<()> {
        if credential.owner() != self.owner {
            return Err(CredentialError::invalid(
                credential.name(),
                format!(
                    "belongs to owner `{}`, but this store is scoped to `{}`",
                    credential.owner(),
                    self.owner
                ),
            ));
        }
        let now = Utc::now();
        let created_at = match self.db.fetch(&self.owner, credential.name()).await? {
            Some(existing) => existing.metadata.created_at,
            None => now,
        };
        let credential = credential.clone().with_timestamps(created_at, now);
        let plain = to_json_zeroizing(&Stored::from_credential(&credential));
        let sealed = SealedSecret::seal(&self.master, &self.owner, credential.name(), &plain)?;
        self.db
            .upsert(
                &self.owner,
                SealedCredential::new(credential.metadata(), sealed),
            )
            .await
    }

    async fn delete(&self, name: &str) -> Result<()> {
        if self.db.remove(&self.owner, name).await? {
            Ok(())
        } else {
            Err(CredentialError::not_found(self.label(), name))
        }
    }

    async fn list(&self) -> Result<Vec<CredentialMetadata>> {
        let mut rows = self.db.list(&self.owner).await?;
        rows.retain(|m| m.owner == self.owner);
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(rows)
    }
}
