//! Where a local installation's credentials come from, and resolving the configuration's
//! credential references into secrets (still wrapped in `SecretString`).
//!
//! The local store is a chain, first match wins (`NotFound`/`Unavailable` fall through):
//! 1. environment variables `QUIP_OOMNITZA_CRED_<NAME>` (read-only);
//! 2. the OS keyring, when the machine has one (on a headless server it is unavailable);
//! 3. the encrypted file `<state dir>/credentials.enc`, unlocked by the passphrase in
//!    `QUIP_OOMNITZA_PASSPHRASE`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use credential_store::{
    Chain, Credential, CredentialError, CredentialKind, CredentialMetadata, CredentialProvider,
    EnvProvider, FileProvider, KeyringProvider, KindMetadata, Placement,
};
use secrecy::SecretString;

use credential_store::CredentialRef;

use crate::config::{Config, ConfigError};

/// The application a local installation belongs to: the command people type, and the
/// prefix of its environment variables. It names the credential variables
/// (`<PREFIX>_CRED_<NAME>`), the passphrase variable (`<PREFIX>_PASSPHRASE`), the keyring
/// service and the credential file's key domain (the command).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    /// The command, e.g. `acme-sync`.
    pub command: &'static str,
    /// The prefix of its environment variables, e.g. `ACME_SYNC`.
    pub env_prefix: &'static str,
}

impl Product {
    /// `<PREFIX>_<suffix>`.
    pub fn var(&self, suffix: &str) -> String {
        format!("{}_{suffix}", self.env_prefix)
    }

    /// The variable holding the credential file's passphrase.
    pub fn passphrase_var(&self) -> String {
        self.var("PASSPHRASE")
    }
}

/// A local-store failure, explained for people.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file provider needs a passphrase.
    #[error(
        "the local credential file {} needs a passphrase: set {var} (or keep tokens in \
         environment variables and use credential = {{ env = \"VAR\" }})",
        path.display()
    )]
    NoPassphrase {
        /// The credential file.
        path: PathBuf,
        /// The passphrase variable.
        var: String,
    },
    /// `add` of a name that is already stored.
    #[error(
        "a credential named \"{name}\" is already stored: change its secret with \
         `{command} credentials rotate {name}`, or remove it first"
    )]
    Exists {
        /// The credential's name.
        name: String,
        /// The application's command.
        command: &'static str,
    },
    /// A provider failed.
    #[error(transparent)]
    Credential(#[from] CredentialError),
}

/// Where a configuration's stored credentials (`credential = "name"`) are looked up: a
/// credential-store provider (the [`LocalStore`]'s chain of environment, keyring and
/// file; a service's database provider) and what to tell a person whose name is in none
/// of it.
pub trait CredentialSource: Send + Sync {
    /// The provider, usually a [`credential_store::Chain`].
    fn provider(&self) -> &dyn CredentialProvider;

    /// The message when `name` is not there (or the provider cannot be used here).
    fn missing(&self, name: &str) -> String {
        format!(
            "no credential named \"{name}\" (looked in {})",
            self.provider().label()
        )
    }
}

impl CredentialSource for Chain {
    fn provider(&self) -> &dyn CredentialProvider {
        self
    }
}

/// The local credential store of one state directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    chain: Chain,
    env: EnvProvider,
    file: Option<Arc<FileProvider>>,
    file_path: PathBuf,
    product: Product,
}

impl LocalStore {
    /// The chain for `state_dir`, with the file provider when a passphrase is set, and the
    /// keyring-core default store (if the application set one) as the OS keyring.
    pub fn open(state_dir: &Path, product: Product) -> Self {
        Self::open_with_keyring(state_dir, product, KeyringProvider::from_default_store())
    }

    /// Like [`LocalStore::open`] with this OS keyring provider (for example one with
    /// another call timeout).
    pub fn open_with_keyring(state_dir: &Path, product: Product, keyring: KeyringProvider) -> Self {
        let file_path = state_dir.join("credentials.enc");
        let passphrase = std::env::var(product.passphrase_var())
            .ok()
            .filter(|p| !p.is_empty());
        let file = passphrase.map(|p| {
            Arc::new(
                FileProvider::new(file_path.clone(), SecretString::from(p))
                    .with_domain(product.command),
            )
        });
        let env = EnvProvider::new(product.var("CRED_"));
        let keyring = keyring.with_service(product.command);
        let mut chain = Chain::new().with(env.clone()).with(keyring);
        if let Some(f) = &file {
            chain = chain.with_shared(f.clone());
        }
        LocalStore {
            chain,
            env,
            file,
            file_path,
            product,
        }
    }

    fn file(&self) -> Result<&FileProvider, StoreError> {
        self.file
            .as_deref()
            .ok_or_else(|| StoreError::NoPassphrase {
                path: self.file_path.clone(),
                var: self.product.passphrase_var(),
            })
    }

    /// The credential called `name`.
    pub async fn get(&self, name: &str) -> Result<Credential, StoreError> {
        Ok(self.chain.get(name).await?)
    }

    /// Everything stored (never secrets).
    pub async fn list(&self) -> Result<Vec<CredentialMetadata>, StoreError> {
        Ok(self.chain.list().await?)
    }

    /// Stores an API key in the encrypted file.
    pub async fn add_api_key(
        &self,
        name: &str,
        owner: &str,
        token_name: &str,
        prefix: Option<String>,
        secret: SecretString,
    ) -> Result<CredentialMetadata, StoreError> {
        let kind = CredentialKind::api_key(token_name, Placement::Header, prefix, secret)?;
        let credential = Credential::new(name, owner, kind)?;
        let file = self.file()?;
        match file.get(name).await {
            Ok(_) => {
                return Err(StoreError::Exists {
                    name: name.to_owned(),
                    command: self.product.command,
                });
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        file.put(&credential).await?;
        Ok(file.get(name).await?.metadata())
    }

    /// Removes a credential from the encrypted file.
    pub async fn remove(&self, name: &str) -> Result<(), StoreError> {
        Ok(self.file()?.delete(name).await?)
    }

    /// Replaces a credential's secret, keeping its name (configurations stay valid).
    pub async fn rotate_secret(
        &self,
        name: &str,
        secret: SecretString,
    ) -> Result<CredentialMetadata, StoreError> {
        Ok(self.file()?.rotate_secret(name, secret).await?)
    }

    /// Re-encrypts the file under `new` (the current passphrase comes from the environment).
    pub async fn rotate_passphrase(&self, new: SecretString) -> Result<(), StoreError> {
        let file = self.file()?;
        let old = std::env::var(self.product.passphrase_var()).unwrap_or_default();
        Ok(file.rotate_passphrase(SecretString::from(old), new).await?)
    }
}

impl CredentialSource for LocalStore {
    fn provider(&self) -> &dyn CredentialProvider {
        &self.chain
    }

    fn missing(&self, name: &str) -> String {
        if self.file.is_none() && self.file_path.exists() {
            format!(
                "no credential named \"{name}\" in the environment or keyring, and the \
                 credential file {} is locked: set {} to its passphrase",
                self.file_path.display(),
                self.product.passphrase_var()
            )
        } else {
            format!(
                "no credential named \"{name}\" (looked in {}): add it with \
                 `{} credentials add {name}`, or set {}",
                self.chain
                    .providers()
                    .iter()
                    .map(|p| p.label())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.product.command,
                self.env.var_name(name).unwrap_or_default()
            )
        }
    }
}

/// One line describing a stored credential, without its secret.
pub fn describe(m: &CredentialMetadata) -> String {
    let kind = match &m.kind {
        KindMetadata::ApiKey {
            token_name,
            placement,
            prefix,
        } => format!(
            "api key in {placement} {token_name}{}",
            prefix
                .as_deref()
                .map(|p| format!(" (prefix \"{}\")", p.trim_end()))
                .unwrap_or_default()
        ),
        KindMetadata::Basic { user } => format!("basic auth as {user}"),
        KindMetadata::OAuth2 { client_id, .. } => format!("oauth2 client {client_id}"),
        _ => "credential of a newer kind".to_owned(),
    };
    format!(
        "{}: {kind}, owner {}, updated {}",
        m.name,
        m.owner,
        m.updated_at.format("%Y-%m-%d %H:%M UTC")
    )
}

/// A resolved secret for a client.
#[derive(Debug, Clone)]
pub enum Secret {
    /// A token (API key).
    Token(SecretString),
    /// User and password.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: SecretString,
    },
}

/// Resolves the credential named at `key` (e.g. `quip.credential`) of the configuration.
/// Errors are configuration errors placed at that key (exit code 2, nothing sent).
pub async fn resolve(
    config: &Config,
    key: &str,
    reference: &CredentialRef,
    store: &dyn CredentialSource,
) -> Result<Secret, ConfigError> {
    match reference {
        CredentialRef::Env { env } => match std::env::var(env) {
            Ok(v) if !v.trim().is_empty() => {
                Ok(Secret::Token(SecretString::from(v.trim().to_owned())))
            }
            Ok(_) => Err(config.error_at(key, format!("environment variable {env} is empty"))),
            Err(_) => Err(config.error_at(key, format!("environment variable {env} is not set"))),
        },
        CredentialRef::Store(name) => {
            let credential = store.provider().get(name).await.map_err(|e| {
                let hint = if e.is_not_found() || e.is_unavailable() {
                    store.missing(name)
                } else {
                    format!("cannot read credential \"{name}\": {e}")
                };
                config.error_at(key, hint)
            })?;
            match credential.kind() {
                CredentialKind::ApiKey(k) => Ok(Secret::Token(k.secret().clone())),
                CredentialKind::Basic(b) => Ok(Secret::Basic {
                    user: b.user().to_owned(),
                    password: b.password().clone(),
                }),
                _ => Err(config.error_at(
                    key,
                    format!(
                        "credential \"{name}\" is not an API key or basic credential; this \
                         connector needs an API token"
                    ),
                )),
            }
        }
    }
}
