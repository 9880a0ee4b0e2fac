//! How a configuration file names a credential: an entry of a store, or an environment
//! variable holding the secret itself.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a credential comes from, as a configuration file writes it: `"name"` (an entry in
/// the credential chain) or `{ env = "VAR" }` (the secret itself, in a variable).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CredentialRef {
    /// A name in the credential chain (the local store, or a service's database).
    Store(String),
    /// An environment variable holding the secret itself.
    Env {
        /// The variable's name.
        env: String,
    },
}

impl fmt::Display for CredentialRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialRef::Store(name) => write!(f, "credential store entry \"{name}\""),
            CredentialRef::Env { env } => write!(f, "environment variable {env}"),
        }
    }
}

impl CredentialRef {
    /// The name shown as "Connect: Credentials" in mappings: the entry's or the variable's.
    pub fn display_name(&self) -> &str {
        match self {
            CredentialRef::Store(name) => name,
            CredentialRef::Env { env } => env,
        }
    }
}
