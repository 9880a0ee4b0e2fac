//! Field metadata.

use api_sandbox::oomnitza::{CustomField, DataType, OomnitzaConfig};
use reqwest::StatusCode;
use serde_json::json;

use super::{start, start_with};

#[tokio::test]
async fn metadata_describes_fields_and_follows_configuration() {
    let env = start().await;
    let (status, meta) = env.send(env.get("/api/v3/users/meta")).await;
    assert_eq!(status, StatusCode::OK);
    let quip = &meta["quip_user_id"];
    assert_eq!(quip["label"], "Quip User Id");
    assert_eq!(quip["unique"], "1");
    assert_eq!(quip["editable"], "0");
    assert_eq!(quip["belongs_to"], "users");
    let internal = quip["internal_id"].as_str().unwrap();
    assert_eq!(internal.len(), 32);
    assert!(internal.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(meta["username"]["unique"], "1");
    assert_eq!(meta["username"]["internal_id"], "USER");
    assert_eq!(meta["role"]["internal_id"], "PERMISSIONS_ID");
    assert_eq!(meta["role"]["data_type"], "integer");
    assert_eq!(meta["uid"]["editable"], "0");
    for key in ["uid", "optional", "data_type", "label", "internal_id"] {
        assert!(meta["email"].get(key).is_some(), "{key}");
    }

    let no_field = start_with(OomnitzaConfig::default().without_quip_user_id()).await;
    let (_, meta) = no_field.send(no_field.get("/api/v3/users/meta")).await;
    assert!(meta.get("quip_user_id").is_none());
    let (status, body) = no_field
        .send(no_field.post(
            "/api/v3/users",
            &json!({"username": "a", "quip_user_id": "U"}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"]["quip_user_id"][0], "unknown field");

    let non_unique = start_with(OomnitzaConfig::default().with_non_unique_quip_user_id()).await;
    let (_, meta) = non_unique.send(non_unique.get("/api/v3/users/meta")).await;
    assert_eq!(meta["quip_user_id"]["unique"], "0");

    // Fields added and removed through the handle show up at once.
    let state = env.emu.state();
    state
        .add_field(&CustomField::new("hire_date", "Hire Date").data_type(DataType::Timestamp))
        .expect("added");
    let (_, meta) = env.send(env.get("/api/v3/users/meta")).await;
    assert_eq!(meta["hire_date"]["data_type"], "timestamp");
    let (status, created) = env
        .send(env.post(
            "/api/v3/users",
            &json!({"username": "h", "hire_date": "2024-06-10T06:13:20Z"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(created["hire_date"], 1_718_000_000);
    assert!(state.remove_field("hire_date"));
    let (_, meta) = env.send(env.get("/api/v3/users/meta")).await;
    assert!(meta.get("hire_date").is_none());
    assert!(state.person("h").unwrap().get("hire_date").is_none());
    assert!(!state.remove_field("username"), "built-ins stay");
}
