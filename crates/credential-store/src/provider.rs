//! The one small trait every credential provider implements.

use async_trait::async_trait;
use secrecy::SecretString;

use crate::error::Result;
use crate::model::{Credential, CredentialMetadata};

/// A place credentials live: environment, OS keyring, encrypted file, database.
///
/// Errors follow cargo's credential-provider model: [`NotFound`](crate::ErrorKind::NotFound)
/// when the provider does not hold the name, [`Unavailable`](crate::ErrorKind::Unavailable)
/// when the provider cannot be used on this machine; a [`Chain`](crate::Chain) goes on to
/// the next provider on those two and stops on any other error.
#[async_trait]
pub trait CredentialProvider: Send + Sync {
    /// A short label for messages (`env`, `keyring`, `file /path`, `database`).
    fn label(&self) -> String;

    /// The credential called `name`.
    async fn get(&self, name: &str) -> Result<Credential>;

    /// Stores `credential`, replacing one of the same name. Providers that keep their own
    /// timestamps keep the creation time of the credential replaced and set the update
    /// time to now.
    async fn put(&self, credential: &Credential) -> Result<()>;

    /// Removes the credential called `name` ([`NotFound`](crate::ErrorKind::NotFound) if
    /// there is none).
    async fn delete(&self, name: &str) -> Result<()>;

    /// What the provider holds, without secrets, sorted by name.
    async fn list(&self) -> Result<Vec<CredentialMetadata>>;

    /// Replaces the secret of `name` and keeps everything else (see
    /// [`Credential::rotate_secret`]); returns the updated metadata. The default reads and
    /// writes back; providers with locking override it to make it atomic.
    async fn rotate_secret(
        &self,
        name: &str,
        new_secret: SecretString,
    ) -> Result<CredentialMetadata> {
        let mut credential = self.get(name).await?;
        credential.rotate_secret(new_secret)?;
        self.put(&credential).await?;
        Ok(credential.metadata())
    }
}

/// Runs blocking provider work (file locks, Argon2, keyring calls) off the async
/// executor.
pub(crate) async fn run_blocking<T: Send + 'static>(
    label: String,
    task: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(task)
        .await
        .map_err(|source| {
            crate::ErrorKind::Background {
                provider: label,
                source,
            }
            .into()
        })
        .and_then(|r| r)
}
