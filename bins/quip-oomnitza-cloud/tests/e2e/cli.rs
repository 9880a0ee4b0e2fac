//! The commands: `key generate`, `token create`, and `serve` refusing to start without a
//! valid master key (exit 2).

use crate::support::{BIN, Db, Kind, clean_env, free_port};

#[tokio::test]
async fn key_generate_prints_a_key() {
    let out = clean_env(&mut tokio::process::Command::new(BIN))
        .args(["key", "generate"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key = stdout.lines().last().unwrap();
    assert_eq!(key.len(), 44, "base64 of 32 bytes: {key}");
    let again = clean_env(&mut tokio::process::Command::new(BIN))
        .args(["key", "generate"])
        .output()
        .await
        .unwrap();
    assert_ne!(String::from_utf8(again.stdout).unwrap(), stdout, "random");
}

#[tokio::test]
async fn token_create_prints_the_token_last() {
    let db = Db::new(Kind::Sqlite).await;
    let a = db.token("alice", false).await;
    let b = db.token("alice", true).await;
    assert_ne!(a, b);
}

#[tokio::test]
async fn serve_needs_a_valid_master_key() {
    let db = Db::new(Kind::Sqlite).await;
    for key in [None, Some("not base64!"), Some("c2hvcnQ=")] {
        let mut cmd = tokio::process::Command::new(BIN);
        clean_env(&mut cmd).args([
            "serve",
            "--database",
            &db.url,
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
        ]);
        if let Some(k) = key {
            cmd.env("QUIP_OOMNITZA_MASTER_KEY", k);
        }
        let out = tokio::time::timeout(std::time::Duration::from_secs(60), cmd.output())
            .await
            .expect("serve exits at once")
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{key:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("QUIP_OOMNITZA_MASTER_KEY"), "{stderr}");
        assert!(stderr.contains("key generate"), "{stderr}");
        if let Some(k) = key {
            assert!(!stderr.contains(k), "the key is not echoed: {stderr}");
        }
    }
    // Nothing was created before the key was checked.
    assert!(!db.sqlite_path.as_ref().unwrap().exists());
}
