use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{TimeDelta, Utc};
use credential_store::{
    Basic, Credential, CredentialProvider, ErrorKind, FileKey, FileProvider, KindMetadata, OAuth2,
};
use secrecy::SecretString;

use crate::{CANARY, api_key, assert_no_canary, cheap_kdf};

const PASSPHRASE: &str = "correct horse battery staple";

fn pass() -> SecretString {
    SecretString::from(PASSPHRASE)
}

fn provider(path: &Path) -> FileProvider {
    FileProvider::with_kdf(path, pass(), cheap_kdf())
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.qoc");
    (dir, path)
}

/// A small file holding one credential whose secret is the canary.
fn small_file(path: &Path) -> Vec<u8> {
    provider(path)
        .put_blocking(&api_key("people", "it-ops", CANARY))
        .unwrap();
    std::fs::read(path).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn round_trip_of_every_kind() {
    let (_dir, path) = setup();
    let file = provider(&path);
    let oauth = OAuth2::new(
        "client",
        SecretString::from("client-secret"),
        SecretString::from("refresh"),
        "https://platform.roster.com/1/oauth/access_token",
    )
    .unwrap()
    .with_access_token(
        SecretString::from("access"),
        Some(Utc::now() + TimeDelta::hours(1)),
    );
    let creds = [
        api_key("people", "it-ops", CANARY),
        Credential::new(
            "basic",
            "it-ops",
            Basic::new("admin", SecretString::from("pw")).unwrap(),
        )
        .unwrap(),
        Credential::new("roster", "alice", oauth).unwrap(),
    ];
    for c in &creds {
        file.put(c).await.unwrap();
    }

    // A separate provider (no shared key cache) reads the same.
    let reader = provider(&path);
    for c in &creds {
        let back = reader.get(c.name()).await.unwrap();
        assert_eq!(back.name(), c.name());
        assert_eq!(back.owner(), c.owner());
        assert_eq!(back.metadata().kind, c.metadata().kind);
        assert_eq!(back.header(), c.header(), "same secret applied");
    }
    let names: Vec<String> = reader
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["basic", "people", "roster"]);

    reader.delete("basic").await.unwrap();
    assert!(file.get("basic").await.unwrap_err().is_not_found());
    assert!(file.delete("basic").await.unwrap_err().is_not_found());
    assert!(file.get("missing").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn missing_file_is_empty_and_not_found() {
    let (_dir, path) = setup();
    let file = provider(&path);
    assert!(file.list().await.unwrap().is_empty());
    assert!(file.get("x").await.unwrap_err().is_not_found());
    assert!(!path.exists(), "reads do not create the file");
}

#[tokio::test]
async fn put_replaces_and_keeps_creation_time() {
    let (_dir, path) = setup();
    let file = provider(&path);
    file.put(&api_key("k", "o", "one")).await.unwrap();
    let first = file.get("k").await.unwrap();
    let replacement = api_key("k", "o", "two").with_timestamps(
        Utc::now() + TimeDelta::days(1),
        Utc::now() + TimeDelta::days(1),
    );
    file.put(&replacement).await.unwrap();
    let second = file.get("k").await.unwrap();
    assert_eq!(second.created_at(), first.created_at());
    assert!(second.updated_at() >= first.updated_at());
    assert!(
        second.updated_at() < Utc::now() + TimeDelta::hours(1),
        "stamped now"
    );
    assert_eq!(second.header().unwrap().1, "two");
    assert_eq!(file.list().await.unwrap().len(), 1);
}

#[test]
fn wrong_passphrase_is_reported_as_such() {
    let (_dir, path) = setup();
    small_file(&path);
    let wrong = FileProvider::with_kdf(&path, SecretString::from(CANARY), cheap_kdf());
    let err = wrong.get_blocking("people").unwrap_err();
    match err.kind() {
        ErrorKind::WrongKey { path: p, .. } => assert_eq!(p, &path),
        other => panic!("expected WrongKey, got {other:?}"),
    }
    assert!(err.to_string().contains("wrong passphrase"), "{err}");
    assert_no_canary("wrong passphrase error", &format!("{err} {err:?}"));
    assert_no_canary("provider Debug", &format!("{wrong:?}"));
    assert!(matches!(
        wrong
            .put_blocking(&api_key("x", "o", "s"))
            .unwrap_err()
            .kind(),
        ErrorKind::WrongKey { .. }
    ));
    // The failed write changed nothing.
    assert_eq!(provider(&path).list_blocking().unwrap().len(), 1);
}

#[test]
fn raw_keys_work_and_key_types_are_not_confused() {
    let (_dir, path) = setup();
    let raw = FileProvider::new(&path, FileKey::raw([42; 32]));
    raw.put_blocking(&api_key("k", "o", CANARY)).unwrap();
    assert_eq!(
        FileProvider::new(&path, FileKey::raw([42; 32]))
            .get_blocking("k")
            .unwrap()
            .name(),
        "k"
    );
    for wrong in [
        FileProvider::new(&path, FileKey::raw([43; 32])),
        FileProvider::new(&path, pass()),
    ] {
        let err = wrong.get_blocking("k").unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::WrongKey { .. }), "{err:?}");
    }
    assert_no_canary("FileKey Debug", &format!("{:?}", FileKey::raw([42; 32])));
}

#[test]
fn every_flipped_byte_is_detected() {
    let (_dir, path) = setup();
    let original = small_file(&path);
    assert!(
        original.len() < 600,
        "keep the file small: {}",
        original.len()
    );
    let reader = provider(&path);
    for pattern in [0xFF_u8, 0x01, 0x80] {
        for i in 0..original.len() {
            let mut bytes = original.clone();
            bytes[i] ^= pattern;
            std::fs::write(&path, &bytes).unwrap();
            let err = match reader.get_blocking("people") {
                Ok(c) => panic!("byte {i} ^ {pattern:#04x} accepted silently: {c:?}"),
                Err(e) => e,
            };
            let expected = match err.kind() {
                ErrorKind::Tampered { .. } => true,
                ErrorKind::UnsupportedVersion { .. } => (8..10).contains(&i),
                _ => false,
            };
            assert!(expected, "byte {i} ^ {pattern:#04x}: unexpected {err:?}");
            assert_no_canary("tamper error", &format!("{err} {err:?}"));
        }
    }
    std::fs::write(&path, &original).unwrap();
    assert_eq!(reader.get_blocking("people").unwrap().name(), "people");
}

#[test]
fn every_truncation_is_reported_as_truncated() {
    let (_dir, path) = setup();
    let original = small_file(&path);
    let reader = provider(&path);
    for len in 0..original.len() {
        std::fs::write(&path, &original[..len]).unwrap();
        let err = reader.get_blocking("people").unwrap_err();
        match err.kind() {
            ErrorKind::Truncated { actual, .. } => assert_eq!(*actual, len as u64),
            other => panic!("truncated to {len}: unexpected {other:?}"),
        }
    }
    let mut longer = original.clone();
    longer.push(0);
    std::fs::write(&path, &longer).unwrap();
    let err = reader.get_blocking("people").unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Tampered { .. }), "{err:?}");
}

#[test]
fn other_files_and_versions_are_refused_clearly() {
    let (_dir, path) = setup();
    let original = small_file(&path);
    let reader = provider(&path);

    let mut newer = original.clone();
    newer[8..10].copy_from_slice(&2_u16.to_le_bytes());
    std::fs::write(&path, &newer).unwrap();
    let err = reader.get_blocking("people").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::UnsupportedVersion {
                version: 2,
                supported: 1,
                ..
            }
        ),
        "{err:?}"
    );

    std::fs::write(&path, b"[roster]\ntoken = \"plain text\"\n").unwrap();
    let err = reader.get_blocking("people").unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Tampered { .. }), "{err:?}");
    assert!(err.to_string().contains("bad magic"), "{err}");
}

#[test]
fn secrets_and_passphrase_never_reach_the_file_bytes() {
    let (_dir, path) = setup();
    let bytes = small_file(&path);
    let text = String::from_utf8_lossy(&bytes);
    assert_no_canary("file bytes", &text);
    assert!(!text.contains(PASSPHRASE));
    assert!(!text.contains("people"), "even names are encrypted");
    assert!(!bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()));
}

#[tokio::test]
async fn files_are_private_and_writes_leave_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new-dir").join("credentials.qoc");
    let file = provider(&path);
    file.put(&api_key("k", "o", "s")).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(file.lock_path()), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);

    // A file someone loosened is tightened by the next read, writes included.
    for loose in [0o644, 0o640, 0o604, 0o666] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).unwrap();
        assert_eq!(file.list().await.unwrap().len(), 1);
        assert_eq!(mode(&path), 0o600, "{loose:o} after a read");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    file.put(&api_key("k2", "o", "s")).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    // Tighter than 0600 is left alone.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    assert_eq!(file.get("k2").await.unwrap().name(), "k2");
    assert_eq!(mode(&path), 0o400);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();

    let entries: BTreeSet<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        entries,
        BTreeSet::from([
            "credentials.qoc".to_owned(),
            "credentials.qoc.lock".to_owned()
        ])
    );
}

#[tokio::test]
async fn passphrase_rotation_re_encrypts_under_a_new_salt() {
    let (_dir, path) = setup();
    let before = small_file(&path);
    let file = provider(&path);
    let new_pass = SecretString::from("a new and longer passphrase");

    let err = file
        .rotate_passphrase(SecretString::from("not the old one"), new_pass.clone())
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::WrongKey { .. }), "{err:?}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "failed rotation changes nothing"
    );

    file.rotate_passphrase(pass(), new_pass.clone())
        .await
        .unwrap();
    let after = std::fs::read(&path).unwrap();
    assert_ne!(before[24..40], after[24..40], "fresh salt");
    assert_no_canary("rotated file", &String::from_utf8_lossy(&after));

    // The rotating provider continues with the new passphrase; old ones are locked out.
    assert_eq!(file.get("people").await.unwrap().name(), "people");
    let old = provider(&path).get("people").await.unwrap_err();
    assert!(matches!(old.kind(), ErrorKind::WrongKey { .. }), "{old:?}");
    let fresh = FileProvider::with_kdf(&path, new_pass.clone(), cheap_kdf());
    let cred = fresh.get("people").await.unwrap();
    assert_eq!(cred.header().unwrap().1, CANARY);

    // To a raw (keyring) key and back works too.
    fresh
        .rotate_passphrase(new_pass.clone(), FileKey::raw([9; 32]))
        .await
        .unwrap();
    let raw = FileProvider::new(&path, FileKey::raw([9; 32]));
    assert_eq!(raw.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn secret_rotation_keeps_references() {
    let (_dir, path) = setup();
    let file = provider(&path);
    file.put(&api_key("people", "it-ops", "old-secret"))
        .await
        .unwrap();
    let before = file.get("people").await.unwrap();

    let meta = file
        .rotate_secret("people", SecretString::from(CANARY))
        .await
        .unwrap();
    assert_eq!(meta.name, "people");
    assert_eq!(meta.owner, "it-ops");
    assert_eq!(meta.created_at, before.created_at());
    assert!(meta.updated_at >= before.updated_at());
    assert!(
        matches!(meta.kind, KindMetadata::ApiKey { ref token_name, .. } if token_name == "Authorization2")
    );
    assert_no_canary("rotation metadata", &serde_json::to_string(&meta).unwrap());

    let after = provider(&path).get("people").await.unwrap();
    assert_eq!(after.header().unwrap().1, CANARY);
    assert_eq!(after.created_at(), before.created_at());

    let missing = file
        .rotate_secret("nope", SecretString::from("x"))
        .await
        .unwrap_err();
    assert!(missing.is_not_found());
}

#[test]
fn concurrent_threads_with_separate_providers_lose_no_update() {
    let (_dir, path) = setup();
    std::thread::scope(|scope| {
        for t in 0..8 {
            let path = path.clone();
            scope.spawn(move || {
                let file = provider(&path);
                for i in 0..20 {
                    file.put_blocking(&api_key(&format!("t{t}-{i:02}"), "o", "s"))
                        .unwrap();
                }
            });
        }
    });
    let names: BTreeSet<String> = provider(&path)
        .list_blocking()
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names.len(), 160, "every put survives");
    assert!(names.contains("t0-00") && names.contains("t7-19"));
}

const CHILD_FILE_VAR: &str = "CREDSTORE_IT_CHILD_FILE";
const CHILD_TAG_VAR: &str = "CREDSTORE_IT_CHILD_TAG";

fn write_many(path: &Path, tag: &str, count: usize) {
    let file = provider(path);
    for i in 0..count {
        file.put_blocking(&api_key(&format!("{tag}-{i:02}"), "o", "s"))
            .unwrap();
    }
}

/// The child processes of `two_processes_lose_no_update` run this test (selected with
/// `--exact` and told where to write through the environment). Run on its own it writes
/// to a fresh file and checks the result.
#[test]
fn child_process_writer() {
    if let (Ok(path), Ok(tag)) = (std::env::var(CHILD_FILE_VAR), std::env::var(CHILD_TAG_VAR)) {
        write_many(Path::new(&path), &tag, 20);
        return;
    }
    let (_dir, path) = setup();
    write_many(&path, "solo", 20);
    assert_eq!(provider(&path).list_blocking().unwrap().len(), 20);
}

#[test]
fn two_processes_lose_no_update() {
    let (_dir, path) = setup();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = ["p1", "p2"]
        .iter()
        .map(|tag| {
            Command::new(&exe)
                .args(["--exact", "file::child_process_writer", "--test-threads=1"])
                .env(CHILD_FILE_VAR, &path)
                .env(CHILD_TAG_VAR, tag)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    write_many(&path, "parent", 20);
    for mut child in children {
        assert!(child.wait().unwrap().success(), "child writer failed");
    }
    let names: BTreeSet<String> = provider(&path)
        .list_blocking()
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(
        names.len(),
        60,
        "both processes and the parent kept every put"
    );
    for tag in ["p1", "p2", "parent"] {
        assert!(names.contains(&format!("{tag}-19")), "{tag} missing");
    }
}

#[tokio::test]
async fn blank_and_short_new_passphrases_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.qoc");
    for (weak, reason) in [
        ("", "empty"),
        ("   \t ", "white space"),
        ("eleven-char", "11 characters"),
        ("ééééééééééé", "11 characters"),
    ] {
        // Creating a file under it: refused, and no file appears.
        let file = FileProvider::with_kdf(&path, SecretString::from(weak), cheap_kdf());
        let err = file.put(&api_key("k", "o", CANARY)).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::WeakPassphrase { .. }),
            "{weak:?}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(reason), "{weak:?}: {text}");
        assert!(text.contains("credentials.qoc"), "{text}");
        assert!(!path.exists(), "{weak:?} created a file");
    }
    // Twelve characters are enough (counted as characters, not bytes).
    let twelve = SecretString::from("éééééééééééé");
    FileProvider::with_kdf(&path, twelve.clone(), cheap_kdf())
        .put(&api_key("k", "o", CANARY))
        .await
        .unwrap();
    std::fs::remove_file(&path).unwrap();

    // Rotating to a weak passphrase: refused before anything is read or written; the old
    // passphrase keeps opening the file, also through the provider that was asked.
    let before = small_file(&path);
    let file = provider(&path);
    for weak in ["", "short"] {
        let err = file
            .rotate_passphrase(pass(), SecretString::from(weak))
            .await
            .unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::WeakPassphrase { .. }),
            "{err:?}"
        );
        assert_no_canary("weak passphrase error", &format!("{err} {err:?}"));
        assert_eq!(std::fs::read(&path).unwrap(), before, "{weak:?}");
        assert_eq!(file.get("people").await.unwrap().name(), "people");
        assert_eq!(provider(&path).list().await.unwrap().len(), 1);
    }
    // Raw keys have no length rule.
    file.rotate_passphrase(pass(), FileKey::raw([5; 32]))
        .await
        .unwrap();
}
