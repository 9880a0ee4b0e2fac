//! The connector portion API (`/api/v3/bulk`) and run logs.

use api_sandbox::oomnitza::Outcome;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{bulk_payload, start};

#[tokio::test]
async fn bulk_upserts_on_sync_fields_and_finalizes_with_run_log() {
    let env = start().await;
    let state = env.emu.state();
    let meta = state.field_meta();
    let quip_field = meta["quip_user_id"]["internal_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let portion = "3f0e8a1c-0000-4000-8000-000000000001";

    let (status, info) = env.send(env.get(&format!("/api/v3/bulk/{portion}"))).await;
    assert_eq!(status, StatusCode::OK, "answers before the first upload");
    assert_eq!(info["canceled"], false);

    // A pre-existing person found by email (second sync key) gets the Quip id.
    env.add(json!({"username": "old@acme.example", "email": "old@acme.example"}));
    let records = json!([
        {"USER": "alice@acme.example", "EMAIL": "alice@acme.example", "FIRST_NAME": "Alice",
         "PERMISSIONS_ID": "25", "POSITION": "Employee", quip_field.clone(): "UALICE"},
        {"USER": "old@acme.example", "EMAIL": "old@acme.example", quip_field.clone(): "UOLD"},
        {"USER": "bob@acme.example", "quip_user_id": "UBOB", "last_name": "Builder"},
    ]);
    let (status, summary) = env
        .send(env.post(
            "/api/v3/bulk",
            &bulk_payload(portion, &[&quip_field, "EMAIL"], &records),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary["added"], 2);
    assert_eq!(summary["updated"], 1);
    let alice = state.person("alice@acme.example").expect("created");
    assert_eq!(alice["role"], 25);
    assert_eq!(alice["quip_user_id"], "UALICE");
    assert_eq!(alice["first_name"], "Alice");
    assert_eq!(
        state.person("old@acme.example").unwrap()["quip_user_id"],
        "UOLD"
    );
    assert_eq!(
        state.person("bob@acme.example").unwrap()["last_name"],
        "Builder"
    );

    // Second upload of the same portion: match on the Quip id first, even with a new email.
    let records = json!([
        {"USER": "alice@acme.example", "EMAIL": "alice@new.example", quip_field.clone(): "UALICE"},
        {"USER": "bob@acme.example", "quip_user_id": "UBOB", "last_name": "Builder"},
    ]);
    let (_, summary) = env
        .send(env.post(
            "/api/v3/bulk",
            &bulk_payload(portion, &[&quip_field, "EMAIL"], &records),
        ))
        .await;
    assert_eq!(summary["updated"], 1);
    assert_eq!(summary["unchanged"], 1);
    assert_eq!(
        state.person("alice@acme.example").unwrap()["email"],
        "alice@new.example"
    );
    assert_eq!(state.people_count(), 3);

    let (status, log) = env
        .send(env.post(&format!("/api/v3/bulk/{portion}/finalize"), &json!({})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log["added_records_count"], 2);
    assert_eq!(log["updated_records_count"], 2);
    assert_eq!(log["error_logs_count"], 0);
    assert_eq!(log["status"], "finished");
    let (_, again) = env
        .send(env.post(&format!("/api/v3/bulk/{portion}/finalize"), &json!({})))
        .await;
    assert_eq!(again, log, "finalize is idempotent");
    let (status, logs) = env.send(env.get("/api/v3/connector_run_logs/Quip")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(logs.as_array().unwrap().len(), 1);
    assert_eq!(logs[0]["portion_id"], portion);
    assert_eq!(logs[0]["connector"], "Quip");
    for key in [
        "start_time",
        "end_time",
        "test_run",
        "skipped_records_count",
    ] {
        assert!(logs[0].get(key).is_some(), "{key}");
    }
    // Sync keys are tried in order: EMAIL first finds the old person, whose new Quip id
    // then collides with Alice's (a failed record, not a 409). With the Quip id first,
    // the same record would have updated Alice.
    let order = json!([{"EMAIL": "old@acme.example", quip_field.clone(): "UALICE"}]);
    let (status, summary) = env
        .send(env.post(
            "/api/v3/bulk",
            &bulk_payload("p-order", &["EMAIL", &quip_field], &order),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary["failed"], 1);
    let outcome = &state.portion("p-order").unwrap().records[0];
    assert_eq!(
        outcome.user_id,
        state.person("old@acme.example").unwrap()["user_id"]
            .as_str()
            .map(str::to_owned)
    );
    assert!(
        outcome
            .message
            .as_deref()
            .unwrap()
            .contains("already exists")
    );
    let (_, none) = env.send(env.get("/api/v3/connector_run_logs/Other")).await;
    assert_eq!(none, json!([]));
    let kept = state.portion(portion).expect("portion kept");
    assert_eq!(kept.records.len(), 5);
    assert_eq!(kept.records[4].outcome, Outcome::Unchanged);
    assert!(kept.finalized);
    let (status, _) = env
        .send(env.post(
            "/api/v3/bulk",
            &bulk_payload(portion, &["USER"], &json!([{"USER": "late"}])),
        ))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a finalized portion takes no uploads"
    );
}
#[tokio::test]
async fn bulk_insert_only_update_only_and_errors() {
    let env = start().await;
    let state = env.emu.state();
    env.add(json!({"username": "a", "quip_user_id": "QA"}));
    let portion = "p-flags";
    let mut payload = bulk_payload(
        portion,
        &["USER"],
        &json!([{"USER": "a", "FIRST_NAME": "Ann"}, {"USER": "new", "FIRST_NAME": "Neo"}]),
    );
    payload["insert_only"] = json!(true);
    let (_, summary) = env.send(env.post("/api/v3/bulk", &payload)).await;
    assert_eq!(
        (summary["added"].as_u64(), summary["skipped"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(state.person("a").unwrap()["first_name"], Value::Null);

    payload["insert_only"] = json!("false");
    payload["update_only"] = json!("true");
    payload["records"] = json!([{"USER": "a", "FIRST_NAME": "Ann"}, {"USER": "newer"}]);
    let (_, summary) = env.send(env.post("/api/v3/bulk", &payload)).await;
    assert_eq!(
        (summary["updated"].as_u64(), summary["skipped"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(state.person("newer").is_none());

    payload["insert_only"] = json!(true);
    let (status, body) = env.send(env.post("/api/v3/bulk", &payload)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap()
            .contains("mutually exclusive")
    );

    // Unique conflicts, unknown fields and bad values fail the record, not the request.
    let records = json!([
        {"USER": "c", "quip_user_id": "QA"},
        {"USER": "d", "SHOE_SIZE": "44"},
        {"USER": "e", "PERMISSIONS_ID": "admin"},
        {"EMAIL": "no-key@acme.example"},
        {"USER": "f"},
    ]);
    let (status, summary) = env
        .send(env.post("/api/v3/bulk", &bulk_payload(portion, &["USER"], &records)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary["failed"], 4);
    assert_eq!(summary["added"], 1);
    let (status, body) = env
        .send(env.post("/api/v3/bulk", &bulk_payload(portion, &["NOPE"], &records)))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"]["sync_field"][0]
            .as_str()
            .unwrap()
            .contains("NOPE")
    );

    // The connector reports a failure into the same portion.
    let mut failure = bulk_payload(portion, &["USER"], &json!([{}]));
    failure["error"] = json!("Traceback: boom");
    failure["error_type"] = json!("Fatal Error");
    let (status, _) = env.send(env.post("/api/v3/bulk", &failure)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, log) = env
        .send(env.post(&format!("/api/v3/bulk/{portion}/finalize"), &json!({})))
        .await;
    assert_eq!(log["status"], "failed");
    assert_eq!(log["error_logs_count"], 5);
    assert_eq!(log["added_records_count"], 2);
    assert_eq!(log["skipped_records_count"], 2);
    let failed: Vec<_> = state
        .portion(portion)
        .unwrap()
        .records
        .into_iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .collect();
    assert!(
        failed[0]
            .message
            .as_deref()
            .unwrap()
            .contains("already exists")
    );
    assert!(failed[1].message.as_deref().unwrap().contains("SHOE_SIZE"));
    let (_, details) = env
        .send(env.get(&format!("/api/v3/connector_run_logs/connectors/{portion}")))
        .await;
    assert_eq!(details["objects"]["failed"], 4);
    assert_eq!(details["logs"]["Fatal Error"][0], "Traceback: boom");

    let (status, _) = env
        .send(env.post("/api/v3/bulk", &json!({"portion": "x", "records": []})))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "connector_name or connector_id required"
    );
}
#[tokio::test]
async fn canceled_portion_is_reported_and_refuses_uploads() {
    let env = start().await;
    let state = env.emu.state();
    let portion = "p-cancel";
    let (status, _) = env
        .send(env.post(
            "/api/v3/bulk",
            &bulk_payload(portion, &["USER"], &json!([{"USER": "a"}])),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    state.cancel_portion(portion);
    let (_, info) = env.send(env.get(&format!("/api/v3/bulk/{portion}"))).await;
    assert_eq!(info["canceled"], true);
    let (status, _) = env
        .send(env.post(
            "/api/v3/bulk",
            &bulk_payload(portion, &["USER"], &json!([{"USER": "b"}])),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(state.person("b").is_none());
    let (_, log) = env
        .send(env.post(&format!("/api/v3/bulk/{portion}/finalize"), &json!({})))
        .await;
    assert_eq!(log["status"], "canceled");
}
#[tokio::test]
async fn bulk_test_run_writes_nothing_and_saas_object_assigns_seats() {
    let env = start().await;
    let state = env.emu.state();
    let saas_id = state.add_saas_app("Quip");
    let mut payload = bulk_payload("p-test", &["USER"], &json!([{"USER": "t"}]));
    payload["test_run"] = json!(true);
    let (_, summary) = env.send(env.post("/api/v3/bulk", &payload)).await;
    assert_eq!(summary["added"], 1);
    assert_eq!(state.people_count(), 0, "a test run writes nothing");

    let records = json!([{"USER": "u0", "EMAIL": "u0@ex.com", "QUIP_USER_ID": "Q0",
        "SAAS": {"sync_key": "QUIP_USER_ID", "selected_saas_id": saas_id, "name": "Quip"}}]);
    // `QUIP_USER_ID` is not a metadata id here: the record fails, no seat is made.
    let (_, summary) = env
        .send(env.post("/api/v3/bulk", &bulk_payload("p-saas", &["USER"], &records)))
        .await;
    assert_eq!(summary["failed"], 1);
    let internal = state.field_meta()["quip_user_id"]["internal_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let records = json!([{"USER": "u0", "EMAIL": "u0@ex.com", internal.clone(): "Q0",
        "SAAS": {"sync_key": internal, "selected_saas_id": saas_id, "name": "Quip"}}]);
    let (_, summary) = env
        .send(env.post("/api/v3/bulk", &bulk_payload("p-saas", &["USER"], &records)))
        .await;
    assert_eq!(summary["added"], 1);
    let seats = state.saas_users(saas_id);
    assert_eq!(seats.len(), 1);
    assert_eq!(seats[0].username.as_deref(), Some("u0"));
    assert_eq!(seats[0].user_external_id.as_deref(), Some("Q0"));
}
