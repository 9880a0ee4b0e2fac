//! A canary secret sent as a credential never comes back: not in responses, not in the
//! logs (debug level), not in the database file.

use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::support::{Db, Kind, ServeOptions, Service, config, sandbox};

both!(canary_never_leaks);

const CANARY: &str = "canary-7f3a9c1e-never-show-me";
const CANARY2: &str = "canary-2b8d04aa-rotated-secret";

async fn canary_never_leaks(kind: Kind) {
    let sandbox = sandbox(3).await;
    let db = Db::new(kind).await;
    let token = db.token("acme", false).await;
    let service = Service::start_with(
        &db,
        &ServeOptions {
            log_level: "debug",
            ..ServeOptions::default()
        },
    )
    .await;
    let mut replies = Vec::new();
    // The canary is the Quip credential: the emulator refuses it, so launching fails and
    // the error path is exercised as well.
    replies.push(
        service
            .post(
                "/api/v1/credentials",
                &token,
                &json!({"name": "quip", "kind": "api_key", "secret": CANARY, "prefix": "Bearer "}),
            )
            .await,
    );
    assert_eq!(replies[0].status, 201, "{}", replies[0].text);
    replies.push(
        service
            .post(
                "/api/v1/credentials",
                &token,
                &json!({"name": "oomnitza", "kind": "api_key",
                        "secret": sandbox.oomnitza.token(), "token_name": "Authorization2"}),
            )
            .await,
    );
    replies.push(service.get("/api/v1/credentials", &token).await);
    replies.push(service.get("/api/v1/credentials/quip", &token).await);
    // A duplicate and an invalid one (a newline in the secret) name no secret either.
    replies.push(
        service
            .post(
                "/api/v1/credentials",
                &token,
                &json!({"name": "quip", "kind": "api_key", "secret": CANARY}),
            )
            .await,
    );
    replies.push(
        service
            .post(
                "/api/v1/credentials",
                &token,
                &json!({"name": "bad", "kind": "api_key", "secret": format!("{CANARY}\n")}),
            )
            .await,
    );
    let r = service
        .post(
            "/api/v1/integrations",
            &token,
            &json!({"name": "Leaky?", "config": config(&sandbox, "users")}),
        )
        .await;
    let id = r.json["id"].as_str().unwrap().to_owned();
    replies.push(r);
    let launch = service
        .post(
            &format!("/api/v1/integrations/{id}/launch"),
            &token,
            &json!({}),
        )
        .await;
    assert_eq!(
        launch.status, 422,
        "Quip refuses the canary: {}",
        launch.text
    );
    replies.push(launch);
    replies.push(
        service
            .call(
                Method::PUT,
                "/api/v1/credentials/quip",
                Some(&token),
                Some(&json!({"secret": CANARY2})),
            )
            .await,
    );
    replies.push(
        service
            .get(&format!("/api/v1/integrations/{id}"), &token)
            .await,
    );
    replies.push(service.get("/api/v1/notifications", &token).await);
    let metrics = service
        .http
        .get(service.url("/metrics"))
        .send()
        .await
        .unwrap();
    let metrics = metrics.text().await.unwrap();
    for r in &replies {
        for canary in [CANARY, CANARY2] {
            assert!(
                !r.text.contains(canary),
                "a response leaks the secret: {}",
                r.text
            );
        }
        assert!(!r.text.contains("\"secret\""), "{}", r.text);
    }
    assert!(!metrics.contains(CANARY));
    assert!(service.terminate().await.success());
    let logs = std::fs::read_to_string(service_log(&db)).unwrap();
    assert!(
        logs.contains("credential created"),
        "debug logs were written"
    );
    for canary in [CANARY, CANARY2] {
        assert!(!logs.contains(canary), "the logs leak the secret");
    }
    if let Some(path) = &db.sqlite_path {
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{}{suffix}", path.display());
            if let Ok(bytes) = std::fs::read(&file) {
                for canary in [CANARY, CANARY2] {
                    assert!(
                        !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
                        "{file} holds the secret in clear"
                    );
                }
            }
        }
    } else {
        // PostgreSQL: every text and bytea column of every table.
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&db.url)
            .await
            .unwrap();
        for table in [
            "credentials",
            "integrations",
            "runs",
            "run_errors",
            "notifications",
            "api_tokens",
        ] {
            let rows = sqlx::query(&format!(
                "SELECT CAST(t.* AS TEXT) AS row_text FROM {table} t"
            ))
            .fetch_all(&mut conn)
            .await
            .unwrap();
            for row in rows {
                let text: String = sqlx::Row::try_get(&row, "row_text").unwrap();
                for canary in [CANARY, CANARY2] {
                    assert!(!text.contains(canary), "{table} holds the secret in clear");
                }
            }
        }
    }
    sandbox.shutdown().await;
}

fn service_log(db: &Db) -> std::path::PathBuf {
    std::fs::read_dir(db.dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .expect("a serve log")
}
