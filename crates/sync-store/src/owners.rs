//! Owners and their API tokens. A token is 32 random bytes shown once; the database keeps
//! only its SHA-256, so a copy of the database authenticates no one.

use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;

use crate::db::{Store, new_id};
use crate::error::{Result, StoreError};
use crate::model::{Owner, TokenInfo, ts};

/// What every token starts with, so a leaked one is easy to recognise in a scan.
pub const TOKEN_PREFIX: &str = "qot_";

fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

impl Store {
    /// The owner called `name`, created when missing.
    pub async fn ensure_owner(&self, name: &str) -> Result<Owner> {
        if name.trim().is_empty() || name.chars().any(char::is_control) {
            return Err(StoreError::invalid(
                "owner name",
                "must be non-empty without control characters",
            ));
        }
        sqlx::query(
            "INSERT INTO owners (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(new_id())
        .bind(name)
        .bind(self.now_ms())
        .execute(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        self.owner_by_name(name)
            .await?
            .ok_or_else(|| StoreError::not_found("owner", name))
    }

    /// The owner called `name`, if any.
    pub async fn owner_by_name(&self, name: &str) -> Result<Option<Owner>> {
        let row = sqlx::query("SELECT id, name, created_at FROM owners WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| self.db(e))?;
        row.map(|r| owner_row(&r))
            .transpose()
            .map_err(|e| self.db(e))
    }

    /// The owner with id `id`.
    pub async fn owner(&self, id: &str) -> Result<Owner> {
        let row = sqlx::query("SELECT id, name, created_at FROM owners WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| self.db(e))?
            .ok_or_else(|| StoreError::not_found("owner", id))?;
        owner_row(&row).map_err(|e| self.db(e))
    }

    /// A new API token for `owner`: returns its id and the token, which is not stored and
    /// cannot be shown again.
    pub async fn create_token(
        &self,
        owner: &Owner,
        admin: bool,
        label: Option<&str>,
    ) -> Result<(String, SecretString)> {
        let mut bytes = [0_u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = format!(
            "{TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        let id = new_id();
        sqlx::query(
            "INSERT INTO api_tokens (id, owner_id, token_sha256, admin, label, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(&owner.id)
        .bind(token_hash(&token))
        .bind(i64::from(admin))
        .bind(label)
        .bind(self.now_ms())
        .execute(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        Ok((id, SecretString::from(token)))
    }

    /// Who `token` belongs to; `None` for an unknown or revoked token.
    pub async fn authenticate(&self, token: &SecretString) -> Result<Option<TokenInfo>> {
        let hash = token_hash(token.expose_secret());
        let row = sqlx::query(
            "SELECT t.id, t.admin, t.label, t.created_at, o.id AS owner_id, o.name, \
                    o.created_at AS owner_created_at \
             FROM api_tokens t JOIN owners o ON o.id = t.owner_id \
             WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        let Some(row) = row else { return Ok(None) };
        let info = (|| -> sqlx::Result<TokenInfo> {
            Ok(TokenInfo {
                id: row.try_get("id")?,
                owner: Owner {
                    id: row.try_get("owner_id")?,
                    name: row.try_get("name")?,
                    created_at: ts(row.try_get("owner_created_at")?),
                },
                admin: row.try_get::<i64, _>("admin")? != 0,
                label: row.try_get("label")?,
                created_at: ts(row.try_get("created_at")?),
            })
        })()
        .map_err(|e| self.db(e))?;
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(self.now_ms())
            .bind(&info.id)
            .execute(self.pool())
            .await
            .map_err(|e| self.db(e))?;
        Ok(Some(info))
    }

    /// Revokes a token of `owner`; false when there was no such live token.
    pub async fn revoke_token(&self, owner: &Owner, token_id: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 \
             WHERE id = $2 AND owner_id = $3 AND revoked_at IS NULL",
        )
        .bind(self.now_ms())
        .bind(token_id)
        .bind(&owner.id)
        .execute(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        Ok(done.rows_affected() == 1)
    }
}

fn owner_row(row: &sqlx::any::AnyRow) -> sqlx::Result<Owner> {
    Ok(Owner {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: ts(row.try_get("created_at")?),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_hash_is_sha256_hex() {
        assert_eq!(
            super::token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
