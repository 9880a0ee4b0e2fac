//! Contract tests for SaaS applications, seats and roles (httpmock, strict).

use httpmock::prelude::*;
use oomnitza_client::{
    ErrorKind, NewSaasApp, RoleAssignment, RoleOverwrite, RoleRef, SeatAssignment,
};
use serde_json::json;

use crate::common::{CANARY, mock_client, unexpected};

#[tokio::test]
async fn find_or_create_looks_up_by_name_then_creates_with_201_string_id() {
    let server = MockServer::start_async().await;
    let find = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/saas")
                .header("Authorization2", CANARY)
                .query_param("filter", "saas_name eq 'Quip'")
                .query_param("limit", "1000")
                .query_param("skip", "0");
            // A similar name that the server matched loosely must not be taken.
            then.status(200)
                .json_body(json!([{"saas_id": 2, "saas_name": "Quip Beta"}]));
        })
        .await;
    let create = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/saas")
                .header("Authorization2", CANARY)
                .json_body(
                    json!({"saas_name": "Quip", "linked": "false", "link_key": "quip",
                    "source": "quip_users", "ignored": "false"}),
                );
            then.status(201).json_body(json!({"saas_id": "4"}));
        })
        .await;
    let stray = unexpected(&server).await;

    let (id, created) = mock_client(&server)
        .saas()
        .find_or_create(&NewSaasApp::new("Quip", "quip_users"))
        .await
        .unwrap();
    assert_eq!((id.as_str(), created), ("4", true));
    find.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn find_by_name_reuses_an_existing_app_with_an_integer_id() {
    let server = MockServer::start_async().await;
    let find = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v3/saas");
            then.status(200)
                .json_body(json!([{"saas_id": 9, "saas_name": "Quip"}]));
        })
        .await;
    let stray = unexpected(&server).await;
    let (id, created) = mock_client(&server)
        .saas()
        .find_or_create(&NewSaasApp::new("Quip", "quip_users"))
        .await
        .unwrap();
    assert_eq!((id.as_str(), created), ("9", false));
    find.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn seats_list_assign_external_id_and_status_changes() {
    let server = MockServer::start_async().await;
    let list = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/saas/4/users")
                .header("Authorization2", CANARY)
                .query_param("limit", "1000")
                .query_param("skip", "0");
            then.status(200).json_body(json!([
                {"saas_user_id": 7, "user_id": "u1", "username": "jane", "email": "j@x", "full_name": "Jane",
                 "last_visit": 1_718_000_000, "roles": {"role_id": 3, "role_external_id": "admin", "role_external_label": "Admin"},
                 "user_external_id": "Q1", "status": "active", "old_usage": false, "media_url": null, "contract_id": null}
            ]));
        })
        .await;
    let assign = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/saas/4/users")
                .json_body(json!([
                    {"user_id": "u1", "assign": true, "last_visit": 1_718_000_000},
                    {"user_id": "u2", "assign": true}
                ]));
            then.status(200).json_body(json!([
                {"user_id": "u1", "saas_user_id": 7, "error": null},
                {"user_id": "u2", "saas_user_id": null, "error": "person not found"}
            ]));
        })
        .await;
    let ext_ok = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/saas/4/users/u1")
                .json_body(json!({"user_external_id": "Q1"}));
            then.status(200)
                .json_body(json!({"user_external_id": "Q1", "errors": []}));
        })
        .await;
    let ext_err = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/saas/4/users/u9")
                .json_body(json!({"user_external_id": "Q9"}));
            then.status(200)
                .json_body(json!({"user_external_id": null, "errors": ["user is not assigned"]}));
        })
        .await;
    let deactivate = server
        .mock_async(|when, then| {
            when.method(PATCH)
                .path("/api/v3/saas_users/deactivate")
                .json_body(json!({"saas_user_ids": ["7", "8"]}));
            then.status(200).json_body(json!([
                {"saas_user_id": 7, "error": null},
                {"saas_user_id": 8, "error": "not found"}
            ]));
        })
        .await;
    let activate = server
        .mock_async(|when, then| {
            when.method(PATCH)
                .path("/api/v3/saas_users/activate")
                .json_body(json!({"saas_user_ids": ["7"]}));
            then.status(200)
                .json_body(json!([{"saas_user_id": "7", "error": null}]));
        })
        .await;
    let stray = unexpected(&server).await;

    let seats = mock_client(&server).saas_users();
    let listed = futures::TryStreamExt::try_collect::<Vec<_>>(seats.list("4").stream())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].role_label(), Some("Admin"));
    assert_eq!(listed[0].user_external_id.as_deref(), Some("Q1"));

    let results = seats
        .assign(
            "4",
            &[
                SeatAssignment::assign("u1", Some(1_718_000_000)),
                SeatAssignment::assign("u2", None),
            ],
        )
        .await
        .unwrap();
    assert_eq!(results[0].saas_user_id.as_deref(), Some("7"));
    assert_eq!(results[1].error.as_deref(), Some("person not found"));

    seats.set_external_id("4", "u1", "Q1").await.unwrap();
    let err = seats.set_external_id("4", "u9", "Q9").await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Item { .. }), "{err}");
    assert!(err.to_string().contains("user is not assigned"));

    let d = seats.deactivate(&["7".into(), "8".into()]).await.unwrap();
    assert_eq!(d[0].error, None);
    assert_eq!(d[1].error.as_deref(), Some("not found"));
    let a = seats.activate(&["7".into()]).await.unwrap();
    assert_eq!(a[0].saas_user_id.as_deref(), Some("7"));

    for m in [&list, &assign, &ext_ok, &ext_err, &deactivate, &activate] {
        m.assert_calls_async(1).await;
    }
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn roles_list_create_assign_and_overwrite() {
    let server = MockServer::start_async().await;
    // The document lists no query parameters for the role listing: none are sent.
    let list = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/saas/4/roles")
                .query_param_missing("limit")
                .query_param_missing("skip")
                .header("Authorization2", CANARY);
            then.status(200).json_body(json!([
                {"role_id": 1, "role_external_id": "member", "role_external_label": "Member"}
            ]));
        })
        .await;
    let create = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/saas/4/roles")
                .json_body(json!({"role_external_label": "Admin"}));
            then.status(201).json_body(
                json!({"role_id": 2, "role_external_id": "Admin", "role_external_label": "Admin"}),
            );
        })
        .await;
    let assign = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/saas/4/roles/users")
                .json_body(json!({"users": ["u1", "u3"], "roles": ["2"]}));
            then.status(200)
                .json_body(json!([{"user_id": "u1", "error": null}]));
        })
        .await;
    let overwrite = server
        .mock_async(|when, then| {
            when.method(PATCH)
                .path("/api/v3/saas/4/roles/users")
                .json_body(json!({"users": "u2", "roles": [
                    {"role_external_id": "Admin", "role_external_label": "Admin"}]}));
            then.status(200).json_body(json!([
                {"user_id": "u2", "error": "user is not assigned to this application"}
            ]));
        })
        .await;
    let stray = unexpected(&server).await;

    let roles = mock_client(&server).roles("4");
    let listed = roles.list().await.unwrap();
    assert_eq!(listed[0].role_external_label.as_deref(), Some("Member"));
    let created = roles.create("Admin", None).await.unwrap();
    assert_eq!(created.role_id.as_deref(), Some("2"));

    let r = roles
        .assign(&RoleAssignment::new(
            vec!["u1".into(), "u3".into()],
            vec!["2".into()],
        ))
        .await
        .unwrap();
    assert_eq!(r[0].error, None);
    let admin = RoleRef::of(&created).unwrap();
    let r = roles
        .overwrite(&RoleOverwrite::new("u2", vec![admin]))
        .await
        .unwrap();
    assert_eq!(
        r[0].error.as_deref(),
        Some("user is not assigned to this application")
    );

    for m in [&list, &create, &assign, &overwrite] {
        m.assert_calls_async(1).await;
    }
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn get_app_and_search_seats() {
    let server = MockServer::start_async().await;
    let get = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/saas/4")
                .header("Authorization2", CANARY);
            then.status(200)
                .json_body(json!({"saas_id": 4, "saas_name": "Quip", "category": "Productivity"}));
        })
        .await;
    let search = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/saas_users")
                .query_param("filter", "saas_id eq 4")
                .query_param("limit", "1000")
                .query_param("skip", "0");
            then.status(200)
                .json_body(json!([{"saas_user_id": 7, "user_id": "u1", "status": "inactive"}]));
        })
        .await;
    let stray = unexpected(&server).await;

    let client = mock_client(&server);
    let app = client.saas().get("4").await.unwrap();
    assert_eq!(app.saas_id.as_deref(), Some("4"));
    assert_eq!(app.other["category"], json!("Productivity"));
    let seats: Vec<_> = futures::TryStreamExt::try_collect(
        client
            .saas_users()
            .search(oomnitza_client::Filter::new().eq("saas_id", 4))
            .stream(),
    )
    .await
    .unwrap();
    assert!(!seats[0].is_active());
    for m in [&get, &search] {
        m.assert_calls_async(1).await;
    }
    stray.assert_calls_async(0).await;
}
