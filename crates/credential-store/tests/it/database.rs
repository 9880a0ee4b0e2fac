use std::sync::Arc;

/// The application's variables in these tests.
const PREFIX: &str = "ACME_SYNC_";
const MASTER_KEY_VAR: &str = "ACME_SYNC_MASTER_KEY";
const MASTER_KEY_ID_VAR: &str = "ACME_SYNC_MASTER_KEY_ID";
use credential_store::{
    CredentialDatabase, CredentialProvider, DatabaseProvider, ErrorKind, InMemoryDatabase,
    MasterKey, SealedCredential, SealedSecret,
};
use secrecy::{ExposeSecret, SecretString};

use crate::{CANARY, api_key, assert_no_canary};

fn setup() -> (Arc<InMemoryDatabase>, Arc<MasterKey>) {
    (
        Arc::new(InMemoryDatabase::new()),
        Arc::new(MasterKey::generate("k1").unwrap()),
    )
}

#[tokio::test]
async fn round_trip_is_owner_scoped() {
    let (db, master) = setup();
    let alice = DatabaseProvider::new(Arc::clone(&db), "alice", Arc::clone(&master));
    let bob = alice.for_owner("bob");
    alice
        .put(&api_key("roster", "alice", CANARY))
        .await
        .unwrap();
    bob.put(&api_key("roster", "bob", "bobs")).await.unwrap();

    assert_eq!(
        alice.get("roster").await.unwrap().header().unwrap().1,
        CANARY
    );
    assert_eq!(bob.get("roster").await.unwrap().header().unwrap().1, "bobs");
    assert_eq!(alice.list().await.unwrap().len(), 1);
    assert!(
        alice
            .for_owner("carol")
            .get("roster")
            .await
            .unwrap_err()
            .is_not_found()
    );

    // A provider never writes another owner's credential.
    let err = alice.put(&api_key("x", "bob", "s")).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Invalid { .. }), "{err:?}");

    bob.delete("roster").await.unwrap();
    assert!(bob.get("roster").await.unwrap_err().is_not_found());
    assert!(bob.delete("roster").await.unwrap_err().is_not_found());
    assert_eq!(alice.get("roster").await.unwrap().name(), "roster");
}

#[tokio::test]
async fn nothing_at_rest_or_in_listings_shows_the_secret() {
    let (db, master) = setup();
    let alice = DatabaseProvider::new(Arc::clone(&db), "alice", master);
    alice
        .put(&api_key("roster", "alice", CANARY))
        .await
        .unwrap();
    let rows = db.rows();
    assert_eq!(rows.len(), 1);
    let at_rest = serde_json::to_string(&rows).unwrap();
    assert_no_canary("database row", &at_rest);
    assert_no_canary("row Debug", &format!("{rows:?}"));
    assert_no_canary(
        "raw sealed bytes",
        &String::from_utf8_lossy(&rows[0].sealed.to_bytes()),
    );
    assert_no_canary(
        "listing",
        &serde_json::to_string(&alice.list().await.unwrap()).unwrap(),
    );
    assert_no_canary("provider Debug", &format!("{alice:?}"));
}

#[tokio::test]
async fn a_sealed_value_moved_to_another_row_does_not_open() {
    let (db, master) = setup();
    let alice = DatabaseProvider::new(Arc::clone(&db), "alice", Arc::clone(&master));
    let bob = alice.for_owner("bob");
    alice
        .put(&api_key("roster", "alice", CANARY))
        .await
        .unwrap();
    bob.put(&api_key("roster", "bob", "b")).await.unwrap();
    alice.put(&api_key("other", "alice", "o")).await.unwrap();

    let alice_row = db.fetch("alice", "roster").await.unwrap().unwrap();
    // Into bob's row of the same name...
    let mut moved = db.fetch("bob", "roster").await.unwrap().unwrap();
    moved.sealed = alice_row.sealed.clone();
    db.insert_raw("bob", moved);
    let err = bob.get("roster").await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Unseal { .. }), "{err:?}");
    assert_no_canary("unseal error", &format!("{err} {err:?}"));
    // ...or into another name of the same owner.
    let mut renamed = db.fetch("alice", "other").await.unwrap().unwrap();
    renamed.sealed = alice_row.sealed;
    db.insert_raw("alice", renamed);
    let err = alice.get("other").await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Unseal { .. }), "{err:?}");
}

#[tokio::test]
async fn wrong_or_rotated_master_keys() {
    let (db, master) = setup();
    let alice = DatabaseProvider::new(Arc::clone(&db), "alice", Arc::clone(&master));
    alice
        .put(&api_key("roster", "alice", CANARY))
        .await
        .unwrap();

    // Same id, other bytes: refused.
    let impostor = Arc::new(MasterKey::new("k1", [0; 32]).unwrap());
    let err = DatabaseProvider::new(Arc::clone(&db), "alice", impostor)
        .get("roster")
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Unseal { .. }), "{err:?}");

    // Rotation: rewrap every row under k2; the data itself is untouched.
    let k2 = Arc::new(MasterKey::generate("k2").unwrap());
    for row in db.rows() {
        let owner = row.metadata.owner.clone();
        let name = row.metadata.name.clone();
        let rewrapped = row.sealed.rewrap(&master, &k2, &owner, &name).unwrap();
        assert_eq!(rewrapped.key_id(), "k2");
        db.insert_raw(&owner, SealedCredential::new(row.metadata, rewrapped));
    }
    let new_alice = DatabaseProvider::new(Arc::clone(&db), "alice", Arc::clone(&k2));
    assert_eq!(
        new_alice.get("roster").await.unwrap().header().unwrap().1,
        CANARY
    );
    let err = alice.get("roster").await.unwrap_err();
    match err.kind() {
        ErrorKind::Unseal { reason, .. } => assert!(reason.contains("`k2`"), "{reason}"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn put_keeps_creation_time_and_rotation_keeps_references() {
    let (db, master) = setup();
    let alice = DatabaseProvider::new(db, "alice", master);
    alice.put(&api_key("roster", "alice", "one")).await.unwrap();
    let first = alice.get("roster").await.unwrap();
    let meta = alice
        .rotate_secret("roster", SecretString::from("two"))
        .await
        .unwrap();
    assert_eq!(meta.created_at, first.created_at());
    let second = alice.get("roster").await.unwrap();
    assert_eq!(second.created_at(), first.created_at());
    assert_eq!(second.header().unwrap().1, "two");
}

#[test]
fn master_key_from_the_environment() {
    let key = MasterKey::generate("x").unwrap();
    let b64 = key.to_base64().expose_secret().to_owned();
    let vars = |id: Option<&'static str>| {
        let b64 = b64.clone();
        move |name: &str| match name {
            n if n == MASTER_KEY_VAR => Some(b64.clone()),
            n if n == MASTER_KEY_ID_VAR => id.map(str::to_owned),
            _ => None,
        }
    };
    let loaded = MasterKey::from_env_with(PREFIX, vars(Some("2025-q1"))).unwrap();
    assert_eq!(loaded.id(), "2025-q1");
    assert_eq!(loaded.to_base64().expose_secret(), b64);
    assert_eq!(
        MasterKey::from_env_with(PREFIX, vars(None)).unwrap().id(),
        "default"
    );
    assert_no_canary("master key Debug", &format!("{loaded:?}"));
    assert!(!format!("{loaded:?}").contains(&b64));

    let missing = MasterKey::from_env_with(PREFIX, |_| None).unwrap_err();
    assert!(missing.to_string().contains(MASTER_KEY_VAR), "{missing}");
    let short =
        MasterKey::from_env_with(PREFIX, |n| (n == MASTER_KEY_VAR).then(|| "AAAA".to_owned()))
            .unwrap_err();
    assert!(
        matches!(short.kind(), ErrorKind::MasterKey { .. }),
        "{short:?}"
    );
    let garbage =
        MasterKey::from_env_with(PREFIX, |n| (n == MASTER_KEY_VAR).then(|| CANARY.to_owned()))
            .unwrap_err();
    assert_no_canary("master key error", &format!("{garbage} {garbage:?}"));
}

#[test]
fn sealed_secret_detects_any_modification() {
    let master = MasterKey::generate("k1").unwrap();
    let sealed = SealedSecret::seal(&master, "alice", "roster", CANARY.as_bytes()).unwrap();
    let bytes = sealed.to_bytes();
    for i in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x01;
        let opened = SealedSecret::from_bytes(&flipped)
            .and_then(|s| s.open(&master, "alice", "roster").map(|p| p.to_vec()));
        assert!(opened.is_err(), "flipped byte {i} was accepted");
    }
    for len in 0..bytes.len() {
        let opened = SealedSecret::from_bytes(&bytes[..len])
            .and_then(|s| s.open(&master, "alice", "roster").map(|p| p.to_vec()));
        assert!(opened.is_err(), "truncation to {len} was accepted");
    }
    assert_eq!(
        &sealed.open(&master, "alice", "roster").unwrap()[..],
        CANARY.as_bytes()
    );
}
