use std::sync::Arc;

use credential_store::{
    Chain, CredentialProvider, EnvProvider, ErrorKind, FileProvider, KeyringProvider,
};
use keyring_core::mock;
use secrecy::SecretString;

use crate::{CANARY, api_key, assert_no_canary, cheap_kdf};

fn file_with(path: &std::path::Path, creds: &[(&str, &str)]) -> FileProvider {
    let file = FileProvider::with_kdf(
        path,
        SecretString::from("chain test passphrase"),
        cheap_kdf(),
    );
    for (name, secret) in creds {
        file.put_blocking(&api_key(name, "file-owner", secret))
            .unwrap();
    }
    file
}

#[tokio::test]
async fn env_overrides_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = file_with(
        &dir.path().join("c.qoc"),
        &[("roster", "from-file"), ("people", "o-file")],
    );
    let env = EnvProvider::from_vars(
        "ROSTER_PEOPLE_CRED_",
        [("ROSTER_PEOPLE_CRED_ROSTER", "from-env")],
    );
    let chain = Chain::new().with(env).with(file);

    let (roster, source) = chain.get_with_source("roster").await.unwrap();
    assert_eq!(roster.header().unwrap().1, "from-env");
    assert_eq!(source, "env");
    let (people, source) = chain.get_with_source("people").await.unwrap();
    assert_eq!(people.header().unwrap().1, "o-file");
    assert!(source.starts_with("file "), "{source}");

    let listing = chain.list().await.unwrap();
    let owners: Vec<(&str, &str)> = listing
        .iter()
        .map(|m| (m.name.as_str(), m.owner.as_str()))
        .collect();
    assert_eq!(owners, [("people", "file-owner"), ("roster", "local")]);

    let err = chain.get("absent").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn unavailable_keyring_falls_through_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = file_with(&dir.path().join("c.qoc"), &[("roster", CANARY)]);
    let chain = Chain::new()
        .with(EnvProvider::from_vars(
            "ROSTER_PEOPLE_CRED_",
            Vec::<(String, String)>::new(),
        ))
        .with(KeyringProvider::unavailable(
            "no keyring service on this server",
        ))
        .with(file.clone());

    let (cred, source) = chain.get_with_source("roster").await.unwrap();
    assert_eq!(cred.header().unwrap().1, CANARY);
    assert_eq!(source, file.label());
    assert_eq!(chain.list().await.unwrap().len(), 1);

    // Writes skip the read-only env and the unavailable keyring.
    chain.put(&api_key("new", "o", "s")).await.unwrap();
    assert_eq!(file.get("new").await.unwrap().name(), "new");
    chain.delete("new").await.unwrap();
    assert!(file.get("new").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn available_keyring_is_asked_before_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = file_with(&dir.path().join("c.qoc"), &[("roster", "from-file")]);
    let keyring = KeyringProvider::new(mock::Store::new().unwrap());
    keyring
        .put(&api_key("roster", "o", "from-keyring"))
        .await
        .unwrap();
    let chain = Chain::new().with(keyring).with(file);
    let (cred, source) = chain.get_with_source("roster").await.unwrap();
    assert_eq!(cred.header().unwrap().1, "from-keyring");
    assert_eq!(source, "keyring");
}

#[tokio::test]
async fn corrupt_file_stops_the_chain_with_its_own_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.qoc");
    let corrupt = file_with(&path, &[("roster", CANARY)]);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();

    // A provider after the corrupt file holds the name too; it must not be reached.
    let later_dir = tempfile::tempdir().unwrap();
    let later = file_with(&later_dir.path().join("c.qoc"), &[("roster", "fallback")]);
    let chain = Chain::new()
        .with(EnvProvider::from_vars(
            "ROSTER_PEOPLE_CRED_",
            Vec::<(String, String)>::new(),
        ))
        .with(KeyringProvider::unavailable("headless"))
        .with(corrupt)
        .with(later);

    let err = chain.get("roster").await.unwrap_err();
    match err.kind() {
        ErrorKind::Tampered { path: p, .. } => assert_eq!(p, &path),
        other => panic!("expected the file's own error, got {other:?}"),
    }
    assert_no_canary("chain error", &format!("{err} {err:?}"));
    assert!(matches!(
        chain.list().await.unwrap_err().kind(),
        ErrorKind::Tampered { .. }
    ));

    // A name that only the env knows is still served: the env answers first.
    let chain = Chain::new()
        .with(EnvProvider::from_vars(
            "ROSTER_PEOPLE_CRED_",
            [("ROSTER_PEOPLE_CRED_ROSTER", "env")],
        ))
        .with(FileProvider::with_kdf(
            &path,
            SecretString::from("chain test passphrase"),
            cheap_kdf(),
        ));
    assert_eq!(
        chain.get("roster").await.unwrap().header().unwrap().1,
        "env"
    );
}

#[tokio::test]
async fn wrong_passphrase_stops_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.qoc");
    file_with(&path, &[("roster", "s")]);
    let chain = Chain::new()
        .with(FileProvider::with_kdf(
            &path,
            SecretString::from("wrong"),
            cheap_kdf(),
        ))
        .with(KeyringProvider::new(mock::Store::new().unwrap()));
    let err = chain.get("roster").await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::WrongKey { .. }), "{err:?}");
}

#[tokio::test]
async fn delete_refuses_when_the_environment_still_defines_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = file_with(&dir.path().join("c.qoc"), &[("roster", "f")]);
    let chain = Chain::new()
        .with_shared(Arc::new(EnvProvider::from_vars(
            "ROSTER_PEOPLE_CRED_",
            [("ROSTER_PEOPLE_CRED_ROSTER", "e")],
        )))
        .with(file.clone());
    let err = chain.delete("roster").await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::ReadOnly { .. }), "{err:?}");
    assert!(chain.delete("absent").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn rotation_through_the_chain_happens_where_the_credential_lives() {
    let dir = tempfile::tempdir().unwrap();
    let file = file_with(&dir.path().join("c.qoc"), &[("roster", "old")]);
    let chain = Chain::new()
        .with(EnvProvider::from_vars(
            "ROSTER_PEOPLE_CRED_",
            [("ROSTER_PEOPLE_CRED_OTHER", "e")],
        ))
        .with(file.clone());
    chain
        .rotate_secret("roster", SecretString::from("new"))
        .await
        .unwrap();
    assert_eq!(file.get("roster").await.unwrap().header().unwrap().1, "new");
    let err = chain
        .rotate_secret("other", SecretString::from("x"))
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::ReadOnly { .. }), "{err:?}");
}

#[tokio::test]
async fn empty_chain_finds_nothing_and_cannot_store() {
    let chain = Chain::new();
    assert!(chain.get("x").await.unwrap_err().is_not_found());
    assert!(chain.list().await.unwrap().is_empty());
    let err = chain.put(&api_key("x", "o", "s")).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::ReadOnly { .. }));
}
