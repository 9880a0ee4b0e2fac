//! Bearer tokens and owner scoping: no token is 401, another owner's things are 404,
//! only admins mint tokens.

use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::support::{Db, Kind, Service, create_credentials, launched_integration, sandbox};

both!(tokens_and_owners);

async fn tokens_and_owners(kind: Kind) {
    let sandbox = sandbox(3).await;
    let db = Db::new(kind).await;
    let alice = db.token("alice", false).await;
    let bob = db.token("bob", false).await;
    let admin = db.token("root", true).await;
    let service = Service::start(&db).await;
    create_credentials(&service, &alice, &sandbox).await;
    let id = launched_integration(&service, &alice, &sandbox, "Alice's").await;
    let r = service
        .post(
            &format!("/api/v1/integrations/{id}/runs"),
            &alice,
            &json!({}),
        )
        .await;
    let run = r.json["id"].as_str().unwrap().to_owned();

    let every: Vec<(Method, String)> = vec![
        (Method::GET, "/api/v1/credentials".into()),
        (Method::POST, "/api/v1/credentials".into()),
        (Method::GET, "/api/v1/credentials/quip".into()),
        (Method::PUT, "/api/v1/credentials/quip".into()),
        (Method::DELETE, "/api/v1/credentials/quip".into()),
        (Method::GET, "/api/v1/integrations".into()),
        (Method::POST, "/api/v1/integrations".into()),
        (Method::GET, format!("/api/v1/integrations/{id}")),
        (Method::PUT, format!("/api/v1/integrations/{id}")),
        (Method::DELETE, format!("/api/v1/integrations/{id}")),
        (Method::POST, format!("/api/v1/integrations/{id}/launch")),
        (Method::POST, format!("/api/v1/integrations/{id}/pause")),
        (Method::GET, format!("/api/v1/integrations/{id}/schedule")),
        (Method::PUT, format!("/api/v1/integrations/{id}/schedule")),
        (Method::GET, format!("/api/v1/integrations/{id}/runs")),
        (Method::POST, format!("/api/v1/integrations/{id}/runs")),
        (Method::GET, format!("/api/v1/runs/{run}")),
        (Method::GET, "/api/v1/notifications".into()),
        (Method::POST, "/api/v1/notifications/x/read".into()),
        (Method::POST, "/api/v1/tokens".into()),
    ];
    for (method, path) in &every {
        for token in [None, Some("qot_not-a-real-token"), Some("")] {
            let r = service.call(method.clone(), path, token, None).await;
            assert_eq!(r.problem(401), "/problems/unauthorized", "{method} {path}");
        }
    }

    // Bob sees none of Alice's things, and cannot change them.
    let scoped: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, "/api/v1/credentials/quip".into(), None),
        (
            Method::PUT,
            "/api/v1/credentials/quip".into(),
            Some(json!({"secret": "x"})),
        ),
        (Method::DELETE, "/api/v1/credentials/quip".into(), None),
        (Method::GET, format!("/api/v1/integrations/{id}"), None),
        (
            Method::PUT,
            format!("/api/v1/integrations/{id}"),
            Some(json!({"version": 1})),
        ),
        (Method::DELETE, format!("/api/v1/integrations/{id}"), None),
        (
            Method::POST,
            format!("/api/v1/integrations/{id}/launch"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/integrations/{id}/pause"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/integrations/{id}/schedule"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/integrations/{id}/schedule"),
            Some(json!({"every": "1d"})),
        ),
        (Method::GET, format!("/api/v1/integrations/{id}/runs"), None),
        (
            Method::POST,
            format!("/api/v1/integrations/{id}/runs"),
            None,
        ),
        (Method::GET, format!("/api/v1/runs/{run}"), None),
    ];
    for (method, path, body) in &scoped {
        let r = service
            .call(method.clone(), path, Some(&bob), body.as_ref())
            .await;
        assert_eq!(r.problem(404), "/problems/not-found", "{method} {path}");
    }
    let r = service.get("/api/v1/credentials", &bob).await;
    assert_eq!(r.json["items"], json!([]), "{}", r.text);
    let r = service.get("/api/v1/integrations", &bob).await;
    assert_eq!(r.json["items"], json!([]), "{}", r.text);
    // Bob may name a credential "quip" of his own; Alice's is untouched.
    let r = service
        .post(
            "/api/v1/credentials",
            &bob,
            &json!({"name": "quip", "kind": "api_key", "secret": "bobs"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = service.get("/api/v1/credentials/quip", &alice).await;
    assert_eq!(r.status, 200);
    // Alice's run still finishes with Alice's credentials.
    let done = service.wait_run(&alice, &run).await;
    assert_eq!(done["outcome"], "succeeded", "{done}");

    // Tokens: a non-admin cannot mint them; an admin can, and the new one works.
    let r = service
        .post(
            "/api/v1/tokens",
            &alice,
            &json!({"user": "mallory", "admin": true}),
        )
        .await;
    assert_eq!(r.problem(403), "/problems/forbidden");
    let r = service
        .post("/api/v1/tokens", &admin, &json!({"user": "carol"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let carol = r.json["token"].as_str().unwrap().to_owned();
    let r = service.get("/api/v1/integrations", &carol).await;
    assert_eq!(r.status, 200);
    assert!(service.terminate().await.success());
    sandbox.shutdown().await;
}
