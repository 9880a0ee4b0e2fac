//! Credentials from environment variables (read-only).
//!
//! # Variable scheme
//!
//! A credential named `NAME` is read from `<PREFIX><KEY>`, where `<PREFIX>` is the
//! application's (given to [`EnvProvider::new`]; `quip-oomnitza` uses `QUIP_OOMNITZA_CRED_`)
//! and `<KEY>` is the
//! name upper-cased, every character other than an ASCII letter or digit replaced by `_`,
//! runs of `_` collapsed into one and leading/trailing `_` removed (`quip` → `QUIP`,
//! `oomnitza-prod` → `OOMNITZA_PROD`, `acme.quip v2` → `ACME_QUIP_V2`). That variable holds
//! the secret: the API key, the Basic password, or the OAuth2 refresh token.
//!
//! Optional settings use the same variable plus a double underscore and a field name
//! (keys never contain `__`, so these cannot clash with another credential):
//!
//! | suffix | meaning | default |
//! |---|---|---|
//! | `__KIND` | `api_key`, `basic` or `oauth2` | `api_key` |
//! | `__TOKEN_NAME` | header or query parameter name (API key) | `Authorization` |
//! | `__PLACEMENT` | `header` or `query` (API key) | `header` |
//! | `__PREFIX` | text before the secret, e.g. `Bearer ` (API key) | none |
//! | `__USER` | user name (Basic, required) | |
//! | `__CLIENT_ID` | client id (OAuth2, required) | |
//! | `__CLIENT_SECRET` | client secret (OAuth2, required) | |
//! | `__TOKEN_URL` | token endpoint (OAuth2, required) | |
//!
//! For example, Oomnitza's token (`Authorization2: <token>`, no prefix):
//!
//! ```sh
//! export QUIP_OOMNITZA_CRED_OOMNITZA=...token...
//! export QUIP_OOMNITZA_CRED_OOMNITZA__TOKEN_NAME=Authorization2
//! ```
//!
//! and Quip's (`Authorization: Bearer <token>`):
//!
//! ```sh
//! export QUIP_OOMNITZA_CRED_QUIP=...token...
//! export QUIP_OOMNITZA_CRED_QUIP__PREFIX='Bearer '
//! ```

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{CredentialError, ErrorKind, Result};
use crate::model::{ApiKey, Basic, Credential, CredentialKind, CredentialMetadata, Placement};
use crate::oauth2::OAuth2;
use crate::provider::CredentialProvider;

/// Owner given to credentials read from the environment unless set otherwise.
pub const DEFAULT_ENV_OWNER: &str = "local";

/// Reads credentials from environment variables; see the [module docs](self) for the
/// variable scheme. `put` and `delete` fail with [`ErrorKind::ReadOnly`].
#[derive(Clone)]
pub struct EnvProvider {
    prefix: String,
    owner: String,
    source: Source,
}

#[derive(Clone)]
enum Source {
    Process,
    Fixed(BTreeMap<String, SecretString>),
}

impl EnvProvider {
    /// Reads the process environment: credential `NAME` from `<prefix><KEY>` (the
    /// application's prefix, e.g. `ACME_SYNC_CRED_`), with the default owner.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            owner: DEFAULT_ENV_OWNER.to_owned(),
            source: Source::Process,
        }
    }

    /// Reads the given variables instead of the process environment (tests, or a
    /// service that received its environment from elsewhere).
    pub fn from_vars<K, V>(
        prefix: impl Into<String>,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            source: Source::Fixed(
                vars.into_iter()
                    .map(|(k, v)| (k.into(), SecretString::from(v.into())))
                    .collect(),
            ),
            ..Self::new(prefix)
        }
    }

    /// Uses another variable prefix.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the owner of the credentials read.
    #[must_use]
    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self
    }

    /// The variable that holds the secret of credential `name`, e.g.
    /// `QUIP_OOMNITZA_CRED_OOMNITZA_PROD` for `oomnitza-prod`.
    pub fn var_name(&self, name: &str) -> Result<String> {
        let mut key = String::with_capacity(name.len());
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                key.push(c.to_ascii_uppercase());
            } else if !key.is_empty() && !key.ends_with('_') {
                key.push('_');
            }
        }
        while key.ends_with('_') {
            key.pop();
        }
        if key.is_empty() {
            return Err(CredentialError::invalid(
                name,
                "has no letters or digits to form an environment variable name",
            ));
        }
        Ok(format!("{}{key}", self.prefix))
    }

    fn var(&self, key: &str) -> Result<Option<SecretString>> {
        match &self.source {
            Source::Fixed(map) => Ok(map.get(key).cloned()),
            Source::Process => match std::env::var(key) {
                Ok(value) => Ok(Some(SecretString::from(value))),
                Err(std::env::VarError::NotPresent) => Ok(None),
                Err(std::env::VarError::NotUnicode(_)) => Err(CredentialError::invalid(
                    key,
                    "environment variable is not valid UTF-8",
                )),
            },
        }
    }

    /// A non-secret setting.
    fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .var(key)?
            .map(|v| v.expose_secret().trim().to_owned())
            .filter(|v| !v.is_empty()))
    }

    fn required(&self, key: &str, kind: &str) -> Result<String> {
        self.setting(key)?.ok_or_else(|| {
            CredentialError::invalid(key, format!("is required for a `{kind}` credential"))
        })
    }

    fn read(&self, name: &str) -> Result<Credential> {
        let base = self.var_name(name)?;
        let Some(secret) = self.var(&base)? else {
            return Err(CredentialError::not_found(self.label(), name));
        };
        let field = |suffix: &str| format!("{base}__{suffix}");
        let kind_var = field("KIND");
        let kind_name = self
            .setting(&kind_var)?
            .unwrap_or_else(|| "api_key".to_owned());
        let relabel = |var: &str| {
            let var = var.to_owned();
            move |e: CredentialError| match e.into_kind() {
                ErrorKind::Invalid { reason, .. } => CredentialError::invalid(var, reason),
                other => other.into(),
            }
        };
        let kind: CredentialKind = match kind_name.to_ascii_lowercase().as_str() {
            "api_key" | "apikey" | "api-key" | "token" => {
                let token_name = self
                    .setting(&field("TOKEN_NAME"))?
                    .unwrap_or_else(|| "Authorization".to_owned());
                let placement_var = field("PLACEMENT");
                let placement = match self.setting(&placement_var)?.as_deref() {
                    None => Placement::Header,
                    Some(p) if p.eq_ignore_ascii_case("header") => Placement::Header,
                    Some(p) if p.eq_ignore_ascii_case("query") => Placement::Query,
                    Some(other) => {
                        return Err(CredentialError::invalid(
                            placement_var,
                            format!("`{other}` is not `header` or `query`"),
                        ));
                    }
                };
                // The prefix keeps its spaces (`Bearer `): read it untrimmed.
                let prefix = self
                    .var(&field("PREFIX"))?
                    .map(|p| p.expose_secret().to_owned());
                ApiKey::new(token_name, placement, prefix, secret)
                    .map_err(relabel(&base))?
                    .into()
            }
            "basic" => {
                let user = self.required(&field("USER"), "basic")?;
                Basic::new(user, secret).map_err(relabel(&base))?.into()
            }
            "oauth2" | "oauth" => {
                let client_id = self.required(&field("CLIENT_ID"), "oauth2")?;
                let secret_var = field("CLIENT_SECRET");
                let client_secret = self.var(&secret_var)?.ok_or_else(|| {
                    CredentialError::invalid(&secret_var, "is required for an `oauth2` credential")
                })?;
                let token_url = self.required(&field("TOKEN_URL"), "oauth2")?;
                OAuth2::new(client_id, client_secret, secret, token_url)
                    .map_err(relabel(&base))?
                    .into()
            }
            other => {
                return Err(CredentialError::invalid(
                    kind_var,
                    format!("unknown kind `{other}` (expected api_key, basic or oauth2)"),
                ));
            }
        };
        let now = Utc::now();
        Ok(Credential::new(name, &self.owner, kind)?.with_timestamps(now, now))
    }

    /// Names (lower-cased keys) of the credentials defined.
    fn names(&self) -> Vec<String> {
        let keys: Vec<String> = match &self.source {
            Source::Fixed(map) => map.keys().cloned().collect(),
            Source::Process => std::env::vars_os()
                .filter_map(|(k, _)| k.into_string().ok())
                .collect(),
        };
        let mut names: Vec<String> = keys
            .iter()
            .filter_map(|k| k.strip_prefix(&self.prefix))
            .filter(|rest| !rest.is_empty() && !rest.contains("__"))
            .map(str::to_ascii_lowercase)
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

impl fmt::Debug for EnvProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvProvider")
            .field("prefix", &self.prefix)
            .field("owner", &self.owner)
            .field(
                "source",
                &match self.source {
                    Source::Process => "process environment",
                    Source::Fixed(_) => "fixed variables",
                },
            )
            .finish()
    }
}

#[async_trait]
impl CredentialProvider for EnvProvider {
    fn label(&self) -> String {
        "env".to_owned()
    }

    async fn get(&self, name: &str) -> Result<Credential> {
        self.read(name)
    }

    async fn put(&self, _credential: &Credential) -> Result<()> {
        Err(ErrorKind::ReadOnly {
            provider: self.label(),
        }
        .into())
    }

    async fn delete(&self, _name: &str) -> Result<()> {
        Err(ErrorKind::ReadOnly {
            provider: self.label(),
        }
        .into())
    }

    async fn list(&self) -> Result<Vec<CredentialMetadata>> {
        self.names()
            .iter()
            .map(|name| self.read(name).map(|c| c.metadata()))
            .collect()
    }

    async fn rotate_secret(&self, _name: &str, _new: SecretString) -> Result<CredentialMetadata> {
        Err(ErrorKind::ReadOnly {
            provider: self.label(),
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_names_follow_the_documented_scheme() {
        let env = EnvProvider::from_vars("ACME_CRED_", Vec::<(String, String)>::new());
        let v = |n: &str| env.var_name(n).unwrap();
        assert_eq!(v("wiki"), "ACME_CRED_WIKI");
        assert_eq!(v("crm-prod"), "ACME_CRED_CRM_PROD");
        assert_eq!(v("acme.wiki  v2"), "ACME_CRED_ACME_WIKI_V2");
        assert_eq!(v("--x--"), "ACME_CRED_X");
        assert_eq!(v("a__kind"), "ACME_CRED_A_KIND");
        assert!(env.var_name("--").is_err());
        assert!(env.var_name("ü").is_err());
    }
}
