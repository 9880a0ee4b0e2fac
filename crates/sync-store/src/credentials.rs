//! Sealed credential rows for credential-store's [`DatabaseProvider`]: the store keeps the
//! clear metadata (for listings) and the sealed bytes with the id of the master key that
//! sealed them, and never sees a secret. `owner` is the owner's id.
//!
//! [`DatabaseProvider`]: credential_store::DatabaseProvider

use async_trait::async_trait;
use credential_store::{
    CredentialDatabase, CredentialError, CredentialMetadata, MasterKey, SealedCredential,
    SealedSecret,
};
use sqlx::Row as _;

use crate::db::Store;
use crate::error::Result;

fn db_err(e: impl std::error::Error + Send + Sync + 'static) -> CredentialError {
    CredentialError::database(e)
}

fn metadata_of(text: &str, name: &str) -> credential_store::Result<CredentialMetadata> {
    serde_json::from_str(text).map_err(|e| {
        CredentialError::database(crate::StoreError::corrupt(
            "credential metadata",
            name,
            format!("line {} column {}", e.line(), e.column()),
        ))
    })
}

#[async_trait]
impl CredentialDatabase for Store {
    async fn fetch(
        &self,
        owner: &str,
        name: &str,
    ) -> credential_store::Result<Option<SealedCredential>> {
        let row = sqlx::query(
            "SELECT metadata, sealed FROM credentials WHERE owner_id = $1 AND name = $2",
        )
        .bind(owner)
        .bind(name)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| db_err(self.db(e)))?;
        let Some(row) = row else { return Ok(None) };
        let metadata: String = row.try_get("metadata").map_err(|e| db_err(self.db(e)))?;
        let sealed: Vec<u8> = row.try_get("sealed").map_err(|e| db_err(self.db(e)))?;
        Ok(Some(SealedCredential::new(
            metadata_of(&metadata, name)?,
            SealedSecret::from_bytes(&sealed)?,
        )))
    }

    async fn upsert(&self, owner: &str, row: SealedCredential) -> credential_store::Result<()> {
        let metadata = serde_json::to_string(&row.metadata).map_err(db_err)?;
        sqlx::query(
            "INSERT INTO credentials (owner_id, name, metadata, sealed, key_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (owner_id, name) DO UPDATE SET metadata = excluded.metadata, \
               sealed = excluded.sealed, key_id = excluded.key_id, updated_at = excluded.updated_at",
        )
        .bind(owner)
        .bind(&row.metadata.name)
        .bind(metadata)
        .bind(row.sealed.to_bytes())
        .bind(row.sealed.key_id())
        .bind(row.metadata.created_at.timestamp_millis())
        .bind(row.metadata.updated_at.timestamp_millis())
        .execute(self.pool())
        .await
        .map_err(|e| db_err(self.db(e)))?;
        Ok(())
    }

    async fn remove(&self, owner: &str, name: &str) -> credential_store::Result<bool> {
        let done = sqlx::query("DELETE FROM credentials WHERE owner_id = $1 AND name = $2")
            .bind(owner)
            .bind(name)
            .execute(self.pool())
            .await
            .map_err(|e| db_err(self.db(e)))?;
        Ok(done.rows_affected() == 1)
    }

    async fn list(&self, owner: &str) -> credential_store::Result<Vec<CredentialMetadata>> {
        let rows =
            sqlx::query("SELECT name, metadata FROM credentials WHERE owner_id = $1 ORDER BY name")
                .bind(owner)
                .fetch_all(self.pool())
                .await
                .map_err(|e| db_err(self.db(e)))?;
        rows.iter()
            .map(|row| {
                let name: String = row.try_get("name").map_err(|e| db_err(self.db(e)))?;
                let text: String = row.try_get("metadata").map_err(|e| db_err(self.db(e)))?;
                metadata_of(&text, &name)
            })
            .collect()
    }
}

impl Store {
    /// Re-wraps every credential sealed under `old` with `new` (master key rotation): the
    /// encrypted data is unchanged, only each row's small data key is wrapped again. Rows
    /// already under another key are left alone, so an interrupted rotation can be run
    /// again. Returns how many rows were re-wrapped.
    pub async fn rotate_master_key(&self, old: &MasterKey, new: &MasterKey) -> Result<usize> {
        let rows = sqlx::query("SELECT owner_id, name, sealed FROM credentials WHERE key_id = $1")
            .bind(old.id())
            .fetch_all(self.pool())
            .await
            .map_err(|e| self.db(e))?;
        let mut done = 0;
        for row in rows {
            let owner: String = row.try_get("owner_id").map_err(|e| self.db(e))?;
            let name: String = row.try_get("name").map_err(|e| self.db(e))?;
            let sealed: Vec<u8> = row.try_get("sealed").map_err(|e| self.db(e))?;
            let rewrapped = SealedSecret::from_bytes(&sealed)?.rewrap(old, new, &owner, &name)?;
            let changed = sqlx::query(
                "UPDATE credentials SET sealed = $1, key_id = $2 \
                 WHERE owner_id = $3 AND name = $4 AND key_id = $5",
            )
            .bind(rewrapped.to_bytes())
            .bind(new.id())
            .bind(&owner)
            .bind(&name)
            .bind(old.id())
            .execute(self.pool())
            .await
            .map_err(|e| self.db(e))?;
            done += usize::try_from(changed.rows_affected()).unwrap_or(0);
        }
        Ok(done)
    }

    /// How many credentials are sealed under each master key id (to follow a rotation).
    pub async fn credential_key_ids(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT key_id, COUNT(*) AS n FROM credentials GROUP BY key_id ORDER BY key_id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        rows.iter()
            .map(|r| Ok((r.try_get("key_id")?, r.try_get("n")?)))
            .collect::<sqlx::Result<_>>()
            .map_err(|e| self.db(e))
    }
}
