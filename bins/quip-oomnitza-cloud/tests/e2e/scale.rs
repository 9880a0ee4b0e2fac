//! Scale-out: three `serve` processes on one PostgreSQL run every pressed run exactly once;
//! a process SIGKILLed mid-run leaves its run to be reclaimed by another, which finishes it.

use std::time::Duration;

use api_sandbox::{Fault, FaultRule};
use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::support::{
    Db, Kind, ServeOptions, Service, create_credentials, launched_integration, pg_available,
    sandbox,
};

both!(killed_worker_run_is_reclaimed);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_run_each_run_once() {
    if !pg_available() {
        return;
    }
    let db = Db::new(Kind::Postgres).await;
    let token = db.token("acme", false).await;
    let mut services = Vec::new();
    for i in 0..3 {
        services.push(
            Service::start_with(
                &db,
                &ServeOptions {
                    worker_id: Some(format!("replica-{i}")),
                    ..ServeOptions::default()
                },
            )
            .await,
        );
    }
    // Six integrations, each with its own emulators (and credentials named after them).
    let mut sandboxes = Vec::new();
    let mut runs = Vec::new();
    for n in 0..6 {
        let sandbox = sandbox(6).await;
        let via = &services[n % 3];
        for (name, secret, header) in [
            (
                format!("quip-{n}"),
                sandbox.quip.token().to_owned(),
                "Authorization",
            ),
            (
                format!("oomnitza-{n}"),
                sandbox.oomnitza.token().to_owned(),
                "Authorization2",
            ),
        ] {
            let r = via
                .post(
                    "/api/v1/credentials",
                    &token,
                    &json!({"name": name, "kind": "api_key", "secret": secret, "token_name": header}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
        let mut cfg = crate::support::config(&sandbox, "users_and_saas");
        cfg["quip"]["credential"] = json!(format!("quip-{n}"));
        cfg["oomnitza"]["credential"] = json!(format!("oomnitza-{n}"));
        let r = via
            .post(
                "/api/v1/integrations",
                &token,
                &json!({"name": format!("I{n}"), "config": cfg}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.json["id"].as_str().unwrap().to_owned();
        let r = via
            .post(
                &format!("/api/v1/integrations/{id}/launch"),
                &token,
                &json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        sandboxes.push((id, sandbox));
    }
    // All due at once: every integration pressed through every process.
    let empty = json!({});
    for (id, _) in &sandboxes {
        let path = format!("/api/v1/integrations/{id}/runs");
        let presses = services.iter().map(|s| s.post(&path, &token, &empty));
        let replies = futures::future::join_all(presses).await;
        let ids: std::collections::BTreeSet<String> = replies
            .iter()
            .map(|r| r.json["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 1, "one run per integration");
        runs.push(ids.into_iter().next().unwrap());
    }
    for ((id, sandbox), run) in sandboxes.iter().zip(&runs) {
        let done = services[0].wait_run(&token, run).await;
        assert_eq!(done["outcome"], "succeeded", "{done}");
        assert_eq!(done["attempt"], 1, "{done}");
        let list = services[1]
            .get(&format!("/api/v1/integrations/{id}/runs"), &token)
            .await;
        assert_eq!(list.json["items"].as_array().unwrap().len(), 1);
        let humans = sandbox
            .quip
            .state()
            .people()
            .into_iter()
            .filter(|p| !p.disabled && !p.is_robot)
            .count();
        assert_eq!(done["report"]["counts"]["created"], humans as u64);
        assert_eq!(
            sandbox.oomnitza.state().people().len(),
            humans,
            "no duplicates"
        );
    }
    let mut logs = String::new();
    for s in services {
        logs.push_str(&s.logs());
        assert!(s.terminate().await.success());
    }
    for run in &runs {
        let started = logs
            .lines()
            .filter(|l| l.contains("run started") && l.contains(run.as_str()))
            .count();
        assert_eq!(started, 1, "run {run} executed once:\n{logs}");
    }
    for (_, s) in sandboxes {
        s.shutdown().await;
    }
}

async fn killed_worker_run_is_reclaimed(kind: Kind) {
    let sandbox = sandbox(6).await;
    let db = Db::new(kind).await;
    let token = db.token("acme", false).await;
    let short = ServeOptions {
        lease: "2s",
        workers: 1,
        ..ServeOptions::default()
    };
    let first = Service::start_with(&db, &short).await;
    create_credentials(&first, &token, &sandbox).await;
    let id = launched_integration(&first, &token, &sandbox, "Survivor").await;
    // The run's first Oomnitza read hangs long enough to kill its worker mid-run.
    sandbox.oomnitza.faults().inject(
        FaultRule::new(
            Method::GET,
            "/api/v3/users/meta",
            Fault::Latency(Duration::from_secs(8)),
        )
        .times(1),
    );
    let r = first
        .post(
            &format!("/api/v1/integrations/{id}/runs"),
            &token,
            &json!({}),
        )
        .await;
    let run = r.json["id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while first.get(&format!("/api/v1/runs/{run}"), &token).await.json["state"] != "running" {
        assert!(tokio::time::Instant::now() < deadline, "{}", first.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut first = first;
    first.child.kill().await.unwrap();
    let second = Service::start_with(&db, &short).await;
    let done = second.wait_run(&token, &run).await;
    assert_eq!(done["outcome"], "succeeded", "{done}\n{}", second.logs());
    assert_eq!(done["attempt"], 2, "{done}");
    let warnings = done["report"]["warnings"].to_string();
    assert!(
        warnings.contains("interrupt") || warnings.contains("lease"),
        "{warnings}"
    );
    let humans = sandbox
        .quip
        .state()
        .people()
        .into_iter()
        .filter(|p| !p.disabled && !p.is_robot)
        .count();
    assert_eq!(
        sandbox.oomnitza.state().people().len(),
        humans,
        "created once"
    );
    let r = second.call(Method::GET, "/metrics", None, None).await;
    assert!(r.text.contains("sync_lease_reclaims 1"), "{}", r.text);
    assert!(second.terminate().await.success());
    sandbox.shutdown().await;
}
