//! A hundred concurrent RUN NOW presses make one run.

use serde_json::json;

use crate::both;
use crate::support::{
    Db, Kind, ServeOptions, Service, create_credentials, launched_integration, sandbox,
};

both!(hundred_presses_one_run);

async fn hundred_presses_one_run(kind: Kind) {
    let sandbox = sandbox(3).await;
    let db = Db::new(kind).await;
    let token = db.token("acme", false).await;
    // API only: the run stays queued while the presses arrive.
    let service = Service::start_with(
        &db,
        &ServeOptions {
            workers: 0,
            ..ServeOptions::default()
        },
    )
    .await;
    create_credentials(&service, &token, &sandbox).await;
    let id = launched_integration(&service, &token, &sandbox, "Busy").await;
    let path = format!("/api/v1/integrations/{id}/runs");
    let empty = json!({});
    let presses = (0..100).map(|_| service.post(&path, &token, &empty));
    let replies = futures::future::join_all(presses).await;
    let created = replies.iter().filter(|r| r.status == 202).count();
    let existing = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        (created, existing),
        (1, 99),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let first = &replies.iter().find(|r| r.status == 202).unwrap().json["id"];
    assert!(replies.iter().all(|r| &r.json["id"] == first));
    let list = service.get(&path, &token).await;
    assert_eq!(
        list.json["items"].as_array().unwrap().len(),
        1,
        "{}",
        list.text
    );
    assert!(service.terminate().await.success());

    // A worker picks it up and runs it.
    let service = Service::start(&db).await;
    let run = service.wait_run(&token, first.as_str().unwrap()).await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    assert!(service.terminate().await.success());
    sandbox.shutdown().await;
}
