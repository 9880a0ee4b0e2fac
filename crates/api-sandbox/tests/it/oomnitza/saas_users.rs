//! SaaS users (seats): assignment, external ids, activation.

use api_sandbox::oomnitza::SeatStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{start, urlencode};

#[tokio::test]
async fn seats_assign_external_id_activate_deactivate() {
    let env = start().await;
    let state = env.emu.state();
    let saas_id = state.add_saas_app("Quip");
    let jane =
        env.add(json!({"username": "jane", "email": "jane@acme.example", "full_name": "Jane D"}));
    let jane_id = jane["user_id"].as_str().unwrap().to_owned();
    let bob = env.add(json!({"username": "bob"}));
    let bob_id = bob["user_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v3/saas/{saas_id}/users");

    let (status, results) = env
        .send(env.post(
            &path,
            &json!([
                {"user_id": jane_id, "assign": true, "last_visit": 1_718_000_000},
                {"user_id": bob_id, "assign": true},
                {"user_id": "nobody", "assign": true},
            ]),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(results[0]["error"], Value::Null);
    assert!(results[0]["saas_user_id"].is_u64());
    assert_eq!(results[2]["error"], "user nobody not found");
    assert_eq!(results[2]["saas_user_id"], Value::Null);
    let jane_seat = results[0]["saas_user_id"].as_u64().unwrap();
    let bob_seat = results[1]["saas_user_id"].as_u64().unwrap();

    // Assigning again updates last_visit on the same seat.
    let (_, again) = env
        .send(env.post(
            &path,
            &json!([{"user_id": jane_id, "assign": true, "last_visit": "2024-06-11T00:00:00Z"}]),
        ))
        .await;
    assert_eq!(again[0]["saas_user_id"], jane_seat);

    let (_, ext) = env
        .send(env.post(
            &format!("{path}/{jane_id}"),
            &json!({"user_external_id": "UJANE"}),
        ))
        .await;
    assert_eq!(ext, json!({"user_external_id": "UJANE", "errors": []}));
    let (status, ext) = env
        .send(env.post(
            &format!("{path}/nobody"),
            &json!({"user_external_id": "U0"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "seat problems arrive inside a 200");
    assert_eq!(ext["errors"].as_array().unwrap().len(), 1);

    let (status, body) = env
        .send(env.patch(
            "/api/v3/saas_users/deactivate",
            &json!({"saas_user_ids": [bob_seat, "999999"]}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "seat ids are strings");
    assert!(
        body["errors"]["saas_user_ids[0]"][0]
            .as_str()
            .unwrap()
            .contains("a string")
    );
    let (status, body) = env
        .send(env.patch(
            "/api/v3/saas_users/deactivate",
            &json!({"saas_user_ids": [bob_seat.to_string(), "999999"]}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!([{"saas_user_id": bob_seat.to_string(), "error": null},
               {"saas_user_id": "999999", "error": "not found"}])
    );

    let seats = state.saas_users(saas_id);
    assert_eq!(seats.len(), 2);
    assert_eq!(seats[0].user_external_id.as_deref(), Some("UJANE"));
    assert_eq!(seats[0].last_visit, Some(1_718_064_000));
    assert_eq!(seats[0].status, SeatStatus::Active);
    assert_eq!(seats[1].status, SeatStatus::Inactive);

    let (_, listed) = env.send(env.get(&path)).await;
    assert_eq!(listed[0]["username"], "jane");
    assert_eq!(listed[0]["full_name"], "Jane D");
    assert_eq!(listed[0]["user_external_id"], "UJANE");
    assert_eq!(listed[0]["roles"], Value::Null);
    assert_eq!(listed[1]["status"], "inactive");
    let filter = urlencode(&format!("saas_id eq '{saas_id}' and status eq 'inactive'"));
    let (_, inactive) = env
        .send(env.get(&format!("/api/v3/saas_users?filter={filter}")))
        .await;
    assert_eq!(inactive.as_array().unwrap().len(), 1);
    assert_eq!(inactive[0]["user_id"], bob_id.as_str());
    let (_, recent) = env
        .send(env.get(&format!("{path}?last_visit=1718050000")))
        .await;
    assert_eq!(recent.as_array().unwrap().len(), 1);

    let (_, body) = env
        .send(env.patch(
            "/api/v3/saas_users/activate",
            &json!({"saas_user_ids": [bob_seat.to_string()]}),
        ))
        .await;
    assert_eq!(body[0]["error"], Value::Null);
    assert_eq!(state.saas_users(saas_id)[1].status, SeatStatus::Active);

    // Unassign removes the seat; unassigning again is a per-item error.
    let (_, body) = env
        .send(env.post(&path, &json!([{"user_id": bob_id, "assign": false}])))
        .await;
    assert_eq!(body[0]["error"], Value::Null);
    let (_, body) = env
        .send(env.post(&path, &json!([{"user_id": bob_id, "assign": false}])))
        .await;
    assert!(body[0]["error"].as_str().unwrap().contains("not assigned"));
    assert_eq!(state.saas_users(saas_id).len(), 1);
    let (status, _) = env.send(env.get("/api/v3/saas/77/users")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
