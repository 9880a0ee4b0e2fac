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

/// Runs blocking provider work that always finishes (file locks, Argon2) off the async
/// executor. Work that may never return (keyring calls) uses [`run_detached`].
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

/// How [`run_detached`] ended.
pub(crate) enum Detached<T> {
    /// The work returned this.
    Finished(T),
    /// It did not return within the timeout; its thread is left behind, never joined.
    TimedOut,
    /// Its thread could not start, or panicked.
    Failed(String),
}

/// Runs blocking work that may never return (a keyring call into a D-Bus session that
/// accepts and never answers) on a thread of its own and gives up waiting after `timeout`.
///
/// The thread is detached: after the timeout nothing waits for it, so it cannot hold the
/// process open (tokio's blocking pool, by contrast, is waited for when the runtime shuts
/// down). Its late result is dropped.
pub(crate) async fn run_detached<T: Send + 'static>(
    name: &str,
    timeout: std::time::Duration,
    task: impl FnOnce() -> T + Send + 'static,
) -> Detached<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            // The receiver is gone after a timeout; the result is dropped with it.
            let _ = tx.send(task());
        });
    if let Err(e) = spawned {
        return Detached::Failed(format!("cannot start a thread: {e}"));
    }
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(value)) => Detached::Finished(value),
        Ok(Err(_)) => Detached::Failed("the call panicked".to_owned()),
        Err(_) => Detached::TimedOut,
    }
}
