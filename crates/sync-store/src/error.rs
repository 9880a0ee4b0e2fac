//! The crate's one error type.
//!
//! Messages name rows, runs and integrations, never secrets: tokens and sealed credentials
//! never reach an error, and database URLs are shown without their password.

/// Shorthand for results of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An error from the store. The details are boxed so a `Result` stays small.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StoreError {
    kind: Box<ErrorKind>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The database failed or could not be reached.
    #[error("database error ({store})")]
    Database {
        /// Which store, without credentials.
        store: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The embedded migrations could not be applied.
    #[error("cannot migrate the database schema ({store})")]
    Migrate {
        /// Which store, without credentials.
        store: String,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// The database location is not one this store understands.
    #[error(
        "unsupported database location `{0}`: use a file path, sqlite://PATH or postgres://..."
    )]
    BadLocation(String),
    /// No such row (or it belongs to another owner).
    #[error("{what} `{id}` not found")]
    NotFound {
        /// `integration`, `run`, `notification`, ...
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// Optimistic concurrency: the row changed since the caller read it.
    #[error(
        "{what} `{id}` was changed by someone else: version {expected} expected, {actual} stored"
    )]
    VersionConflict {
        /// What kind of row.
        what: &'static str,
        /// Its id.
        id: String,
        /// The version the caller had.
        expected: i64,
        /// The version stored.
        actual: i64,
    },
    /// A row with that unique name exists already.
    #[error("{what} `{name}` exists already")]
    Duplicate {
        /// What kind of row.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// The worker's lease on the run is gone (it expired and another process reclaimed the
    /// run, or the run was finished): the worker must stop writing for this run.
    #[error("lease on run `{run}` lost: {holder}; this worker must stop writing for that run")]
    LeaseLost {
        /// The run.
        run: String,
        /// Who holds it now, or what became of the run.
        holder: String,
    },
    /// The integration is not in a state that allows runs.
    #[error("integration `{id}` is {status}; only launched integrations run")]
    NotRunnable {
        /// The integration.
        id: String,
        /// Its status.
        status: String,
    },
    /// A value given to the store is not valid.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which value.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A stored value does not decode (the database was edited by hand, or by a newer
    /// version).
    #[error("stored {what} of `{id}` is corrupt: {reason}")]
    Corrupt {
        /// Which column.
        what: &'static str,
        /// Which row.
        id: String,
        /// Why.
        reason: String,
    },
    /// A credential could not be sealed, opened or re-wrapped.
    #[error(transparent)]
    Credential(#[from] credential_store::CredentialError),
}

impl StoreError {
    /// The details.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Consumes the error and returns its details.
    pub fn into_kind(self) -> ErrorKind {
        *self.kind
    }

    /// True for [`ErrorKind::LeaseLost`]: the caller must stop working on the run.
    pub fn is_lease_lost(&self) -> bool {
        matches!(*self.kind, ErrorKind::LeaseLost { .. })
    }

    /// True for [`ErrorKind::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(*self.kind, ErrorKind::NotFound { .. })
    }

    /// True for [`ErrorKind::VersionConflict`].
    pub fn is_version_conflict(&self) -> bool {
        matches!(*self.kind, ErrorKind::VersionConflict { .. })
    }

    pub(crate) fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        ErrorKind::NotFound {
            what,
            id: id.into(),
        }
        .into()
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        ErrorKind::Invalid {
            what,
            reason: reason.into(),
        }
        .into()
    }

    pub(crate) fn corrupt(
        what: &'static str,
        id: impl Into<String>,
        reason: impl std::fmt::Display,
    ) -> Self {
        ErrorKind::Corrupt {
            what,
            id: id.into(),
            reason: reason.to_string(),
        }
        .into()
    }
}

impl From<ErrorKind> for StoreError {
    fn from(kind: ErrorKind) -> Self {
        Self {
            kind: Box::new(kind),
        }
    }
}

impl From<credential_store::CredentialError> for StoreError {
    fn from(e: credential_store::CredentialError) -> Self {
        ErrorKind::Credential(e).into()
    }
}
