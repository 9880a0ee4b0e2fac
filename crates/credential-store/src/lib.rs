//! Credentials for SaaS connectors: a model that puts itself on requests, and a chain of
//! providers (environment, OS keyring, encrypted local file, cloud database) where the
//! secret is never stored in plain text and never shown.
//!
//! - [`Credential`] — a name, an owner, a [`CredentialKind`] (API key in a header or query
//!   parameter with an optional prefix, HTTP Basic, or OAuth2 refresh token) and
//!   timestamps. Secrets are private [`secrecy::SecretString`] fields: a tool takes
//!   [`Credential::header`] (marked sensitive) and never sees the value. The vendor
//!   clients authorize their own requests (`connector_http::Authorization`), and an OAuth2
//!   access token is refreshed by the vendor client's one refresh flow and recorded with
//!   [`OAuth2::record_refresh`]; this crate does no HTTP.
//!   `Debug`, `Display` and the listing form [`CredentialMetadata`] leave secrets out.
//! - [`CredentialProvider`] — `get`, `put`, `delete`, `list`, `rotate_secret`, with
//!   [`ErrorKind::NotFound`] / [`ErrorKind::Unavailable`] falling through a [`Chain`] and
//!   any other error stopping it (cargo's credential-provider model).
//! - Providers: [`EnvProvider`] (read-only, `QUIP_OOMNITZA_CRED_<NAME>`),
//!   [`KeyringProvider`] (keyring-core; unavailable on machines without a keyring, and
//!   for the rest of the process after a call that did not answer within its timeout),
//!   [`FileProvider`] (XChaCha20-Poly1305, Argon2id or raw key, authenticated versioned
//!   header, 0600, atomic and locked writes, passphrase rotation, new passphrases of at
//!   least [`file::MIN_PASSPHRASE_CHARS`] characters), and
//!   [`DatabaseProvider`] over a [`CredentialDatabase`] that the cloud store implements,
//!   with envelope encryption by [`SealedSecret`] under a [`MasterKey`].
//!
//! The file format, the environment-variable scheme and the threat model are described in
//! the project's `docs/credentials.md`.
//!
//! # Example: a connector stores and uses its credential
//!
//! ```
//! use credential_store::{
//!     Chain, Credential, CredentialKind, CredentialProvider, EnvProvider, FileProvider,
//!     Placement,
//! };
//! use secrecy::SecretString;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), credential_store::CredentialError> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("credentials.qoc");
//! let file = FileProvider::new(&path, SecretString::from("correct horse battery staple"));
//!
//! // Set-up, once (e.g. `quip-oomnitza credentials add`): Oomnitza's API token goes in
//! // the `Authorization2` header without prefix.
//! let kind = CredentialKind::api_key(
//!     "Authorization2",
//!     Placement::Header,
//!     None,
//!     SecretString::from("token-copied-from-oomnitza"),
//! )?;
//! file.put(&Credential::new("oomnitza", "it-ops", kind)?).await?;
//!
//! // Every run: the environment overrides the file.
//! let credentials = Chain::new().with(EnvProvider::new("ACME_SYNC_CRED_")).with(file);
//! let oomnitza = credentials.get("oomnitza").await?;
//!
//! // The header it stands for, marked sensitive so no HTTP stack logs it.
//! let (name, value) = oomnitza.header().expect("a header credential");
//! assert_eq!(name.as_str(), "authorization2");
//! assert!(value.is_sensitive());
//!
//! // Listings and logs never show it.
//! let listing = credentials.list().await?;
//! assert_eq!(listing[0].name, "oomnitza");
//! assert!(!format!("{oomnitza:?} {oomnitza}").contains("token-copied-from-oomnitza"));
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! None. Platform keyring stores are chosen by the application and handed to
//! [`KeyringProvider`] (see its module docs); without one it reports itself unavailable.

mod chain;
pub mod database;
pub mod env;
mod error;
pub mod file;
pub mod keyring;
mod model;
mod oauth2;
mod provider;
mod reference;
pub mod sealed;
mod stored;

pub use chain::Chain;
pub use database::{CredentialDatabase, DatabaseProvider, InMemoryDatabase, SealedCredential};
pub use env::EnvProvider;
pub use error::{CredentialError, ErrorKind, Result};
pub use file::{FileKey, FileProvider, KdfParams};
pub use keyring::KeyringProvider;
pub use model::{
    ApiKey, Basic, Credential, CredentialKind, CredentialMetadata, KindMetadata, Placement,
};
pub use oauth2::OAuth2;
pub use provider::CredentialProvider;
pub use reference::CredentialRef;
pub use sealed::{MasterKey, SealedSecret};

/// The `tracing` target of warnings about the safety of stored secrets (for example a
/// credential file that other users could read, and was made private). Applications should
/// keep this target at `warn` even when they are told to be quiet: the admin needs to know.
pub const SECURITY_LOG_TARGET: &str = "credential_store::security";

/// Re-exported so users name the same `secrecy` version.
pub use secrecy;
