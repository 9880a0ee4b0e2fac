//! Contract tests for the connector portion API and run logs (httpmock, strict).

use futures::TryStreamExt;
use httpmock::prelude::*;
use oomnitza_client::BulkUpload;
use serde_json::{Map, json};

use crate::common::{CANARY, mock_client, unexpected};

#[tokio::test]
async fn upload_portion_info_finalize_and_run_logs() {
    let server = MockServer::start_async().await;
    let upload = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/bulk")
                .header("Authorization2", CANARY)
                .header("content-type", "application/json; charset=utf-8")
                .json_body(json!({
                    "connector_version": concat!("quip-oomnitza/", env!("CARGO_PKG_VERSION")),
                    "sync_field": ["24DCF85294E411E38A52066B556BA4EE"],
                    "records": [{"USER": "alice", "EMAIL": "alice@example.com",
                                 "24DCF85294E411E38A52066B556BA4EE": "Q1"}],
                    "portion": "a362539c-0000-4000-8000-000000000001",
                    "data_type": "users",
                    "insert_only": true,
                    "update_only": false,
                    "error": null,
                    "test_run": false,
                    "multi_str_input_value": null,
                    "connector_name": "quip_users"
                }));
            then.status(200)
                .json_body(json!({"portion": "a362539c-0000-4000-8000-000000000001", "added": 1}));
        })
        .await;
    let info = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/bulk/a362539c-0000-4000-8000-000000000001");
            then.status(200).body("null");
        })
        .await;
    let finalize = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/bulk/a362539c-0000-4000-8000-000000000001/finalize")
                .json_body(json!({}));
            then.status(200).json_body(json!({}));
        })
        .await;
    let logs = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/connector_run_logs/quip_users")
                .query_param("limit", "1000")
                .query_param("skip", "0");
            then.status(200).json_body(json!([{
                "portion_id": "a362539c-0000-4000-8000-000000000001", "start_time": 1_718_000_000,
                "end_time": "2024-06-10T06:14:00Z", "connector": "quip_users", "status": "finished",
                "test_run": false, "added_records_count": 1, "updated_records_count": 0,
                "skipped_records_count": 0, "error_logs_count": 0}]));
        })
        .await;
    let details = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/connector_run_logs/connectors/a362539c-0000-4000-8000-000000000001");
            then.status(200).json_body(json!({
                "objects": {"added": 1, "updated": 0, "failed": 0},
                "logs": {"added": ["alice"]}, "file_attachment": null}));
        })
        .await;
    let stray = unexpected(&server).await;

    let bulk = mock_client(&server).bulk();
    let mut record = Map::new();
    record.insert("USER".into(), json!("alice"));
    record.insert("EMAIL".into(), json!("alice@example.com"));
    record.insert("24DCF85294E411E38A52066B556BA4EE".into(), json!("Q1"));
    let batch = BulkUpload::users(
        "quip_users",
        "a362539c-0000-4000-8000-000000000001",
        vec!["24DCF85294E411E38A52066B556BA4EE".into()],
        vec![record],
    )
    .insert_only();
    bulk.upload(&batch).await.unwrap();
    assert_eq!(
        bulk.portion("a362539c-0000-4000-8000-000000000001")
            .await
            .unwrap(),
        None
    );
    bulk.finalize("a362539c-0000-4000-8000-000000000001")
        .await
        .unwrap();
    let runs: Vec<_> = bulk
        .run_logs("quip_users")
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(runs[0].added_records_count, Some(1));
    let d = bulk
        .run_log_details("a362539c-0000-4000-8000-000000000001")
        .await
        .unwrap();
    assert_eq!(d.objects.unwrap()["added"], json!(1));

    for m in [&upload, &info, &finalize, &logs, &details] {
        m.assert_calls_async(1).await;
    }
    stray.assert_calls_async(0).await;
}
