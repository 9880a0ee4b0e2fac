use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use credential_store::keyring::connect_store;
use credential_store::{Chain, CredentialProvider, ErrorKind, FileProvider, KeyringProvider};
use keyring_core::api::CredentialStoreApi;
use keyring_core::{CredentialStore, Entry, mock};
use secrecy::SecretString;

use crate::{CANARY, api_key, assert_no_canary, cheap_kdf};

fn mock_store() -> Arc<CredentialStore> {
    mock::Store::new().unwrap()
}

#[tokio::test]
async fn round_trip_list_and_delete_in_a_keyring_store() {
    let store = mock_store();
    let keyring = KeyringProvider::new(Arc::clone(&store));
    keyring
        .put(&api_key("people", "it-ops", CANARY))
        .await
        .unwrap();
    keyring
        .put(&api_key("roster", "it-ops", "q"))
        .await
        .unwrap();

    let cred = keyring.get("people").await.unwrap();
    assert_eq!(cred.owner(), "it-ops");
    assert_eq!(cred.header().unwrap().1, CANARY);

    let listing = keyring.list().await.unwrap();
    let names: Vec<&str> = listing.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["people", "roster"]);
    assert_no_canary("keyring listing", &serde_json::to_string(&listing).unwrap());
    assert_no_canary("keyring provider Debug", &format!("{keyring:?}"));

    // Stored under service `roster-people`, user = name.
    let entry = Entry::new_in_store(
        &store,
        credential_store::keyring::DEFAULT_KEYRING_SERVICE,
        "people",
    )
    .unwrap();
    assert!(entry.get_secret().is_ok());

    keyring.delete("people").await.unwrap();
    assert!(keyring.get("people").await.unwrap_err().is_not_found());
    assert!(keyring.delete("people").await.unwrap_err().is_not_found());
    assert_eq!(keyring.list().await.unwrap().len(), 1);

    let rotated = keyring.rotate_secret("roster", "new".into()).await.unwrap();
    assert_eq!(rotated.name, "roster");
    assert_eq!(
        keyring.get("roster").await.unwrap().header().unwrap().1,
        "new"
    );
}

#[tokio::test]
async fn separate_services_do_not_see_each_other() {
    let store = mock_store();
    let a = KeyringProvider::new(Arc::clone(&store)).with_service("install-a");
    let b = KeyringProvider::new(store).with_service("install-b");
    a.put(&api_key("roster", "o", "s")).await.unwrap();
    assert!(b.get("roster").await.unwrap_err().is_not_found());
    assert!(b.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn without_a_store_every_call_is_unavailable() {
    let keyring = KeyringProvider::unavailable("no keyring service on this server");
    assert!(!keyring.is_available());
    for err in [
        keyring.get("roster").await.unwrap_err(),
        keyring.put(&api_key("roster", "o", "s")).await.unwrap_err(),
        keyring.delete("roster").await.unwrap_err(),
        keyring.list().await.unwrap_err(),
        keyring.file_key("main").await.unwrap_err(),
    ] {
        assert!(err.is_unavailable(), "{err:?}");
        assert!(err.falls_through());
        assert!(err.to_string().contains("no keyring service"), "{err}");
    }
}

#[tokio::test]
async fn platform_storage_failures_are_unavailable_other_failures_are_not() {
    let store = mock_store();
    let keyring = KeyringProvider::new(Arc::clone(&store));
    keyring.put(&api_key("roster", "o", CANARY)).await.unwrap();
    let entry = Entry::new_in_store(
        &store,
        credential_store::keyring::DEFAULT_KEYRING_SERVICE,
        "roster",
    )
    .unwrap();
    let cred: &mock::Cred = entry.as_any().downcast_ref().unwrap();

    cred.set_error(keyring_core::Error::NoStorageAccess(Box::new(
        std::io::Error::other("org.freedesktop.secrets was not provided by any .service files"),
    )));
    let err = keyring.get("roster").await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");

    cred.set_error(keyring_core::Error::BadEncoding(CANARY.as_bytes().to_vec()));
    let err = keyring.get("roster").await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Keyring { .. }), "{err:?}");
    assert!(!err.falls_through());
    assert_no_canary("keyring error", &format!("{err} {err:?}"));

    // Errors are consumed by the mock: the entry is intact afterwards.
    assert_eq!(keyring.get("roster").await.unwrap().name(), "roster");
}

#[tokio::test]
async fn garbage_in_an_entry_is_an_error_that_stops_the_chain() {
    let store = mock_store();
    let entry = Entry::new_in_store(
        &store,
        credential_store::keyring::DEFAULT_KEYRING_SERVICE,
        "roster",
    )
    .unwrap();
    entry.set_password(&format!("not json {CANARY}")).unwrap();
    let err = KeyringProvider::new(store).get("roster").await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Keyring { .. }), "{err:?}");
    assert_no_canary("keyring error", &format!("{err} {err:?}"));
}

#[tokio::test]
async fn file_key_is_created_once_and_opens_the_file() {
    let store = mock_store();
    let keyring = KeyringProvider::new(store);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.qoc");

    let key = keyring.file_key("main").await.unwrap();
    FileProvider::new(&path, key)
        .put(&api_key("roster", "o", CANARY))
        .await
        .unwrap();
    // Another run fetches the same key from the keyring.
    let again = keyring.file_key("main").await.unwrap();
    let cred = FileProvider::new(&path, again).get("roster").await.unwrap();
    assert_eq!(cred.header().unwrap().1, CANARY);
    // A different id is a different key.
    let other = keyring.file_key("other").await.unwrap();
    let err = FileProvider::new(&path, other)
        .get("roster")
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::WrongKey { .. }), "{err:?}");
}

#[tokio::test]
async fn default_store_is_used_when_set() {
    // No other test in this binary sets the process-wide default store.
    assert!(!KeyringProvider::from_default_store().is_available());
    let err = KeyringProvider::from_default_store()
        .get("roster")
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");

    keyring_core::set_default_store(mock::Store::new().unwrap());
    let keyring = KeyringProvider::from_default_store().with_service("default-store-test");
    keyring.put(&api_key("roster", "o", "s")).await.unwrap();
    assert_eq!(keyring.get("roster").await.unwrap().name(), "roster");
    keyring_core::unset_default_store();
}

/// A keyring store whose every call blocks for ever: the Secret Service behind a D-Bus
/// session bus that accepts connections and never answers.
#[derive(Debug)]
struct Wedged;

fn block_for_ever() -> ! {
    loop {
        std::thread::park();
    }
}

impl CredentialStoreApi for Wedged {
    fn vendor(&self) -> String {
        "wedged test store".to_owned()
    }

    fn id(&self) -> String {
        "wedged".to_owned()
    }

    fn build(
        &self,
        _service: &str,
        _user: &str,
        _modifiers: Option<&HashMap<&str, &str>>,
    ) -> keyring_core::Result<Entry> {
        block_for_ever()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

const SHORT: Duration = Duration::from_millis(200);

/// (Each test returning at all shows that no stuck thread is ever joined: the threads
/// are still parked when the test's runtime shuts down.)
#[tokio::test]
async fn a_keyring_that_never_answers_times_out_and_is_skipped_from_then_on() {
    let keyring = KeyringProvider::new(Arc::new(Wedged)).with_timeout(SHORT);
    let err = keyring.get("roster").await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.falls_through());
    assert!(
        err.to_string().contains("did not answer within 200ms"),
        "{err}"
    );

    // Later calls, clones included, do not queue up behind the stuck one.
    let clone = keyring.clone();
    for err in [
        keyring
            .put(&api_key("roster", "o", CANARY))
            .await
            .unwrap_err(),
        keyring.delete("roster").await.unwrap_err(),
        clone.list().await.unwrap_err(),
        clone.file_key("main").await.unwrap_err(),
    ] {
        assert!(err.is_unavailable(), "{err:?}");
        assert!(err.to_string().contains("skipped"), "{err}");
        assert_no_canary("keyring timeout error", &format!("{err} {err:?}"));
    }
}

#[tokio::test]
async fn the_chain_goes_on_past_a_keyring_that_never_answers() {
    let dir = tempfile::tempdir().unwrap();
    let file = FileProvider::with_kdf(
        dir.path().join("c.qoc"),
        SecretString::from("chain test passphrase"),
        cheap_kdf(),
    );
    file.put_blocking(&api_key("roster", "o", CANARY)).unwrap();
    for first in ["get", "list", "put"] {
        let chain = Chain::new()
            .with(KeyringProvider::new(Arc::new(Wedged)).with_timeout(SHORT))
            .with(file.clone());
        // Whichever call meets the stuck keyring first, every call is answered.
        match first {
            "get" => {}
            "list" => assert_eq!(chain.list().await.unwrap().len(), 1),
            _ => chain.put(&api_key("other", "o", "s")).await.unwrap(),
        }
        let (cred, source) = chain.get_with_source("roster").await.unwrap();
        assert_eq!(cred.header().unwrap().1, CANARY);
        assert!(source.starts_with("file "), "{source}");
        let names: Vec<String> = chain
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert!(names.contains(&"roster".to_owned()), "{names:?}");
    }
    // The writes went to the file.
    assert_eq!(file.get("other").await.unwrap().name(), "other");
}

#[tokio::test]
async fn connecting_to_a_keyring_that_never_answers_times_out() {
    let err = connect_store(SHORT, || -> keyring_core::Result<Arc<Wedged>> {
        block_for_ever()
    })
    .await
    .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.to_string().contains("did not answer"), "{err}");

    // A store that reports an error is unavailable too; one that opens is usable.
    let err = connect_store(SHORT, || -> keyring_core::Result<Arc<Wedged>> {
        Err(keyring_core::Error::NoStorageAccess(Box::new(
            std::io::Error::other("no session bus"),
        )))
    })
    .await
    .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.to_string().contains("no session bus"), "{err}");
    let store = connect_store(Duration::from_secs(600), mock::Store::new)
        .await
        .unwrap();
    let keyring = KeyringProvider::new(store);
    keyring.put(&api_key("roster", "o", CANARY)).await.unwrap();
    assert_eq!(keyring.get("roster").await.unwrap().name(), "roster");
}
