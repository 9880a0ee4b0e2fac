//! Credentials sealed with the master key through credential-store's DatabaseProvider.

use std::sync::Arc;

use credential_store::{
    Credential, CredentialKind, CredentialProvider as _, DatabaseProvider, MasterKey, Placement,
};
use secrecy::{ExposeSecret as _, SecretString};

use crate::support::{Kind, TestDb};

const CANARY: &str = "canary-7c1e4b2d9f0a4e51-do-not-store";

both!(
    canary_secret_is_absent_from_storage,
    wrong_master_key_is_a_clear_error,
    master_key_rotation_rewraps_every_row
);

async fn put_canary(db: &TestDb, key: MasterKey) -> (DatabaseProvider<sync_store::Store>, String) {
    let owner = db.store.ensure_owner("it-ops").await.unwrap();
    let provider = DatabaseProvider::new(Arc::new(db.store.clone()), &owner.id, Arc::new(key));
    let kind = CredentialKind::api_key(
        "Authorization2",
        Placement::Header,
        None,
        SecretString::from(CANARY),
    )
    .unwrap();
    provider
        .put(&Credential::new("oomnitza-canary-name", &owner.id, kind).unwrap())
        .await
        .unwrap();
    (provider, owner.id)
}

fn secret_of(credential: &Credential) -> String {
    match credential.kind() {
        CredentialKind::ApiKey(k) => k.secret().expose_secret().to_owned(),
        other => panic!("unexpected kind {other:?}"),
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn pg_dump() -> Option<String> {
    let mut candidates: Vec<String> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin/pg_dump").to_string_lossy().into_owned())
        .collect();
    candidates.push("pg_dump".to_owned());
    candidates.into_iter().find(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

async fn canary_secret_is_absent_from_storage(kind: Kind) {
    let db = TestDb::new(kind).await;
    let (provider, owner) = put_canary(&db, MasterKey::generate("k1").unwrap()).await;
    let back = provider.get("oomnitza-canary-name").await.unwrap();
    assert_eq!(secret_of(&back), CANARY, "round trip");
    let listed = provider.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!format!("{listed:?} {back:?}").contains(CANARY));
    // Another owner sees nothing.
    let other = provider.for_owner("someone-else");
    assert!(
        other
            .get("oomnitza-canary-name")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(other.list().await.unwrap().is_empty());
    assert_eq!(
        db.store.credential_key_ids().await.unwrap(),
        [("k1".to_owned(), 1)]
    );

    match kind {
        Kind::Sqlite => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(db.store.pool())
                .await
                .unwrap();
            let path = db.sqlite_path.clone().unwrap();
            let mut bytes = std::fs::read(&path).unwrap();
            for suffix in ["-wal", "-shm"] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                bytes.extend(std::fs::read(p).unwrap_or_default());
            }
            // The scan sees the data: the clear metadata is there, the secret is not.
            assert!(contains(&bytes, "oomnitza-canary-name"));
            assert!(
                !contains(&bytes, CANARY),
                "the secret is in the SQLite file"
            );
        }
        Kind::Postgres => {
            let Some(pg_dump) = pg_dump() else {
                assert!(
                    std::env::var("SYNC_STORE_REQUIRE_PG").as_deref() != Ok("1"),
                    "pg_dump not found"
                );
                eprintln!("pg_dump not found: dump check skipped");
                return;
            };
            let out = std::process::Command::new(pg_dump)
                .args(["--data-only", "--inserts", &db.location])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(contains(&out.stdout, "oomnitza-canary-name"));
            assert!(contains(&out.stdout, &owner));
            assert!(
                !contains(&out.stdout, CANARY),
                "the secret is in pg_dump output"
            );
        }
    }
}

async fn wrong_master_key_is_a_clear_error(kind: Kind) {
    let db = TestDb::new(kind).await;
    let (provider, owner) = put_canary(&db, MasterKey::generate("k1").unwrap()).await;
    drop(provider);
    let store = Arc::new(db.store.clone());
    let same_id = DatabaseProvider::new(
        Arc::clone(&store),
        &owner,
        Arc::new(MasterKey::generate("k1").unwrap()),
    );
    let e = same_id
        .get("oomnitza-canary-name")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("wrong master key"), "{e}");
    assert!(
        e.contains("oomnitza-canary-name") && !e.contains(CANARY),
        "{e}"
    );
    let other_id =
        DatabaseProvider::new(store, &owner, Arc::new(MasterKey::generate("k2").unwrap()));
    let e = other_id
        .get("oomnitza-canary-name")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sealed with master key `k1`, but the key given is `k2`"),
        "{e}"
    );
}

async fn master_key_rotation_rewraps_every_row(kind: Kind) {
    let db = TestDb::new(kind).await;
    let k1 = MasterKey::generate("k1").unwrap();
    let k1_copy = MasterKey::from_base64("k1", &k1.to_base64()).unwrap();
    let (_, owner) = put_canary(&db, k1).await;
    let k2 = MasterKey::generate("k2").unwrap();
    let k2_copy = MasterKey::from_base64("k2", &k2.to_base64()).unwrap();
    assert_eq!(db.store.rotate_master_key(&k1_copy, &k2).await.unwrap(), 1);
    assert_eq!(
        db.store.rotate_master_key(&k1_copy, &k2).await.unwrap(),
        0,
        "idempotent"
    );
    assert_eq!(
        db.store.credential_key_ids().await.unwrap(),
        [("k2".to_owned(), 1)]
    );
    let store = Arc::new(db.store.clone());
    let new = DatabaseProvider::new(Arc::clone(&store), &owner, Arc::new(k2_copy));
    assert_eq!(
        secret_of(&new.get("oomnitza-canary-name").await.unwrap()),
        CANARY
    );
    let old = DatabaseProvider::new(store, &owner, Arc::new(k1_copy));
    assert!(old.get("oomnitza-canary-name").await.is_err());
}
