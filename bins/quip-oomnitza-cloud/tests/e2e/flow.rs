//! Credentials, an integration, launch, RUN NOW, the finished session, and the Oomnitza
//! emulator's state matching the session's counts.

use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::support::{
    Db, Kind, Service, config, create_credentials, launched_integration, sandbox, sandbox_config,
};

both!(
    sync_through_the_api,
    launch_lists_every_problem,
    optimistic_concurrency
);

async fn sync_through_the_api(kind: Kind) {
    let sandbox = sandbox(25).await;
    let db = Db::new(kind).await;
    let token = db.token("acme", false).await;
    let service = Service::start(&db).await;
    create_credentials(&service, &token, &sandbox).await;

    let listed = service.get("/api/v1/credentials", &token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let names: Vec<&str> = listed.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["oomnitza", "quip"]);
    assert_eq!(listed.json["items"][0]["token_name"], "Authorization2");

    let id = launched_integration(&service, &token, &sandbox, "Quip users").await;
    let r = service
        .post(
            &format!("/api/v1/integrations/{id}/runs"),
            &token,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.json["state"], "queued");
    assert_eq!(r.json["trigger"], "manual");
    assert!(r.json["report"].is_null());
    let run_id = r.json["id"].as_str().unwrap().to_owned();

    let run = service.wait_run(&token, &run_id).await;
    assert_eq!(run["state"], "finished", "{run}");
    assert_eq!(run["outcome"], "succeeded", "{run}");
    let report = &run["report"];
    assert_eq!(report["status"], "succeeded", "{report}");
    assert!(run["errors"].as_array().unwrap().is_empty());

    // The emulator holds what the session says it created.
    let people = sandbox.oomnitza.state().people();
    let owned: Vec<_> = people
        .iter()
        .filter(|p| p["quip_user_id"].as_str().is_some_and(|s| !s.is_empty()))
        .collect();
    let humans = sandbox
        .quip
        .state()
        .people()
        .into_iter()
        .filter(|p| !p.disabled && !p.is_robot)
        .count();
    assert!(humans > 0);
    assert_eq!(report["counts"]["created"], humans as u64, "{report}");
    assert_eq!(owned.len(), humans);
    let state = sandbox.oomnitza.state();
    let seats = state.saas_users(state.saas_app_id("Quip").expect("the Quip app"));
    assert_eq!(
        report["saas_counts"]["created"],
        seats.len() as u64,
        "{report}"
    );
    assert!(report["api_calls"]["oomnitza"].as_u64().unwrap() > 0);
    assert!(report["api_calls"]["quip"].as_u64().unwrap() > 0);

    // The runs list has it, newest first; a second run is unchanged.
    let r = service
        .post(
            &format!("/api/v1/integrations/{id}/runs"),
            &token,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let second = service
        .wait_run(&token, r.json["id"].as_str().unwrap())
        .await;
    assert_eq!(second["report"]["counts"]["created"], 0);
    assert_eq!(second["report"]["counts"]["unchanged"], humans as u64);
    let list = service
        .get(&format!("/api/v1/integrations/{id}/runs?limit=1"), &token)
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(list.json["items"][0]["id"], second["id"]);
    let next = list.json["next"].as_str().expect("a next page").to_owned();
    let page2 = service.get(&next, &token).await;
    assert_eq!(page2.json["items"][0]["id"], run_id.as_str());
    assert!(page2.json["next"].is_null());

    // Pause: RUN NOW is refused; the integration can be deleted.
    let r = service
        .post(
            &format!("/api/v1/integrations/{id}/pause"),
            &token,
            &json!({}),
        )
        .await;
    assert_eq!(r.json["status"], "paused", "{}", r.text);
    let r = service
        .post(
            &format!("/api/v1/integrations/{id}/runs"),
            &token,
            &json!({}),
        )
        .await;
    assert_eq!(r.problem(409), "/problems/not-runnable");
    let r = service
        .call(
            Method::DELETE,
            &format!("/api/v1/integrations/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = service
        .get(&format!("/api/v1/integrations/{id}"), &token)
        .await;
    assert_eq!(r.problem(404), "/problems/not-found");
    assert!(service.terminate().await.success());
    sandbox.shutdown().await;
}

async fn launch_lists_every_problem(kind: Kind) {
    // Oomnitza's "Quip User Id" field is not unique.
    let mut sc = sandbox_config(5);
    sc.oomnitza = sc.oomnitza.with_non_unique_quip_user_id();
    let sandbox = api_sandbox::Sandbox::start(sc).await.unwrap();
    let db = Db::new(kind).await;
    let token = db.token("acme", false).await;
    let service = Service::start(&db).await;
    // Only the Oomnitza credential exists; the mapping leaves out the mandatory username.
    let r = service
        .post(
            "/api/v1/credentials",
            &token,
            &json!({"name": "oomnitza", "kind": "api_key", "secret": sandbox.oomnitza.token()}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let mut cfg = config(&sandbox, "users");
    cfg["mapping"] = json!({"users": {
        "sync_key": {"source": "id", "target": "quip_user_id"},
        "fields": {"email": "{{ email }}", "full_name": "{{ name }}"},
        "case_insensitive": ["email"]
    }});
    let r = service
        .post(
            "/api/v1/integrations",
            &token,
            &json!({"name": "Draft", "config": cfg}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["status"], "draft");
    let id = r.json["id"].as_str().unwrap().to_owned();
    let r = service
        .post(
            &format!("/api/v1/integrations/{id}/launch"),
            &token,
            &json!({}),
        )
        .await;
    assert_eq!(r.problem(422), "/problems/launch-refused");
    let errors = r.json["errors"].as_array().unwrap();
    let text = |i: usize| errors[i]["message"].as_str().unwrap().to_owned();
    let all: Vec<String> = (0..errors.len()).map(text).collect();
    assert!(
        all.iter()
            .any(|m| m.contains("no credential named \"quip\"")),
        "missing credential: {all:?}"
    );
    assert!(
        all.iter()
            .any(|m| m.contains("\"quip_user_id\"") && m.contains("not unique")),
        "sync key not unique: {all:?}"
    );
    assert!(
        all.iter()
            .any(|m| m.contains("\"username\"") && m.contains("mandatory")),
        "mandatory field unmapped: {all:?}"
    );
    assert_eq!(errors[0]["key"], "quip.credential", "{all:?}");
    // Still a draft, and RUN NOW refuses it.
    let r = service
        .get(&format!("/api/v1/integrations/{id}"), &token)
        .await;
    assert_eq!(r.json["status"], "draft");
    let r = service
        .post(
            &format!("/api/v1/integrations/{id}/runs"),
            &token,
            &json!({}),
        )
        .await;
    assert_eq!(r.problem(409), "/problems/not-runnable");
    // An environment-variable credential is refused in the cloud (it would read the
    // service's own environment).
    let mut cfg = config(&sandbox, "users");
    cfg["quip"]["credential"] = json!({"env": "QUIP_OOMNITZA_MASTER_KEY"});
    let r = service
        .post(
            "/api/v1/integrations",
            &token,
            &json!({"name": "Env", "config": cfg}),
        )
        .await;
    let env_id = r.json["id"].as_str().unwrap().to_owned();
    let r = service
        .post(
            &format!("/api/v1/integrations/{env_id}/launch"),
            &token,
            &json!({}),
        )
        .await;
    r.problem(422);
    assert_eq!(r.json["errors"][0]["key"], "quip.credential", "{}", r.text);
    assert!(
        r.json["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("stored credentials")
    );
    assert!(service.terminate().await.success());
    sandbox.shutdown().await;
}

async fn optimistic_concurrency(kind: Kind) {
    let sandbox = sandbox(3).await;
    let db = Db::new(kind).await;
    let token = db.token("acme", false).await;
    let service = Service::start(&db).await;
    let r = service
        .post(
            "/api/v1/integrations",
            &token,
            &json!({"name": "One", "config": config(&sandbox, "users")}),
        )
        .await;
    let id = r.json["id"].as_str().unwrap().to_owned();
    let v = r.json["version"].as_i64().unwrap();
    let mut cfg = config(&sandbox, "users");
    cfg["integration"]["preference"] = json!("create_only");
    let put = |version: i64, cfg: serde_json::Value| {
        let (service, token, id) = (&service, &token, &id);
        async move {
            service
                .call(
                    Method::PUT,
                    &format!("/api/v1/integrations/{id}"),
                    Some(token),
                    Some(&json!({"version": version, "config": cfg})),
                )
                .await
        }
    };
    let first = put(v, cfg.clone()).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.json["version"], v + 1);
    assert_eq!(
        first.json["config"]["integration"]["preference"],
        "create_only"
    );
    let stale = put(v, cfg).await;
    assert_eq!(stale.problem(409), "/problems/version-conflict");
    assert_eq!(stale.json["current_version"], v + 1);
    // Schedules: every 6 hours from 01:30 in Berlin.
    let r = service
        .call(
            Method::PUT,
            &format!("/api/v1/integrations/{id}/schedule"),
            Some(&token),
            Some(&json!({"every": "6h", "at": "01:30", "timezone": "Europe/Berlin"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["every"], "6h");
    let r = service
        .call(
            Method::PUT,
            &format!("/api/v1/integrations/{id}/schedule"),
            Some(&token),
            Some(&json!({"every": "5h", "at": "25:00", "timezone": "Mars/Olympus"})),
        )
        .await;
    assert_eq!(r.problem(422), "/problems/invalid");
    assert!(service.terminate().await.success());
    sandbox.shutdown().await;
}
