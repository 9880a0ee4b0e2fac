//! People: create, get, patch and delete, unique fields, restricted fields.

use http::Method;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::start;

#[tokio::test]
async fn create_get_patch_delete_by_user_id_and_username() {
    let env = start().await;
    let (status, created) = env
        .send(env.post(
            "/api/v3/users",
            &json!({"username": "jane.doe", "email": "jane@acme.example",
                    "first_name": "Jane", "last_name": "Doe", "position": "Employee",
                    "role": "25", "creation_date": null}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let user_id = created["user_id"]
        .as_str()
        .expect("user_id is a string")
        .to_owned();
    assert_eq!(user_id.len(), 32);
    assert!(created["uid"].is_u64(), "uid is an integer");
    assert_ne!(created["uid"].to_string(), user_id);
    assert_eq!(created["role"], 25, "role coerced to an integer");
    assert_eq!(created["full_name"], "Jane Doe");
    assert_eq!(created["suspended"], false);
    assert_eq!(created["version"], 1);
    assert!(created["creation_date"].as_i64().unwrap() > 1_600_000_000);
    assert!(created.as_object().unwrap().contains_key("quip_user_id"));

    let (s1, by_id) = env.send(env.get(&format!("/api/v3/users/{user_id}"))).await;
    let (s2, by_name) = env.send(env.get("/api/v3/users/jane.doe")).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(by_id, by_name);
    assert_eq!(by_id, created);

    let (status, patched) = env
        .send(env.patch("/api/v3/users/jane.doe", &json!({"suspended": true})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["suspended"], true);
    assert_eq!(patched["version"], 2);
    assert_eq!(patched["email"], "jane@acme.example", "PATCH is partial");
    let (_, same) = env
        .send(env.patch(
            &format!("/api/v3/users/{user_id}"),
            &json!({"suspended": true}),
        ))
        .await;
    assert_eq!(same["version"], 2, "no change, no new version");

    let (status, body) = env
        .send(env.patch("/api/v3/users/jane.doe", &json!({"uid": 99})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"]["uid"][0]
            .as_str()
            .unwrap()
            .contains("read-only")
    );

    let (status, body) = env
        .send(env.post("/api/v3/users", &json!({"username": "x", "nickname": "y"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"errors": {"nickname": ["unknown field"]}}));
    let (status, body) = env
        .send(env.post(
            "/api/v3/users",
            &json!({"email": "no-username@acme.example"}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"errors": {"username": ["required field"]}}));
    let (status, _) = env
        .send(env.post(
            "/api/v3/users",
            &json!({"username": "y", "suspended": "maybe"}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, removed) = env
        .send(env.req(Method::DELETE, &format!("/api/v3/users/{user_id}")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(removed["username"], "jane.doe");
    for path in [
        "/api/v3/users/jane.doe",
        &format!("/api/v3/users/{user_id}"),
    ] {
        let (status, body) = env.send(env.get(path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, json!({"errors": ["not found"]}));
    }
    let (status, _) = env
        .send(env.req(Method::DELETE, "/api/v3/users/jane.doe"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
#[tokio::test]
async fn unique_fields_conflict_on_create_and_patch() {
    let env = start().await;
    let meta_header = ("Oomnitza-Ignore-Meta-Restriction", "1");
    let create = |body: Value| {
        env.post("/api/v3/users", &body)
            .header(meta_header.0, meta_header.1)
    };
    let (status, _) = env
        .send(create(json!({"username": "a", "quip_user_id": "UAAA"})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = env
        .send(create(json!({"username": "b", "quip_user_id": "UAAA"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({"errors": {"quip_user_id": ["'UAAA' already exists"]}})
    );
    let (status, body) = env.send(create(json!({"username": "a"}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "username is unique");
    assert!(body["errors"]["username"].is_array());
    assert_eq!(
        env.emu.state().people_count(),
        1,
        "nothing created on conflict"
    );

    // Empty and null values never collide.
    for (name, id) in [("c", json!(null)), ("d", json!("")), ("e", json!(null))] {
        let (status, _) = env
            .send(create(json!({"username": name, "quip_user_id": id})))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body) = env
        .send(
            env.patch("/api/v3/users/c", &json!({"quip_user_id": "UAAA"}))
                .header(meta_header.0, meta_header.1),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["errors"]["quip_user_id"][0], "'UAAA' already exists");
    // Re-writing one's own value is no conflict; freeing it lets another take it.
    let (status, _) = env
        .send(
            env.patch("/api/v3/users/a", &json!({"quip_user_id": "UAAA"}))
                .header(meta_header.0, meta_header.1),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    env.emu
        .state()
        .set_field("a", "quip_user_id", json!("UBBB"))
        .expect("handle write");
    let (status, _) = env
        .send(
            env.patch("/api/v3/users/c", &json!({"quip_user_id": "UAAA"}))
                .header(meta_header.0, meta_header.1),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The state handle enforces uniqueness too.
    let err = env
        .emu
        .state()
        .add_person(json!({"username": "z", "quip_user_id": "UBBB"}))
        .expect_err("duplicate");
    assert_eq!(err.status(), 409);
}
#[tokio::test]
async fn non_editable_field_needs_the_meta_restriction_header() {
    let env = start().await;
    let (status, body) = env
        .send(env.post(
            "/api/v3/users",
            &json!({"username": "a", "quip_user_id": "U1"}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"]["quip_user_id"][0]
            .as_str()
            .unwrap()
            .contains("Oomnitza-Ignore-Meta-Restriction")
    );
    let (status, _) = env
        .send(
            env.post(
                "/api/v3/users",
                &json!({"username": "a", "quip_user_id": "U1"}),
            )
            .header("Oomnitza-Ignore-Meta-Restriction", "0"),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "0 does not lift the restriction"
    );
    let (status, created) = env
        .send(
            env.post(
                "/api/v3/users",
                &json!({"username": "a", "quip_user_id": "U1"}),
            )
            .header("Oomnitza-Ignore-Meta-Restriction", "1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(created["quip_user_id"], "U1");
    let (status, _) = env
        .send(env.patch("/api/v3/users/a", &json!({"quip_user_id": "U2"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Sending back the unchanged value (a whole fetched record) is fine.
    let (status, _) = env.send(env.patch("/api/v3/users/a", &created)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(env.emu.state().person("a").unwrap()["quip_user_id"], "U1");
}
