//! The on-disk format of the encrypted credential file (version 1).
//!
//! ```text
//! offset  size  field
//!      0     8  magic "QOCREDS\0"
//!      8     2  format version, u16 little-endian (1)
//!     10     1  key derivation: 1 = Argon2id from a passphrase, 2 = raw 32-byte key
//!     11     1  reserved, 0
//!     12     4  Argon2 memory cost in KiB, u32 LE (0 for a raw key)
//!     16     4  Argon2 iterations, u32 LE (0 for a raw key)
//!     20     4  Argon2 parallelism, u32 LE (0 for a raw key)
//!     24    16  salt (random)
//!     40    32  key-check value: BLAKE2b-256-MAC(key, "…key check")
//!     72    24  XChaCha20-Poly1305 nonce (random, new on every write)
//!     96     8  body length in bytes, u64 LE (ciphertext + 16-byte tag)
//!    104    32  header checksum: BLAKE2b-256 of bytes 0..104
//!    136     …  body: XChaCha20-Poly1305(key = MAC(key, "…encryption key"),
//!               associated data = bytes 0..136) of the JSON credential list
//! ```
//!
//! "key" is the Argon2id output for the passphrase and salt, or the raw key. Checks run in
//! an order that makes each failure name its cause: magic → version → header length →
//! header checksum (corruption) → body length (truncation) → key-check value (wrong
//! passphrase) → AEAD tag (tampering). Someone who rewrites the header *and* its checksum
//! can at most make the file report "wrong passphrase"; nothing is accepted that the key
//! holder did not write.

use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use blake2::digest::consts::U32;
use blake2::digest::{Digest, KeyInit, Mac};
use blake2::{Blake2b, Blake2bMac};
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::error::{CredentialError, ErrorKind, Result};

pub(crate) const MAGIC: [u8; 8] = *b"QOCREDS\0";
pub(crate) const VERSION: u16 = 1;
pub(crate) const HEADER_LEN: usize = 136;
const CHECKED_LEN: usize = 104;
const TAG_LEN: usize = 16;

const KDF_ARGON2ID: u8 = 1;
const KDF_RAW: u8 = 2;

/// The application domain of files when the application names none.
pub const DEFAULT_DOMAIN: &str = "credential-store";

/// The labels the file key's two sub-keys are derived under: the application's domain
/// plus the format version, so one application's file key never opens another's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Labels {
    enc: Vec<u8>,
    check: Vec<u8>,
}

impl Labels {
    pub(crate) fn new(domain: &str) -> Self {
        Labels {
            enc: format!("{domain} credential file v1: encryption key").into_bytes(),
            check: format!("{domain} credential file v1: key check").into_bytes(),
        }
    }
}

/// Upper bounds on Argon2 parameters read from a file, so a crafted header cannot make us
/// allocate unbounded memory or spin for hours.
const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
const MAX_T_COST: u32 = 64;
const MAX_P_COST: u32 = 64;

/// Argon2id cost parameters for deriving the file key from a passphrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KdfParams {
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 iterations, 1 lane (the second recommendation of RFC 9106 §4 uses
    /// 64 MiB with 3 passes).
    fn default() -> Self {
        Self {
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        }
    }
}

impl KdfParams {
    /// Custom parameters: memory in KiB, iterations, lanes. Weak parameters are allowed
    /// (tests use them) but only the default is recommended for real files.
    pub fn new(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Result<Self> {
        let params = Self {
            m_cost_kib,
            t_cost,
            p_cost,
        };
        params.argon2().map_err(|reason| {
            CredentialError::invalid("kdf", format!("invalid Argon2 parameters: {reason}"))
        })?;
        if m_cost_kib > MAX_M_COST_KIB || t_cost > MAX_T_COST || p_cost > MAX_P_COST {
            return Err(CredentialError::invalid(
                "kdf",
                "Argon2 parameters above the supported maximum (4 GiB, 64 iterations, 64 lanes)",
            ));
        }
        Ok(params)
    }

    /// Memory cost in KiB.
    pub fn m_cost_kib(&self) -> u32 {
        self.m_cost_kib
    }

    /// Iterations.
    pub fn t_cost(&self) -> u32 {
        self.t_cost
    }

    /// Lanes.
    pub fn p_cost(&self) -> u32 {
        self.p_cost
    }

    fn argon2(&self) -> std::result::Result<Argon2<'static>, argon2::Error> {
        let params = Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(32))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// How the file key is obtained, as recorded in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kdf {
    Argon2id(KdfParams),
    Raw,
}

/// The parsed, checksum-verified header.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub(crate) kdf: Kdf,
    pub(crate) salt: [u8; 16],
    key_check: [u8; 32],
    nonce: [u8; 24],
    body_len: u64,
}

/// The 32-byte key the file is encrypted under (before sub-key derivation).
pub(crate) type FileSecret = Zeroizing<[u8; 32]>;

/// Argon2id of `passphrase` and `salt`.
pub(crate) fn derive_from_passphrase(
    passphrase: &SecretString,
    params: &KdfParams,
    salt: &[u8; 16],
) -> Result<FileSecret> {
    let argon = params.argon2().map_err(|reason| {
        CredentialError::invalid("kdf", format!("invalid Argon2 parameters: {reason}"))
    })?;
    let mut out = Zeroizing::new([0_u8; 32]);
    argon
        .hash_password_into(passphrase.expose_secret().as_bytes(), salt, &mut *out)
        .map_err(|reason| CredentialError::invalid("kdf", format!("Argon2 failed: {reason}")))?;
    Ok(out)
}

fn mac(key: &[u8; 32], label: &[u8]) -> Blake2bMac<U32> {
    let mut mac =
        <Blake2bMac<U32> as KeyInit>::new_from_slice(key).expect("BLAKE2b accepts 32-byte keys");
    Mac::update(&mut mac, label);
    mac
}

fn subkey(key: &[u8; 32], label: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0_u8; 32]);
    out.copy_from_slice(&mac(key, label).finalize().into_bytes());
    out
}

fn checksum(bytes: &[u8]) -> [u8; 32] {
    let digest = <Blake2b<U32> as Digest>::digest(bytes);
    let mut out = [0_u8; 32];
    out.copy_from_slice(&digest);
    out
}

pub(crate) fn random_salt() -> [u8; 16] {
    let mut salt = [0_u8; 16];
    rand::rng().fill_bytes(&mut salt);
    salt
}

/// Encrypts `plaintext` (consumed; wiped as it is encrypted in place) into a complete file.
pub(crate) fn encode(
    labels: &Labels,
    kdf: Kdf,
    salt: [u8; 16],
    key: &[u8; 32],
    mut plaintext: Zeroizing<Vec<u8>>,
) -> Vec<u8> {
    let mut nonce = [0_u8; 24];
    rand::rng().fill_bytes(&mut nonce);
    let mut key_check = [0_u8; 32];
    key_check.copy_from_slice(&mac(key, &labels.check).finalize().into_bytes());
    let body_len = (plaintext.len() + TAG_LEN) as u64;

    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(&MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    let (kdf_id, m, t, p) = match kdf {
        Kdf::Argon2id(params) => (
            KDF_ARGON2ID,
            params.m_cost_kib,
            params.t_cost,
            params.p_cost,
        ),
        Kdf::Raw => (KDF_RAW, 0, 0, 0),
    };
    header.push(kdf_id);
    header.push(0);
    header.extend_from_slice(&m.to_le_bytes());
    header.extend_from_slice(&t.to_le_bytes());
    header.extend_from_slice(&p.to_le_bytes());
    header.extend_from_slice(&salt);
    header.extend_from_slice(&key_check);
    header.extend_from_slice(&nonce);
    header.extend_from_slice(&body_len.to_le_bytes());
    debug_assert_eq!(header.len(), CHECKED_LEN);
    let sum = checksum(&header);
    header.extend_from_slice(&sum);
    debug_assert_eq!(header.len(), HEADER_LEN);

    let enc_key = subkey(key, &labels.enc);
    let cipher = XChaCha20Poly1305::new(Key::from_slice(&*enc_key));
    // `plaintext` has room for the tag (see `to_json_zeroizing`), so this does not
    // reallocate and leave a plaintext copy behind.
    plaintext.reserve(TAG_LEN);
    cipher
        .encrypt_in_place(XNonce::from_slice(&nonce), &header, &mut *plaintext)
        .expect("XChaCha20-Poly1305 encrypts any length this process can hold");

    let mut file = header;
    file.extend_from_slice(&plaintext);
    file
}

/// Reads and verifies the header (everything up to, not including, the key check).
pub(crate) fn parse_header(path: &Path, bytes: &[u8]) -> Result<Header> {
    let truncated = |expected: usize| -> CredentialError {
        ErrorKind::Truncated {
            path: path.to_owned(),
            expected: expected as u64,
            actual: bytes.len() as u64,
        }
        .into()
    };
    let magic_len = bytes.len().min(MAGIC.len());
    if bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(CredentialError::tampered(
            path,
            "not a credential file (bad magic bytes)",
        ));
    }
    if bytes.len() < 10 {
        return Err(truncated(HEADER_LEN));
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != VERSION {
        return Err(ErrorKind::UnsupportedVersion {
            path: path.to_owned(),
            version,
            supported: VERSION,
        }
        .into());
    }
    if bytes.len() < HEADER_LEN {
        return Err(truncated(HEADER_LEN));
    }
    if checksum(&bytes[..CHECKED_LEN]) != bytes[CHECKED_LEN..HEADER_LEN] {
        return Err(CredentialError::tampered(path, "header checksum mismatch"));
    }
    let u32_at =
        |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("slice of four bytes"));
    let kdf = match (bytes[10], bytes[11]) {
        (KDF_ARGON2ID, 0) => {
            let params = KdfParams::new(u32_at(12), u32_at(16), u32_at(20)).map_err(|_| {
                CredentialError::tampered(path, "implausible Argon2 parameters in header")
            })?;
            Kdf::Argon2id(params)
        }
        (KDF_RAW, 0) => Kdf::Raw,
        (kdf, flags) => {
            return Err(CredentialError::tampered(
                path,
                format!("unknown key derivation {kdf} / flags {flags} in header"),
            ));
        }
    };
    let mut header = Header {
        kdf,
        salt: [0; 16],
        key_check: [0; 32],
        nonce: [0; 24],
        body_len: u64::from_le_bytes(bytes[96..104].try_into().expect("slice of eight bytes")),
    };
    header.salt.copy_from_slice(&bytes[24..40]);
    header.key_check.copy_from_slice(&bytes[40..72]);
    header.nonce.copy_from_slice(&bytes[72..96]);

    let actual_body = (bytes.len() - HEADER_LEN) as u64;
    if header.body_len < TAG_LEN as u64 {
        return Err(CredentialError::tampered(
            path,
            "body length below tag size",
        ));
    }
    if actual_body < header.body_len {
        return Err(truncated(HEADER_LEN.saturating_add(
            usize::try_from(header.body_len).unwrap_or(usize::MAX),
        )));
    }
    if actual_body > header.body_len {
        return Err(CredentialError::tampered(
            path,
            "unexpected data after the encrypted body",
        ));
    }
    Ok(header)
}

/// Checks `key` against the header's key-check value, then decrypts and authenticates the
/// body. `bytes` must be the file `header` was parsed from.
pub(crate) fn decrypt(
    labels: &Labels,
    path: &Path,
    bytes: &[u8],
    header: &Header,
    key: &[u8; 32],
) -> Result<Zeroizing<Vec<u8>>> {
    if mac(key, &labels.check)
        .verify_slice(&header.key_check)
        .is_err()
    {
        return Err(ErrorKind::WrongKey {
            path: path.to_owned(),
            detail: "the key-check value does not match".to_owned(),
        }
        .into());
    }
    let enc_key = subkey(key, &labels.enc);
    let cipher = XChaCha20Poly1305::new(Key::from_slice(&*enc_key));
    let mut body = Zeroizing::new(bytes[HEADER_LEN..].to_vec());
    cipher
        .decrypt_in_place(
            XNonce::from_slice(&header.nonce),
            &bytes[..HEADER_LEN],
            &mut *body,
        )
        .map_err(|_| CredentialError::tampered(path, "the encrypted body failed authentication"))?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> [u8; 32] {
        [7; 32]
    }

    #[test]
    fn round_trip_and_layout() {
        let plain = Zeroizing::new(b"{\"credentials\":[]}".to_vec());
        let labels = Labels::new(DEFAULT_DOMAIN);
        let file = encode(&labels, Kdf::Raw, random_salt(), &key(), plain);
        assert_eq!(&file[..8], b"QOCREDS\0");
        assert_eq!(file.len(), HEADER_LEN + 18 + TAG_LEN);
        let path = Path::new("t");
        let header = parse_header(path, &file).unwrap();
        assert_eq!(header.kdf, Kdf::Raw);
        let body = decrypt(&labels, path, &file, &header, &key()).unwrap();
        assert_eq!(&body[..], b"{\"credentials\":[]}");
        let err = decrypt(&labels, path, &file, &header, &[8; 32]).unwrap_err();
        assert!(
            decrypt(&Labels::new("another-app"), path, &file, &header, &key()).is_err(),
            "another application's labels do not open the file"
        );
        assert!(matches!(err.kind(), ErrorKind::WrongKey { .. }));
    }

    #[test]
    fn default_kdf_is_strong() {
        let d = KdfParams::default();
        assert_eq!((d.m_cost_kib(), d.t_cost(), d.p_cost()), (65536, 3, 1));
        assert!(
            KdfParams::new(1, 1, 1).is_err(),
            "below Argon2's minimum memory"
        );
    }
}
