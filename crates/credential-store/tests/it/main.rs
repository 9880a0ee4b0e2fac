//! Integration tests of credential-store (one test binary, one module per area).

// Test helpers outside `#[test]` functions unwrap too; a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod chain;
mod database;
mod env;
mod file;
mod keyring;
mod model;
mod oauth;

use credential_store::{Credential, CredentialKind, KdfParams, Placement};
use secrecy::SecretString;

/// A recognisable secret that must never show up anywhere but where it is applied.
pub const CANARY: &str = "CANARY-7f3a9c-do-not-leak";

/// Argon2id parameters cheap enough for tests (the default is 64 MiB, t=3).
pub fn cheap_kdf() -> KdfParams {
    KdfParams::new(8, 1, 1).expect("minimal Argon2 parameters are valid")
}

/// An API-key credential in the `Authorization2` header (People's form).
pub fn api_key(name: &str, owner: &str, secret: &str) -> Credential {
    let kind = CredentialKind::api_key(
        "Authorization2",
        Placement::Header,
        None,
        SecretString::from(secret.to_owned()),
    )
    .expect("valid api key");
    Credential::new(name, owner, kind).expect("valid credential")
}

/// Asserts that `text` does not contain the canary.
#[track_caller]
pub fn assert_no_canary(what: &str, text: &str) {
    assert!(
        !text.contains(CANARY),
        "{what} leaks the canary secret: {text}"
    );
}
