//! The form in which providers persist a credential *with* its secret.
//!
//! Private to the crate: it is only ever serialized into buffers that are then encrypted
//! (file body, sealed secret) or handed to the OS keyring, and those buffers are zeroized.

use std::io;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::error::{CredentialError, Result};
use crate::model::{ApiKey, Basic, Credential, CredentialKind, Placement};
use crate::oauth2::{OAuth2, Tokens};

/// A credential with its secrets, for persistence.
#[derive(Serialize, Deserialize)]
pub(crate) struct Stored {
    pub(crate) name: String,
    pub(crate) owner: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) kind: StoredKind,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum StoredKind {
    ApiKey {
        token_name: String,
        placement: Placement,
        #[serde(default)]
        prefix: Option<String>,
        #[serde(serialize_with = "expose")]
        secret: SecretString,
    },
    Basic {
        user: String,
        #[serde(serialize_with = "expose")]
        password: SecretString,
    },
    #[serde(rename = "oauth2")]
    OAuth2 {
        client_id: String,
        token_url: String,
        #[serde(serialize_with = "expose")]
        client_secret: SecretString,
        #[serde(serialize_with = "expose")]
        refresh_token: SecretString,
        #[serde(default, serialize_with = "expose_opt")]
        access_token: Option<SecretString>,
        #[serde(default)]
        expires_at: Option<DateTime<Utc>>,
    },
}

fn expose<S: Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

// serde's `serialize_with` hands the field by reference.
#[allow(clippy::ref_option)]
fn expose_opt<S: Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(s) => serializer.serialize_some(s.expose_secret()),
        None => serializer.serialize_none(),
    }
}

impl Stored {
    pub(crate) fn from_credential(credential: &Credential) -> Self {
        let kind = match credential.kind() {
            CredentialKind::ApiKey(k) => StoredKind::ApiKey {
                token_name: k.token_name().to_owned(),
                placement: k.placement(),
                prefix: k.prefix().map(str::to_owned),
                secret: k.secret().clone(),
            },
            CredentialKind::Basic(b) => StoredKind::Basic {
                user: b.user().to_owned(),
                password: b.password().clone(),
            },
            CredentialKind::OAuth2(o) => {
                let tokens = o.tokens();
                StoredKind::OAuth2 {
                    client_id: o.client_id().to_owned(),
                    token_url: o.token_url().to_owned(),
                    client_secret: o.client_secret().clone(),
                    refresh_token: tokens.refresh_token,
                    access_token: tokens.access_token,
                    expires_at: tokens.expires_at,
                }
            }
        };
        Self {
            name: credential.name().to_owned(),
            owner: credential.owner().to_owned(),
            created_at: credential.created_at(),
            updated_at: credential.updated_at(),
            kind,
        }
    }

    pub(crate) fn into_credential(self) -> Result<Credential> {
        let name = self.name;
        let relabel = |e: CredentialError| match e.into_kind() {
            crate::ErrorKind::Invalid { reason, .. } => CredentialError::invalid(&name, reason),
            other => other.into(),
        };
        let kind = match self.kind {
            StoredKind::ApiKey {
                token_name,
                placement,
                prefix,
                secret,
            } => CredentialKind::ApiKey(
                ApiKey::new(token_name, placement, prefix, secret).map_err(relabel)?,
            ),
            StoredKind::Basic { user, password } => {
                CredentialKind::Basic(Basic::new(user, password).map_err(relabel)?)
            }
            StoredKind::OAuth2 {
                client_id,
                token_url,
                client_secret,
                refresh_token,
                access_token,
                expires_at,
            } => CredentialKind::OAuth2(OAuth2::from_parts(
                client_id,
                token_url,
                client_secret,
                Tokens {
                    refresh_token,
                    access_token,
                    expires_at,
                },
            )),
        };
        Ok(Credential::new(name.clone(), self.owner, kind)?
            .with_timestamps(self.created_at, self.updated_at))
    }
}

/// Serializes `value` as JSON into a buffer of exactly the right size that is wiped when
/// dropped (growing a `Vec` would leave copies of the secrets behind in freed memory).
pub(crate) fn to_json_zeroizing<T: Serialize>(value: &T) -> Zeroizing<Vec<u8>> {
    struct Counter(usize);
    impl io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Serializing our own types into memory cannot fail: no maps with non-string keys.
    serde_json::to_writer(&mut counter, value).expect("credential JSON always serializes");
    // Room for an AEAD tag, so sealing in place does not reallocate either.
    let mut buf = Zeroizing::new(Vec::with_capacity(counter.0 + 16));
    serde_json::to_writer(&mut *buf, value).expect("credential JSON always serializes");
    buf
}

/// Describes a JSON decode error by position only: serde_json messages can quote the
/// offending value, which may be a secret.
pub(crate) fn json_position(error: &serde_json::Error) -> String {
    format!(
        "undecodable JSON ({:?} error at line {}, column {})",
        error.classify(),
        error.line(),
        error.column()
    )
}
