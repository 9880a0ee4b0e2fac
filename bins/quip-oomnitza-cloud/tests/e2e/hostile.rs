//! Every endpoint answers bad input with a 4xx problem+json, never a 500 or a bare body:
//! malformed JSON, unknown fields, wrong types, oversized bodies, wrong content types,
//! bad query strings, wrong methods, unknown paths.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::support::{Db, Kind, Service, create_credentials, launched_integration, sandbox};

both!(bad_input_everywhere);

struct Endpoint {
    method: Method,
    path: String,
    /// A valid body (unknown fields and wrong types are made from it).
    valid: Value,
    /// A field whose value is replaced by a wrong type.
    typed: &'static str,
}

async fn bad_input_everywhere(kind: Kind) {
    let sandbox = sandbox(3).await;
    let db = Db::new(kind).await;
    let token = db.token("acme", false).await;
    let admin = db.token("root", true).await;
    let service = Service::start(&db).await;
    create_credentials(&service, &token, &sandbox).await;
    let id = launched_integration(&service, &token, &sandbox, "Target").await;
    let ep = |method: Method, path: String, valid: Value, typed: &'static str| Endpoint {
        method,
        path,
        valid,
        typed,
    };
    let endpoints = vec![
        ep(
            Method::POST,
            "/api/v1/credentials".into(),
            json!({"name": "n", "kind": "api_key", "secret": "s"}),
            "name",
        ),
        ep(
            Method::PUT,
            "/api/v1/credentials/quip".into(),
            json!({"secret": "s"}),
            "secret",
        ),
        ep(
            Method::POST,
            "/api/v1/integrations".into(),
            json!({"name": "x", "config": {}}),
            "name",
        ),
        ep(
            Method::PUT,
            format!("/api/v1/integrations/{id}"),
            json!({"version": 1}),
            "version",
        ),
        ep(
            Method::POST,
            format!("/api/v1/integrations/{id}/launch"),
            json!({"version": 1}),
            "version",
        ),
        ep(
            Method::POST,
            format!("/api/v1/integrations/{id}/pause"),
            json!({"version": 1}),
            "version",
        ),
        ep(
            Method::PUT,
            format!("/api/v1/integrations/{id}/schedule"),
            json!({"every": "1d"}),
            "every",
        ),
        ep(
            Method::POST,
            format!("/api/v1/integrations/{id}/runs"),
            json!({}),
            "",
        ),
        ep(
            Method::POST,
            "/api/v1/tokens".into(),
            json!({"user": "u"}),
            "user",
        ),
    ];
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    for e in &endpoints {
        let who = if e.path == "/api/v1/tokens" {
            &admin
        } else {
            &token
        };
        let what = format!("{} {}", e.method, e.path);
        let mut cases: Vec<(&str, Option<&str>, Vec<u8>)> = vec![
            (
                "malformed",
                Some("application/json"),
                b"{\"name\": ".to_vec(),
            ),
            ("trailing", Some("application/json"), b"{} {}".to_vec()),
            ("array", Some("application/json"), b"[]".to_vec()),
            ("string", Some("application/json"), b"\"hello\"".to_vec()),
            (
                "oversized",
                Some("application/json"),
                huge.clone().into_bytes(),
            ),
            ("not json", Some("text/plain"), b"name=x".to_vec()),
        ];
        let mut unknown = e.valid.clone();
        unknown["surprise"] = json!(true);
        let unknown = serde_json::to_vec(&unknown).unwrap();
        cases.push(("unknown field", Some("application/json"), unknown));
        if !e.typed.is_empty() {
            let mut typed = e.valid.clone();
            typed[e.typed] = json!({"nested": [1, 2]});
            cases.push((
                "wrong type",
                Some("application/json"),
                serde_json::to_vec(&typed).unwrap(),
            ));
        }
        for (case, ct, body) in cases {
            let r = service
                .raw(e.method.clone(), &e.path, Some(who), ct, body)
                .await;
            assert!(
                (400..500).contains(&r.status),
                "{what} with {case}: {} {}",
                r.status,
                r.text
            );
            r.problem(r.status);
        }
    }
    // Query strings.
    for path in [
        "/api/v1/credentials?limit=0",
        "/api/v1/credentials?limit=abc",
        "/api/v1/integrations?surprise=1",
        &format!("/api/v1/integrations/{id}/runs?limit=1000"),
        &format!("/api/v1/integrations/{id}/runs?limit=-1"),
        "/api/v1/notifications?unread=maybe",
    ] {
        let r = service.get(path, &token).await;
        assert!((400..500).contains(&r.status), "{path}: {}", r.text);
        r.problem(r.status);
    }
    // Wrong methods and unknown paths are problems too.
    let r = service
        .call(Method::PATCH, "/api/v1/credentials", Some(&token), None)
        .await;
    assert_eq!(r.problem(405), "/problems/method-not-allowed");
    let r = service.get("/api/v1/nothing-here", &token).await;
    assert_eq!(r.problem(404), "/problems/not-found");
    let r = service.get("/api/v1/runs/%ZZ", &token).await;
    assert!((400..500).contains(&r.status), "{}", r.text);
    r.problem(r.status);
    // The service is still well.
    let r = service
        .get(&format!("/api/v1/integrations/{id}"), &token)
        .await;
    assert_eq!(r.status, 200);
    assert!(!service.logs().contains("panicked"), "{}", service.logs());
    assert!(service.terminate().await.success());
    sandbox.shutdown().await;
}
