//! Injected faults, timeouts and request counters.

use std::time::Duration;

use api_sandbox::faults::{Fault, FaultRule};
use http::Method;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{bulk_payload, start};

#[tokio::test]
async fn injected_status_malformed_and_truncated_bodies() {
    let env = start().await;
    env.add_numbered(3);
    let faults = env.emu.faults();
    faults.inject(
        FaultRule::new(
            Method::GET,
            "/api/v3/users",
            Fault::status(503, r#"{"errors":["maintenance"]}"#),
        )
        .times(1),
    );
    let (status, body) = env.send(env.get("/api/v3/users")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["errors"][0], "maintenance");
    let (status, body) = env.send(env.get("/api/v3/users")).await;
    assert_eq!(status, StatusCode::OK, "the fault fired once");
    assert_eq!(body.as_array().unwrap().len(), 3);

    faults.inject(
        FaultRule::new(Method::GET, "/api/v3/users/{ident}", Fault::MalformedBody).times(1),
    );
    let response = env.get("/api/v3/users/user001").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.json::<Value>().await.is_err(), "malformed JSON");
    faults.inject(
        FaultRule::new(Method::GET, "/api/v3/users/{ident}", Fault::TruncatedBody).times(1),
    );
    let text = env
        .get("/api/v3/users/user001")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "truncated: {text}"
    );
    assert!(text.starts_with('{'));
    assert_eq!(faults.fired("/api/v3/users/{ident}"), 2);

    // Faults on writes: the bulk upload fails before doing anything.
    faults.inject(FaultRule::new(Method::POST, "/api/v3/bulk", Fault::status(500, "{}")).times(1));
    let (status, _) = env
        .send(env.post(
            "/api/v3/bulk",
            &bulk_payload("p", &["USER"], &json!([{"USER": "zz"}])),
        ))
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(env.emu.state().person("zz").is_none());
    assert_eq!(env.emu.counters().with_status(503), 1);
    assert_eq!(env.emu.counters().with_status(500), 1);
}
#[tokio::test]
async fn repeated_and_skipped_pages() {
    let env = start().await;
    env.add_numbered(30);
    let faults = env.emu.faults();
    faults.inject(
        FaultRule::new(Method::GET, "/api/v3/users", Fault::RepeatPage)
            .after(1)
            .times(1),
    );
    let (first, _) = env.usernames("limit=10&skip=0").await;
    let (second, _) = env.usernames("limit=10&skip=10").await;
    assert_eq!(first, second, "the previous page again");
    faults.inject(FaultRule::new(Method::GET, "/api/v3/users", Fault::SkipPage).times(1));
    let (skipped, _) = env.usernames("limit=10&skip=10").await;
    assert_eq!(skipped[0], "user020", "the next page instead");
    let (normal, _) = env.usernames("limit=10&skip=10").await;
    assert_eq!(normal[0], "user010");

    // Seats lists honour paging faults too.
    let state = env.emu.state();
    let saas_id = state.add_saas_app("Quip");
    for i in 0..4 {
        state
            .assign_seat(saas_id, &format!("user{i:03}"), None)
            .unwrap();
    }
    faults.inject(
        FaultRule::new(Method::GET, "/api/v3/saas/{ident}/users", Fault::SkipPage).times(1),
    );
    let (_, page) = env
        .send(env.get(&format!("/api/v3/saas/{saas_id}/users?limit=2&skip=0")))
        .await;
    assert_eq!(page[0]["username"], "user002");
}
#[tokio::test]
async fn hung_request_times_out_on_the_client() {
    let env = start().await;
    env.emu
        .faults()
        .inject(FaultRule::new(Method::GET, "/api/v3/users/meta", Fault::Hang).times(1));
    let error = env
        .get("/api/v3/users/meta")
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("no answer");
    assert!(error.is_timeout(), "{error}");
    let (status, _) = env.send(env.get("/api/v3/users/meta")).await;
    assert_eq!(status, StatusCode::OK, "later requests are served");
    let hung = env
        .emu
        .counters()
        .snapshot()
        .into_iter()
        .find(|r| r.status == 0)
        .expect("the hung request is counted with status 0");
    assert_eq!(hung.route, "/api/v3/users/meta");
    // Dropping aborts the hung request at once (no graceful wait).
    drop(env);
}
#[tokio::test]
async fn counters_count_writes_by_route_and_status() {
    let env = start().await;
    let counters = env.emu.counters();
    env.send(env.post("/api/v3/users", &json!({"username": "a"})))
        .await;
    env.send(env.post("/api/v3/users", &json!({"username": "a"})))
        .await;
    env.send(env.patch("/api/v3/users/a", &json!({"position": "Boss"})))
        .await;
    env.send(env.get("/api/v3/users")).await;
    env.send(env.get("/api/v3/users/a")).await;
    env.send(env.get("/api/v3/no/such/route")).await;
    assert_eq!(counters.writes(), 3);
    assert_eq!(counters.count("POST", "/api/v3/users"), 2);
    assert_eq!(counters.count("PATCH", "/api/v3/users/{ident}"), 1);
    assert_eq!(counters.with_status(409), 1);
    let rows = counters.snapshot();
    assert!(
        rows.iter()
            .any(|r| r.method == "POST" && r.status == 200 && r.count == 1)
    );
    counters.reset();
    assert_eq!(counters.total(), 0);
}
