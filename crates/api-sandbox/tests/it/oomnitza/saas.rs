//! SaaS applications and their roles.

use http::Method;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{start, total_count, urlencode};

#[tokio::test]
async fn saas_app_create_find_and_get() {
    let env = start().await;
    let (status, body) = env
        .send(env.post("/api/v3/saas", &json!({"saas_name": "Quip"})))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the SaaS schema's required fields"
    );
    for field in ["linked", "link_key", "source", "ignored"] {
        assert_eq!(body["errors"][field][0], "required field", "{body}");
    }
    let (status, body) = env
        .send(env.post(
            "/api/v3/saas",
            &json!({"saas_name": "Quip", "linked": "false", "link_key": "quip",
                    "source": "quip_users", "ignored": "false"}),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        body,
        json!({"saas_id": "4"}),
        "a string id, after 3 preset apps"
    );
    let response = env
        .get(&format!(
            "/api/v3/saas?filter={}",
            urlencode("saas_name eq 'Quip'")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(total_count(&response), 1);
    let found: Value = response.json().await.unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["saas_id"], 4, "an integer in the record");
    assert_eq!(found[0]["saas_name"], "Quip");
    assert_eq!(found[0]["createdby"], "api-token-user");
    let (status, app) = env.send(env.get("/api/v3/saas/4")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app, found[0]);
    let (status, _) = env.send(env.get("/api/v3/saas/99")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = env
        .send(env.post("/api/v3/saas", &json!({"category": "x"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"]["saas_name"][0], "required field");
    let (_, all) = env.send(env.get("/api/v3/saas")).await;
    assert_eq!(all.as_array().unwrap().len(), 4);
    assert_eq!(env.emu.state().saas_app_id("Quip"), Some(4));
}
#[tokio::test]
async fn roles_create_assign_and_overwrite() {
    let env = start().await;
    let state = env.emu.state();
    let saas_id = state.add_saas_app("Quip");
    let jane = env.add(json!({"username": "jane"}));
    let jane_id = jane["user_id"].as_str().unwrap().to_owned();
    state.assign_seat(saas_id, "jane", None).expect("seat");
    let roles = format!("/api/v3/saas/{saas_id}/roles");

    let (status, admin) = env
        .send(env.post(
            &roles,
            &json!({"role_external_label": "Admin", "role_external_id": "admin"}),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(admin["role_external_id"], "admin");
    assert_eq!(admin["role_external_label"], "Admin");
    assert!(admin["role_id"].is_u64());
    let (status, member) = env
        .send(env.post(&roles, &json!({"role_external_label": "Member"})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        member["role_external_id"], "Member",
        "defaults to the label"
    );
    let (status, _) = env
        .send(env.post(
            &roles,
            &json!({"role_external_label": "Admin 2", "role_external_id": "admin"}),
        ))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, listed) = env.send(env.get(&roles)).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);

    let assign = format!("{roles}/users");
    let (status, body) = env
        .send(env.post(
            &assign,
            &json!({"users": [jane_id, "ghost"], "roles": [{"role_external_id": "admin"}]}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "POST roles are strings");
    assert!(
        body["errors"]["roles[0]"][0]
            .as_str()
            .unwrap()
            .contains("a string")
    );
    let admin_id = admin["role_id"].to_string();
    let (status, body) = env
        .send(env.post(
            &assign,
            &json!({"users": [jane_id, "ghost"], "roles": [admin_id]}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["error"], Value::Null);
    assert!(body[1]["error"].as_str().unwrap().contains("not assigned"));
    assert_eq!(
        state.saas_users(saas_id)[0]
            .roles
            .as_ref()
            .unwrap()
            .role_external_id,
        "admin"
    );

    // POST does not replace a different role; PATCH overwrites.
    let (_, body) = env
        .send(env.post(
            &assign,
            &json!({"users": [jane_id], "roles": [member["role_id"].to_string()]}),
        ))
        .await;
    assert!(body[0]["error"].as_str().unwrap().contains("PATCH"));
    // PATCH takes one user id, not an array, and roles by external id.
    let (status, body) = env
        .send(env.patch(
            &assign,
            &json!({"users": [jane_id], "roles": [{"role_external_id": "Member"}]}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"]["users"][0]
            .as_str()
            .unwrap()
            .contains("one user id")
    );
    let (status, body) = env
        .send(env.patch(
            &assign,
            &json!({"users": jane_id, "roles": [{"role_id": member["role_id"]}]}),
        ))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "role_external_id is required"
    );
    assert!(
        body["errors"].get("roles[0].role_external_id").is_some(),
        "{body}"
    );
    let (status, _) = env
        .send(env.patch(
            &assign,
            &json!({"users": jane_id, "roles": [{"role_external_id": "Member"}]}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, seats) = env
        .send(env.get(&format!("/api/v3/saas/{saas_id}/users")))
        .await;
    assert_eq!(seats[0]["roles"], member);
    let (_, by_role) = env
        .send(env.get(&format!("/api/v3/saas/{saas_id}/users?roles=admin")))
        .await;
    assert_eq!(by_role, json!([]));

    let (status, body) = env
        .send(env.post(&assign, &json!({"users": [jane_id], "roles": ["nope"]})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"]["roles"][0]
            .as_str()
            .unwrap()
            .contains("not found")
    );

    let (status, _) = env
        .send(
            env.req(Method::DELETE, &assign)
                .json(&json!({"users": [jane_id]})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(state.saas_users(saas_id)[0].roles.is_none());
    assert_eq!(state.roles(saas_id).len(), 2);

    // A PATCH naming a role value the application lacks creates it (per the document).
    let (status, _) = env
        .send(env.patch(
            &assign,
            &json!({"users": jane_id, "roles": [{"role_external_id": "owner", "role_external_label": "Owner"}]}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state.roles(saas_id).len(), 3);
    assert_eq!(
        state.saas_users(saas_id)[0]
            .roles
            .as_ref()
            .unwrap()
            .role_external_label,
        "Owner"
    );
}
