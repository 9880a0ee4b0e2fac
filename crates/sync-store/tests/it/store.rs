//! Opening, migrations, tokens and integrations.

use secrecy::{ExposeSecret as _, SecretString};
use sqlx::Row as _;
use sync_store::{
    Backend, IntegrationStatus, IntegrationUpdate, NewIntegration, SettingsFormat, StoreOptions,
};

use crate::support::{Kind, TestDb};

both!(
    opens_on_first_start_and_reopens,
    tokens_are_stored_hashed,
    integrations_have_optimistic_concurrency
);

async fn opens_on_first_start_and_reopens(kind: Kind) {
    let db = TestDb::new(kind).await;
    let owner = db.store.ensure_owner("it-ops").await.unwrap();
    // Migrations are applied once; a second process opening the database is fine.
    let again = db.reopen(StoreOptions::default()).await;
    assert_eq!(again.ensure_owner("it-ops").await.unwrap(), owner);
    match kind {
        Kind::Sqlite => {
            assert_eq!(db.store.backend(), Backend::Sqlite);
            assert!(
                db.sqlite_path.as_ref().unwrap().is_file(),
                "one file, created"
            );
            let mode: String = sqlx::query("PRAGMA journal_mode")
                .fetch_one(db.store.pool())
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
            assert_eq!(mode, "wal");
            let busy: i64 = sqlx::query("PRAGMA busy_timeout")
                .fetch_one(db.store.pool())
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
            assert_eq!(busy, 30_000);
        }
        Kind::Postgres => {
            assert_eq!(db.store.backend(), Backend::Postgres);
            assert!(!db.store.describe().contains("password"));
        }
    }
    let applied: i64 = sqlx::query("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(db.store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(applied, 1);
}

async fn tokens_are_stored_hashed(kind: Kind) {
    let db = TestDb::new(kind).await;
    let owner = db.store.ensure_owner("alice").await.unwrap();
    let (id, token) = db
        .store
        .create_token(&owner, true, Some("ci"))
        .await
        .unwrap();
    assert!(token.expose_secret().starts_with(sync_store::TOKEN_PREFIX));
    let info = db.store.authenticate(&token).await.unwrap().expect("valid");
    assert_eq!(info.owner, owner);
    assert!(info.admin);
    assert_eq!(info.id, id);
    let (_, plain) = db.store.create_token(&owner, false, None).await.unwrap();
    assert!(!db.store.authenticate(&plain).await.unwrap().unwrap().admin);
    let wrong = SecretString::from(format!("{}x", token.expose_secret()));
    assert!(db.store.authenticate(&wrong).await.unwrap().is_none());
    // Only the hash is at rest.
    let rows = sqlx::query("SELECT token_sha256, label FROM api_tokens")
        .fetch_all(db.store.pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        let hash: String = row.try_get(0).unwrap();
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(token.expose_secret()) && !hash.contains(plain.expose_secret()));
    }
    assert!(db.store.revoke_token(&owner, &id).await.unwrap());
    assert!(
        db.store.authenticate(&token).await.unwrap().is_none(),
        "revoked"
    );
    assert!(
        !db.store.revoke_token(&owner, &id).await.unwrap(),
        "only once"
    );
}

async fn integrations_have_optimistic_concurrency(kind: Kind) {
    let db = TestDb::new(kind).await;
    let alice = db.store.ensure_owner("alice").await.unwrap();
    let bob = db.store.ensure_owner("bob").await.unwrap();
    let new = NewIntegration::new("Directory", r#"{"integration": {"mode": "users"}}"#)
        .with_contacts(["ops@example.com"]);
    let created = db.store.create_integration(&alice.id, &new).await.unwrap();
    assert_eq!(created.status, IntegrationStatus::Draft);
    assert_eq!(created.version, 1);
    assert_eq!(created.contacts, ["ops@example.com"]);
    let dup = db
        .store
        .create_integration(&alice.id, &new)
        .await
        .unwrap_err();
    assert!(dup.to_string().contains("exists already"), "{dup}");
    // Same name for another owner is fine; another owner cannot see Alice's.
    db.store.create_integration(&bob.id, &new).await.unwrap();
    assert!(
        db.store
            .integration(&bob.id, &created.id)
            .await
            .unwrap_err()
            .is_not_found()
    );

    let update = IntegrationUpdate {
        settings: Some((
            "[integration]\nmode = \"users\"\n".to_owned(),
            SettingsFormat::Toml,
        )),
        contacts: Some(vec!["a@example.com".to_owned(), "b@example.com".to_owned()]),
        ..IntegrationUpdate::default()
    };
    let updated = db
        .store
        .update_integration(&alice.id, &created.id, 1, &update)
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.settings_format, SettingsFormat::Toml);
    let stale = db
        .store
        .update_integration(&alice.id, &created.id, 1, &update)
        .await
        .unwrap_err();
    assert!(stale.is_version_conflict(), "{stale}");
    assert!(
        stale.to_string().contains("version 1 expected, 2 stored"),
        "{stale}"
    );

    let bad = IntegrationUpdate {
        contacts: Some(vec!["not an address".to_owned()]),
        ..IntegrationUpdate::default()
    };
    assert!(
        db.store
            .update_integration(&alice.id, &created.id, 2, &bad)
            .await
            .is_err()
    );
    let bad_json = NewIntegration::new("Broken", "{not json");
    assert!(
        db.store
            .create_integration(&alice.id, &bad_json)
            .await
            .is_err()
    );

    let launched = db
        .store
        .set_status(&alice.id, &created.id, IntegrationStatus::Launched, Some(2))
        .await
        .unwrap();
    assert_eq!(
        (launched.status, launched.version),
        (IntegrationStatus::Launched, 3)
    );
    assert!(
        db.store
            .schedule(&created.id)
            .await
            .unwrap()
            .next_run_at
            .is_some()
    );
    let paused = db
        .store
        .set_status(&alice.id, &created.id, IntegrationStatus::Paused, None)
        .await
        .unwrap();
    assert_eq!(paused.status, IntegrationStatus::Paused);
    assert!(
        db.store
            .schedule(&created.id)
            .await
            .unwrap()
            .next_run_at
            .is_none()
    );
    assert_eq!(db.store.integrations(&alice.id).await.unwrap().len(), 1);
    assert!(
        db.store
            .delete_integration(&alice.id, &created.id)
            .await
            .unwrap()
    );
    assert!(
        !db.store
            .delete_integration(&alice.id, &created.id)
            .await
            .unwrap()
    );
}
