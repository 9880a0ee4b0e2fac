//! An ordered list of providers, asked in turn.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{CredentialError, ErrorKind, Result};
use crate::model::{Credential, CredentialMetadata};
use crate::provider::CredentialProvider;

/// Providers asked in order, like cargo's credential providers.
///
/// - `get` returns the first provider's answer that is not "not found" or
///   "unavailable"; any other error (a tampered file, a wrong passphrase, a keyring
///   failure) stops the chain and is returned as is, so a broken store is never silently
///   skipped.
/// - `put` writes to the first provider that accepts writes (skipping read-only and
///   unavailable ones).
/// - `delete` removes the name from every writable provider that has it, and fails with
///   [`ErrorKind::ReadOnly`] if a read-only provider (the environment) still defines it.
/// - `list` merges all available providers; a name held by several shows the first.
///
/// A provider that does not answer in time is "unavailable" like one that is missing: the
/// [`KeyringProvider`](crate::KeyringProvider) gives every call a timeout (a wedged D-Bus
/// session must not hang the whole chain) and warns when it gives up.
#[derive(Clone, Default)]
pub struct Chain {
    providers: Vec<Arc<dyn CredentialProvider>>,
}

impl Chain {
    /// An empty chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a provider (asked after those already present).
    #[must_use]
    pub fn with(mut self, provider: impl CredentialProvider + 'static) -> Self {
        self.providers.push(Arc::new(provider));
        self
    }

    /// Appends a shared provider.
    #[must_use]
    pub fn with_shared(mut self, provider: Arc<dyn CredentialProvider>) -> Self {
        self.providers.push(provider);
        self
    }

    /// The providers, in order.
    pub fn providers(&self) -> &[Arc<dyn CredentialProvider>] {
        &self.providers
    }

    /// Like [`CredentialProvider::get`], also returning the label of the provider that
    /// answered.
    pub async fn get_with_source(&self, name: &str) -> Result<(Credential, String)> {
        for provider in &self.providers {
            match provider.get(name).await {
                Ok(credential) => {
                    let label = provider.label();
                    tracing::debug!(credential = %name, provider = %label, "credential found");
                    return Ok((credential, label));
                }
                Err(e) if e.falls_through() => {
                    tracing::debug!(credential = %name, provider = %provider.label(), reason = %e, "falling through");
                }
                Err(e) => return Err(e),
            }
        }
        Err(CredentialError::not_found(self.label(), name))
    }
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.providers.iter().map(|p| p.label()))
            .finish()
    }
}

fn skips_write(error: &CredentialError) -> bool {
    error.is_unavailable() || matches!(error.kind(), ErrorKind::ReadOnly { .. })
}

#[async_trait]
impl CredentialProvider for Chain {
    fn label(&self) -> String {
        let labels: Vec<String> = self.providers.iter().map(|p| p.label()).collect();
        format!("chain [{}]", labels.join(", "))
    }

    async fn get(&self, name: &str) -> Result<Credential> {
        self.get_with_source(name).await.map(|(c, _)| c)
    }

    async fn put(&self, credential: &Credential) -> Result<()> {
        for provider in &self.providers {
            match provider.put(credential).await {
                Err(e) if skips_write(&e) => {}
                other => return other,
            }
        }
        Err(ErrorKind::ReadOnly {
            provider: self.label(),
        }
        .into())
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let mut deleted = false;
        for provider in &self.providers {
            match provider.delete(name).await {
                Ok(()) => deleted = true,
                Err(e) if e.falls_through() => {}
                Err(e) if matches!(e.kind(), ErrorKind::ReadOnly { .. }) => {
                    match provider.get(name).await {
                        // It would still be visible through this provider.
                        Ok(_) => return Err(e),
                        Err(g) if g.falls_through() => {}
                        Err(g) => return Err(g),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        if deleted {
            Ok(())
        } else {
            Err(CredentialError::not_found(self.label(), name))
        }
    }

    async fn list(&self) -> Result<Vec<CredentialMetadata>> {
        let mut merged = BTreeMap::new();
        for provider in &self.providers {
            match provider.list().await {
                Ok(items) => {
                    for item in items {
                        merged.entry(item.name.clone()).or_insert(item);
                    }
                }
                Err(e) if e.is_unavailable() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(merged.into_values().collect())
    }

    async fn rotate_secret(
        &self,
        name: &str,
        new_secret: secrecy::SecretString,
    ) -> Result<CredentialMetadata> {
        // Rotate where the credential is found, so the chain keeps answering with it.
        for provider in &self.providers {
            match provider.get(name).await {
                Ok(_) => return provider.rotate_secret(name, new_secret).await,
                Err(e) if e.falls_through() => {}
                Err(e) => return Err(e),
            }
        }
        Err(CredentialError::not_found(self.label(), name))
    }
}
