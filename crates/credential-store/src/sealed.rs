//! Envelope encryption for secrets at rest in the cloud database.
//!
//! Each secret is encrypted under its own random data key (XChaCha20-Poly1305); the data
//! key is encrypted ("wrapped") under the service's master key. Both layers authenticate
//! the owner and the credential name as associated data, so a sealed value copied to
//! another row, owner or name does not open. Rotating the master key re-wraps the small
//! data keys only ([`SealedSecret::rewrap`]).
//!
//! Binary form (also the base64 text form used by serde):
//!
//! ```text
//! "QOSS" | version u8 (1) | key-id length u8 | key id | wrap nonce (24)
//!        | wrapped data key (32 + 16 tag) | nonce (24) | ciphertext + 16-byte tag
//! ```

use std::fmt;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{ErrorKind, Result};

/// After the application's prefix: the variable holding the master key (base64 of 32
/// bytes), e.g. `ACME_SYNC_MASTER_KEY`.
pub const MASTER_KEY_VAR: &str = "MASTER_KEY";
/// After the application's prefix: the variable naming the master key (recorded in every
/// sealed secret so that a rotation can tell old from new); default
/// [`DEFAULT_MASTER_KEY_ID`].
pub const MASTER_KEY_ID_VAR: &str = "MASTER_KEY_ID";
/// Master key id used when the id variable is not set.
pub const DEFAULT_MASTER_KEY_ID: &str = "default";

const MAGIC: &[u8; 4] = b"QOSS";
const VERSION: u8 = 1;
const WRAPPED_LEN: usize = 32 + 16;

/// The cloud service's master key. `Debug` shows only its id.
pub struct MasterKey {
    id: String,
    key: Box<Zeroizing<[u8; 32]>>,
}

fn master_err(reason: impl Into<String>) -> crate::CredentialError {
    ErrorKind::MasterKey {
        reason: reason.into(),
    }
    .into()
}

impl MasterKey {
    /// A master key with an id (1–255 bytes, no control characters).
    pub fn new(id: impl Into<String>, key: [u8; 32]) -> Result<Self> {
        let id = id.into();
        if id.is_empty() || id.len() > 255 || id.chars().any(char::is_control) {
            return Err(master_err(
                "key id must be 1 to 255 bytes without control characters",
            ));
        }
        Ok(Self {
            id,
            key: Box::new(Zeroizing::new(key)),
        })
    }

    /// A new random master key (to be saved with [`MasterKey::to_base64`]).
    pub fn generate(id: impl Into<String>) -> Result<Self> {
        let mut key = Zeroizing::new([0_u8; 32]);
        rand::rng().fill_bytes(&mut *key);
        Self::new(id, *key)
    }

    /// A master key from its base64 text (standard alphabet, 32 bytes).
    pub fn from_base64(id: impl Into<String>, text: &SecretString) -> Result<Self> {
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.expose_secret().trim())
                .map_err(|_| master_err("not valid base64"))?,
        );
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| master_err(format!("must be 32 bytes, got {}", bytes.len())))?;
        Self::new(id, key)
    }

    /// The master key from `<prefix>MASTER_KEY` (and its id from `<prefix>MASTER_KEY_ID`),
    /// `prefix` being the application's, e.g. `ACME_SYNC_`.
    pub fn from_env(prefix: &str) -> Result<Self> {
        Self::from_env_with(prefix, |name| std::env::var(name).ok())
    }

    /// Like [`MasterKey::from_env`] with another source of variables.
    pub fn from_env_with(prefix: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let key_var = format!("{prefix}{MASTER_KEY_VAR}");
        let text = lookup(&key_var)
            .map(SecretString::from)
            .ok_or_else(|| master_err(format!("{key_var} is not set")))?;
        let id = lookup(&format!("{prefix}{MASTER_KEY_ID_VAR}"))
            .filter(|id| !id.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_MASTER_KEY_ID.to_owned());
        Self::from_base64(id, &text).map_err(|e| match e.into_kind() {
            ErrorKind::MasterKey { reason } => master_err(format!("{key_var}: {reason}")),
            other => other.into(),
        })
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key as base64 text, for saving a generated key into the service's secret
    /// configuration.
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(base64::engine::general_purpose::STANDARD.encode(**self.key))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&**self.key))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

/// A secret sealed under a master key, bound to an owner and a credential name.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    key_id: String,
    wrap_nonce: [u8; 24],
    wrapped_key: [u8; WRAPPED_LEN],
    nonce: [u8; 24],
    ciphertext: Vec<u8>,
}

/// Associated data: a purpose label plus length-prefixed fields (so `("ab","c")` and
/// `("a","bc")` differ).
fn aad(purpose: &[u8], fields: &[&str]) -> Vec<u8> {
    let mut out = b"credential-store sealed secret v1\0".to_vec();
    out.extend_from_slice(purpose);
    for field in fields {
        out.extend_from_slice(&(field.len() as u64).to_le_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

fn random<const N: usize>() -> [u8; N] {
    let mut out = [0_u8; N];
    rand::rng().fill_bytes(&mut out);
    out
}

impl SealedSecret {
    /// Seals `plaintext` for `owner`/`name` under `master`.
    pub fn seal(master: &MasterKey, owner: &str, name: &str, plaintext: &[u8]) -> Result<Self> {
        let data_key = Zeroizing::new(random::<32>());
        let nonce = random::<24>();
        let ciphertext = XChaCha20Poly1305::new(Key::from_slice(&*data_key))
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad(b"data", &[owner, name]),
                },
            )
            .map_err(|_| master_err("encryption failed"))?;
        let (wrap_nonce, wrapped_key) = wrap(master, owner, name, &data_key)?;
        Ok(Self {
            key_id: master.id.clone(),
            wrap_nonce,
            wrapped_key,
            nonce,
            ciphertext,
        })
    }

    /// Opens the secret sealed for `owner`/`name`. Fails if `master` is not the key it was
    /// sealed with, or if the record was modified or belongs to another owner or name.
    pub fn open(&self, master: &MasterKey, owner: &str, name: &str) -> Result<Zeroizing<Vec<u8>>> {
        let data_key = self.unwrap_key(master, owner, name)?;
        let plain = XChaCha20Poly1305::new(Key::from_slice(&*data_key))
            .decrypt(
                XNonce::from_slice(&self.nonce),
                Payload {
                    msg: &self.ciphertext,
                    aad: &aad(b"data", &[owner, name]),
                },
            )
            .map_err(|_| unseal(owner, name, "the encrypted data failed authentication"))?;
        Ok(Zeroizing::new(plain))
    }

    /// The same secret with its data key re-wrapped under `new` (master key rotation);
    /// the encrypted data is unchanged.
    pub fn rewrap(
        &self,
        old: &MasterKey,
        new: &MasterKey,
        owner: &str,
        name: &str,
    ) -> Result<Self> {
        let data_key = self.unwrap_key(old, owner, name)?;
        let (wrap_nonce, wrapped_key) = wrap(new, owner, name, &data_key)?;
        Ok(Self {
            key_id: new.id.clone(),
            wrap_nonce,
            wrapped_key,
            nonce: self.nonce,
            ciphertext: self.ciphertext.clone(),
        })
    }

    /// Id of the master key this was sealed with.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    fn unwrap_key(
        &self,
        master: &MasterKey,
        owner: &str,
        name: &str,
    ) -> Result<Zeroizing<[u8; 32]>> {
        if self.key_id != master.id {
            return Err(unseal(
                owner,
                name,
                format!(
                    "sealed with master key `{}`, but the key given is `{}`",
                    self.key_id, master.id
                ),
            ));
        }
        let plain = Zeroizing::new(
            master
                .cipher()
                .decrypt(
                    XNonce::from_slice(&self.wrap_nonce),
                    Payload {
                        msg: &self.wrapped_key,
                        aad: &aad(b"wrap", &[&self.key_id, owner, name]),
                    },
                )
                .map_err(|_| {
                    unseal(
                        owner,
                        name,
                        "wrong master key, or the record was modified or moved",
                    )
                })?,
        );
        let mut key = Zeroizing::new([0_u8; 32]);
        key.copy_from_slice(&plain);
        Ok(key)
    }

    /// The binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            6 + self.key_id.len() + 24 + WRAPPED_LEN + 24 + self.ciphertext.len(),
        );
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(self.key_id.len() as u8);
        out.extend_from_slice(self.key_id.as_bytes());
        out.extend_from_slice(&self.wrap_nonce);
        out.extend_from_slice(&self.wrapped_key);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Parses the binary form (authenticity is checked by [`SealedSecret::open`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let malformed = |what: &str| master_err(format!("malformed sealed secret: {what}"));
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| malformed("bad magic"))?;
        let (&version, rest) = rest.split_first().ok_or_else(|| malformed("too short"))?;
        if version != VERSION {
            return Err(malformed(&format!("unsupported version {version}")));
        }
        let (&id_len, rest) = rest.split_first().ok_or_else(|| malformed("too short"))?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len + 24 + WRAPPED_LEN + 24 + 16 {
            return Err(malformed("too short"));
        }
        let (id, rest) = rest.split_at(id_len);
        let key_id = std::str::from_utf8(id)
            .map_err(|_| malformed("key id is not UTF-8"))?
            .to_owned();
        let (wrap_nonce, rest) = rest.split_at(24);
        let (wrapped_key, rest) = rest.split_at(WRAPPED_LEN);
        let (nonce, ciphertext) = rest.split_at(24);
        Ok(Self {
            key_id,
            wrap_nonce: wrap_nonce.try_into().expect("24 bytes"),
            wrapped_key: wrapped_key.try_into().expect("48 bytes"),
            nonce: nonce.try_into().expect("24 bytes"),
            ciphertext: ciphertext.to_vec(),
        })
    }
}

fn wrap(
    master: &MasterKey,
    owner: &str,
    name: &str,
    data_key: &[u8; 32],
) -> Result<([u8; 24], [u8; WRAPPED_LEN])> {
    let wrap_nonce = random::<24>();
    let wrapped = master
        .cipher()
        .encrypt(
            XNonce::from_slice(&wrap_nonce),
            Payload {
                msg: data_key,
                aad: &aad(b"wrap", &[&master.id, owner, name]),
            },
        )
        .map_err(|_| master_err("key wrapping failed"))?;
    let wrapped: [u8; WRAPPED_LEN] = wrapped
        .as_slice()
        .try_into()
        .expect("32-byte key + 16-byte tag");
    Ok((wrap_nonce, wrapped))
}

fn unseal(owner: &str, name: &str, reason: impl Into<String>) -> crate::CredentialError {
    ErrorKind::Unseal {
        owner: owner.to_owned(),
        name: name.to_owned(),
        reason: reason.into(),
    }
    .into()
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_id", &self.key_id)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

impl Serialize for SealedSecret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(self.to_bytes()))
    }
}

impl<'de> Deserialize<'de> for SealedSecret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(serde::de::Error::custom)?;
        Self::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_form_round_trips() {
        let master = MasterKey::generate("k1").unwrap();
        let sealed = SealedSecret::seal(&master, "alice", "wiki", b"payload").unwrap();
        let parsed = SealedSecret::from_bytes(&sealed.to_bytes()).unwrap();
        assert_eq!(parsed, sealed);
        assert_eq!(
            &parsed.open(&master, "alice", "wiki").unwrap()[..],
            b"payload"
        );
        let json = serde_json::to_string(&sealed).unwrap();
        let back: SealedSecret = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sealed);
    }

    #[test]
    fn aad_fields_are_unambiguous() {
        assert_ne!(aad(b"data", &["ab", "c"]), aad(b"data", &["a", "bc"]));
    }
}
