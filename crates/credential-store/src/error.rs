//! The crate's one error type.
//!
//! Errors never carry secret values: messages name credentials, providers, files and
//! variables, never what they hold. Decoding errors from `serde_json` (which may quote the
//! offending value) are reduced to a line and column before they get here.

use std::path::PathBuf;

/// Shorthand for results of this crate.
pub type Result<T, E = CredentialError> = std::result::Result<T, E>;

/// An error from a credential, a provider or the chain.
///
/// The details live in a boxed [`ErrorKind`] so that `Result<T, CredentialError>` stays one
/// pointer wide.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct CredentialError {
    kind: Box<ErrorKind>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The provider does not hold a credential of that name. A [`Chain`](crate::Chain)
    /// asks the next provider.
    #[error("credential `{name}` not found in {provider}")]
    NotFound {
        /// Provider that was asked.
        provider: String,
        /// Credential name that was asked for.
        name: String,
    },
    /// The provider cannot be used here at all (no keyring service on a headless server,
    /// no store configured). A [`Chain`](crate::Chain) asks the next provider.
    #[error("{provider} is unavailable: {reason}")]
    Unavailable {
        /// Provider that is unavailable.
        provider: String,
        /// Why.
        reason: String,
    },
    /// The provider cannot store or delete credentials (environment variables).
    #[error("{provider} is read-only")]
    ReadOnly {
        /// Provider that refused the write.
        provider: String,
    },
    /// The passphrase or key does not open the credential file (its key-check value does
    /// not match); the file itself is intact.
    #[error("wrong passphrase or key for credential file {}: {detail}", path.display())]
    WrongKey {
        /// The credential file.
        path: PathBuf,
        /// What did not match.
        detail: String,
    },
    /// A new passphrase for a credential file was refused (empty, or shorter than
    /// [`MIN_PASSPHRASE_CHARS`](crate::file::MIN_PASSPHRASE_CHARS)); nothing was written.
    /// Existing files keep opening with whatever passphrase they were created with.
    #[error("new passphrase for credential file {} refused: {reason}", path.display())]
    WeakPassphrase {
        /// The credential file.
        path: PathBuf,
        /// What is wrong with it (never the passphrase itself).
        reason: String,
    },
    /// The credential file is readable or writable by other users and its mode could not be
    /// changed to 0600 (for example because another user owns it).
    #[error(
        "credential file {} has mode {mode:o} (other users can read it) and cannot be changed to 600",
        path.display()
    )]
    Permissions {
        /// The credential file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// Why `chmod` failed.
        #[source]
        source: std::io::Error,
    },
    /// The credential file, or a sealed secret, was modified or is corrupt: its integrity
    /// check or authentication tag failed.
    #[error("credential file {} was tampered with or is corrupt: {reason}", path.display())]
    Tampered {
        /// The credential file (or a description of the sealed record).
        path: PathBuf,
        /// Which check failed.
        reason: String,
    },
    /// The credential file ends early.
    #[error(
        "credential file {} is truncated: {actual} bytes, expected {expected}",
        path.display()
    )]
    Truncated {
        /// The credential file.
        path: PathBuf,
        /// Bytes the header promises (or the minimum needed to read the header).
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// The credential file was written by a newer (or unknown) format version.
    #[error(
        "credential file {} has unsupported format version {version} (this build reads version {supported})",
        path.display()
    )]
    UnsupportedVersion {
        /// The credential file.
        path: PathBuf,
        /// Version found in the header.
        version: u16,
        /// Version this build understands.
        supported: u16,
    },
    /// Reading or writing a file failed.
    #[error("I/O error on {}", path.display())]
    Io {
        /// File or directory concerned.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A credential (or its configuration) is not valid.
    #[error("invalid credential `{name}`: {reason}")]
    Invalid {
        /// Credential name (or environment variable) concerned.
        name: String,
        /// What is wrong (never the secret itself).
        reason: String,
    },
    /// The OS keyring failed in a way that is not "unavailable" or "not found".
    #[error("keyring error for `{name}`: {reason}")]
    Keyring {
        /// Credential (or key) name concerned.
        name: String,
        /// Description of the keyring failure (never the stored data).
        reason: String,
    },
    /// The cloud database behind a [`DatabaseProvider`](crate::DatabaseProvider) failed.
    #[error("credential database error")]
    Database {
        /// Cause, from the database implementation.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A sealed secret from the database does not open: wrong master key, or the record
    /// was modified or moved to another owner or name.
    #[error("sealed secret of `{name}` (owner `{owner}`) cannot be opened: {reason}")]
    Unseal {
        /// Owner the record was read for.
        owner: String,
        /// Credential name the record was read for.
        name: String,
        /// What failed.
        reason: String,
    },
    /// The master key for sealed secrets is missing or malformed.
    #[error("master key: {reason}")]
    MasterKey {
        /// What is wrong (never the key).
        reason: String,
    },
    /// A blocking background task (file or keyring access) panicked or was cancelled.
    #[error("background task of {provider} failed")]
    Background {
        /// Provider whose task failed.
        provider: String,
        /// Cause.
        #[source]
        source: tokio::task::JoinError,
    },
}

impl CredentialError {
    /// The details.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Consumes the error and returns its details.
    pub fn into_kind(self) -> ErrorKind {
        *self.kind
    }

    /// `true` for [`ErrorKind::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(*self.kind, ErrorKind::NotFound { .. })
    }

    /// `true` for [`ErrorKind::Unavailable`].
    pub fn is_unavailable(&self) -> bool {
        matches!(*self.kind, ErrorKind::Unavailable { .. })
    }

    /// `true` when a [`Chain`](crate::Chain) goes on to the next provider: the credential
    /// is not there, or the provider cannot be used here.
    pub fn falls_through(&self) -> bool {
        self.is_not_found() || self.is_unavailable()
    }

    /// A "not found" error (for implementors of
    /// [`CredentialProvider`](crate::CredentialProvider)).
    pub fn not_found(provider: impl Into<String>, name: impl Into<String>) -> Self {
        ErrorKind::NotFound {
            provider: provider.into(),
            name: name.into(),
        }
        .into()
    }

    /// An "unavailable" error (for implementors of
    /// [`CredentialProvider`](crate::CredentialProvider)).
    pub fn unavailable(provider: impl Into<String>, reason: impl Into<String>) -> Self {
        ErrorKind::Unavailable {
            provider: provider.into(),
            reason: reason.into(),
        }
        .into()
    }

    /// A database failure (for implementors of
    /// [`CredentialDatabase`](crate::CredentialDatabase)). The source must not contain
    /// secret values; sealed secrets are opaque bytes, so database errors normally do not.
    pub fn database(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ErrorKind::Database {
            source: source.into(),
        }
        .into()
    }

    pub(crate) fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Self {
        ErrorKind::Invalid {
            name: name.into(),
            reason: reason.into(),
        }
        .into()
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ErrorKind::Io {
            path: path.into(),
            source,
        }
        .into()
    }

    pub(crate) fn tampered(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        ErrorKind::Tampered {
            path: path.into(),
            reason: reason.into(),
        }
        .into()
    }
}

impl From<ErrorKind> for CredentialError {
    fn from(kind: ErrorKind) -> Self {
        Self {
            kind: Box::new(kind),
        }
    }
}
