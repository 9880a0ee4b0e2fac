//! Contract tests with httpmock: method, path, Bearer header, form encoding, and decoding
//! of the example bodies in quip-api.md. Every mock must be hit; a catch-all mock created
//! last (lowest priority) must see no request.

use futures::TryStreamExt;
use httpmock::Method::{GET, POST};
use httpmock::{Mock, MockServer};
use quip_client::{BulkEntry, CursorKind, ErrorKind, EventFieldNames, QuipClient, RefreshRequest};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::common::{CANARY, SCIM_CANARY, config};

const BEARER: &str = "Bearer CANARY-quip-7f3a9";

/// quip-api.md §4.1
const CURRENT_USER: &str = r#"{"id":"UTUAEAiZl6B","name":"Jane Doe","is_robot":false,"affinity":0.43,"company_id":"IMbAcASGu56",
 "emails":["jane@example1.com","jane@example2.com"],"disabled":false,"created_usec":1632022665732239,
 "chat_thread_id":"adHAAAKik9A","profile_picture_url":"https://acme.quip.com:443/vWMeAXtnYvRMJJH_A6OaMA",
 "desktop_folder_id":"AGWAOAhT3qk","private_folder_id":"DGWAOAhT3qk","shared_folder_ids":["FGWAOAhT3qk"]}"#;

/// quip-api.md §4.3 plus a not-found entry.
const BULK: &str = r#"{"UTUAEAiZl6B":{"name":"John Doe","emails":["john.doe@example.com"],
   "created_usec":1631916773945747,"is_robot":false,"affinity":0,"disabled":false},
 "jane.doe@example.com":{"name":"Jane Doe","is_robot":false,"affinity":0.36},
 "nobody@example.com":"User not found"}"#;

/// quip-api.md §4.8
const SCIM_LIST: &str = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":2,"startIndex":1,"itemsPerPage":2,
 "Resources":[
  {"id":"UTUAEAiZl6B","userName":"jane@acme.com","name":{"formatted":"Jane Doe"},
   "emails":[{"value":"jane@acme.com","primary":true}],"active":true},
  {"id":"VLP9EAwREEs","userName":"bob@acme.com","emails":[{"value":"bob@acme.com"}],"active":false}]}"#;

/// A server, a client with the canary token, and the catch-all mock to check at the end.
async fn setup() -> (MockServer, QuipClient) {
    let server = MockServer::start_async().await;
    let client = QuipClient::new(config(&server.base_url())).unwrap();
    (server, client)
}

/// Created after the real mocks, so it only sees requests nobody expected.
async fn catch_all(server: &MockServer) -> Mock<'_> {
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(599).body("unexpected request");
        })
        .await
}

#[tokio::test]
async fn current_user() {
    let (server, client) = setup().await;
    let m = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/users/current")
                .header("authorization", BEARER);
            then.status(200).body(CURRENT_USER);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let u = client.users().current().await.unwrap();
    assert_eq!(u.id, "UTUAEAiZl6B");
    assert_eq!(u.company_id.as_deref(), Some("IMbAcASGu56"));
    assert_eq!(u.primary_email(), Some("jane@example1.com"));
    assert_eq!(u.disabled, Some(false));
    assert_eq!(u.is_robot, Some(false));
    assert_eq!(u.affinity, Some(0.43));
    assert_eq!(
        u.created_at().unwrap().to_rfc3339(),
        "2021-09-19T03:37:45.732239+00:00"
    );
    assert_eq!(
        u.shared_folder_ids.as_deref(),
        Some(&["FGWAOAhT3qk".to_owned()][..])
    );
    m.assert_async().await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn one_user_by_id_or_email_and_unknown_user() {
    let (server, client) = setup().await;
    let by_email = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/users/jane@example1.com")
                .header("authorization", BEARER);
            then.status(200)
                .body(r#"{"id":"UTUAEAiZl6B","name":"Jane Doe","emails":["jane@example1.com"],"unknown_field":{"x":1}}"#);
        })
        .await;
    let missing = server
        .mock_async(|when, then| {
            when.method(GET).path("/1/users/NOPEnope123");
            then.status(404).body(
                r#"{"error":"Not Found","error_code":404,"error_description":"User not found"}"#,
            );
        })
        .await;
    let unexpected = catch_all(&server).await;
    let u = client.users().get("jane@example1.com").await.unwrap();
    assert_eq!(u.name.as_deref(), Some("Jane Doe"));
    assert_eq!(client.users().find("NOPEnope123").await.unwrap(), None);
    let e = client.users().get("NOPEnope123").await.unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(
        e.api_body().and_then(|b| b.error_description.as_deref()),
        Some("User not found")
    );
    by_email.assert_async().await;
    missing.assert_calls_async(2).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn bulk_lookup_keys_by_the_keys_passed_with_per_entry_errors() {
    let (server, client) = setup().await;
    let m = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/users/")
                .query_param("ids", "UTUAEAiZl6B,jane.doe@example.com,nobody@example.com")
                .header("authorization", BEARER);
            then.status(200).body(BULK);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let found = client
        .users()
        .lookup(&["UTUAEAiZl6B", "jane.doe@example.com", "nobody@example.com"])
        .await
        .unwrap();
    assert_eq!(found.len(), 3);
    let john = found["UTUAEAiZl6B"].user().unwrap();
    // The documented example omits `id`; the id key fills it.
    assert_eq!(john.id, "UTUAEAiZl6B");
    assert_eq!(john.created_usec, Some(1_631_916_773_945_747));
    // An email key without an id cannot name the user.
    assert!(matches!(
        &found["jane.doe@example.com"],
        BulkEntry::Error(_)
    ));
    assert_eq!(
        found["nobody@example.com"],
        BulkEntry::Error("User not found".to_owned())
    );
    // Limits are checked before any call.
    let too_many: Vec<String> = (0..1001).map(|i| format!("U{i}")).collect();
    let e = client.users().lookup(&too_many).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Config { .. }));
    assert!(client.users().lookup::<&str>(&[]).await.unwrap().is_empty());
    m.assert_async().await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn contacts() {
    let (server, client) = setup().await;
    let m = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/users/contacts")
                .header("authorization", BEARER);
            then.status(200).body(
                r#"[{"id":"A1","name":"Ann","affinity":0.9},{"id":"B2","name":"Bob","disabled":true}]"#,
            );
        })
        .await;
    let unexpected = catch_all(&server).await;
    let contacts = client.users().contacts().await.unwrap();
    assert_eq!(contacts.len(), 2);
    assert_eq!(contacts[1].disabled, Some(true));
    m.assert_async().await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn admin_list_users_posts_form_pages() {
    let (server, client) = setup().await;
    let page0 = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/1/admin/users/list")
                .header("authorization", BEARER)
                .header("content-type", "application/x-www-form-urlencoded")
                .form_urlencoded_tuple("company_id", "IMbAcASGu56")
                .form_urlencoded_tuple("page", "0")
                .form_urlencoded_tuple("count", "2");
            then.status(200).json_body(json!({
                "users": [
                    {"id":"UTUAEAiZl6B","name":"Jane Doe","emails":["jane@acme.com"],"company_id":"IMbAcASGu56","disabled":false,"is_robot":false,"created_usec":1_632_022_665_732_239_i64},
                    {"id":"VLP9EAwREEs","name":"Bob","company_id":"IMbAcASGu56","disabled":true}
                ],
                "page": 0, "count": 2, "total_count": 3, "next_page": 1
            }));
        })
        .await;
    let page1 = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/1/admin/users/list")
                .form_urlencoded_tuple("company_id", "IMbAcASGu56")
                .form_urlencoded_tuple("page", "1")
                .form_urlencoded_tuple("count", "2");
            then.status(200).json_body(json!({
                "users": [{"id":"WQX7EAbcdef","name":"Robo","is_robot":true}],
                "page": 1, "count": 2, "total_count": 3, "next_page": null
            }));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let users: Vec<_> = client
        .admin()
        .list_users("IMbAcASGu56")
        .page_size(2)
        .stream()
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["UTUAEAiZl6B", "VLP9EAwREEs", "WQX7EAbcdef"]);
    assert_eq!(users[2].is_robot, Some(true));
    page0.assert_async().await;
    page1.assert_async().await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn admin_user_info_and_roles() {
    let (server, client) = setup().await;
    let info = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/admin/users/UTUAEAiZl6B")
                .query_param("company_id", "IMbAcASGu56")
                .query_param("threads_meta", "true")
                .header("authorization", BEARER);
            then.status(200).body(
                r#"{"user":{"id":"UTUAEAiZl6B","name":"Jane Doe","emails":["jane@acme.com"],"disabled":false},
                 "threads":{"...":"per-thread entries"},"contacts":{"...":"..."},"companies":{"...":"..."}}"#,
            );
        })
        .await;
    let roles = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/admin/company/admin-roles")
                .query_param("company_id", "IMbAcASGu56")
                .header("authorization", BEARER);
            then.status(200).json_body(json!({
                "admin_roles": [
                    {"id": "R1", "name": "Super Admin", "user_ids": ["UTUAEAiZl6B"]},
                    {"id": "R2", "name": "Site Admin", "user_ids": ["VLP9EAwREEs", "UTUAEAiZl6B"]},
                    {"id": "R3", "name": "Auditors", "user_ids": []}
                ]
            }));
        })
        .await;
    let roles_404 = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/admin/company/admin-roles")
                .query_param("company_id", "OTHERcompany");
            then.status(404)
                .body(r#"{"error_description":"Not Found"}"#);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let i = client
        .admin()
        .user_info("IMbAcASGu56", "UTUAEAiZl6B", true)
        .await
        .unwrap();
    assert_eq!(i.user.unwrap().emails.unwrap(), ["jane@acme.com"]);
    assert!(i.threads.is_some());
    let r = client.admin().admin_roles("IMbAcASGu56").await.unwrap();
    assert_eq!(r.roles.len(), 3);
    assert_eq!(r.roles[0].name.as_deref(), Some("Super Admin"));
    let by_user = r.by_user();
    assert_eq!(by_user.len(), 2);
    assert_eq!(
        by_user["UTUAEAiZl6B"], "Super Admin",
        "the first role listed wins"
    );
    assert_eq!(by_user["VLP9EAwREEs"], "Site Admin");
    let e = client
        .admin()
        .admin_roles("OTHERcompany")
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::NotAvailable { .. }), "{e:?}");
    info.assert_async().await;
    roles.assert_async().await;
    roles_404.assert_async().await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn scim_list_uses_the_scim_token_and_documented_example() {
    let server = MockServer::start_async().await;
    let cfg = config(&server.base_url()).scim_token(SecretString::from(SCIM_CANARY));
    let client = QuipClient::new(cfg).unwrap();
    let m = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/2/Users")
                .query_param("startIndex", "1")
                .query_param("count", "100")
                .header("authorization", format!("Bearer {SCIM_CANARY}"));
            then.status(200).body(SCIM_LIST);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let users: Vec<_> = client
        .scim()
        .list_users()
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].display().as_deref(), Some("Jane Doe"));
    assert_eq!(users[0].emails_primary_first(), ["jane@acme.com"]);
    assert_eq!(users[1].active, Some(false));
    m.assert_async().await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn scim_paging_advances_by_items_received_and_stops_at_total() {
    let (server, client) = setup().await;
    let page = |start: &'static str, ids: &[&str]| {
        let resources: Vec<_> = ids.iter().map(|id| json!({"id": id})).collect();
        let body = json!({"totalResults": 5, "itemsPerPage": ids.len(), "startIndex": start.parse::<u64>().unwrap(), "Resources": resources});
        (start, body)
    };
    // The server caps pages at 2 although 10 were asked for (a page repeating a user is an
    // error: limits.rs).
    let mut mocks = Vec::new();
    for (start, body) in [
        page("1", &["A", "B"]),
        page("3", &["C", "D"]),
        page("5", &["E"]),
    ] {
        mocks.push(
            server
                .mock_async(move |when, then| {
                    when.method(GET)
                        .path("/2/Users")
                        .query_param("startIndex", start)
                        .query_param("count", "10")
                        .header("authorization", BEARER);
                    then.status(200).json_body(body);
                })
                .await,
        );
    }
    let unexpected = catch_all(&server).await;
    let users: Vec<_> = client
        .scim()
        .list_users()
        .page_size(10)
        .stream()
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["A", "B", "C", "D", "E"]);
    for m in &mocks {
        m.assert_async().await;
    }
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn scim_find_by_email() {
    let (server, client) = setup().await;
    let m = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/2/Users")
                .query_param("filter", "emails eq \"jane@acme.com\"")
                .query_param("startIndex", "1")
                .query_param("count", "1")
                .header("authorization", BEARER);
            then.status(200).json_body(json!({
                "totalResults": 1, "itemsPerPage": 1, "startIndex": 1,
                "Resources": [{"id":"UTUAEAiZl6B","userName":"jane@acme.com"}]
            }));
        })
        .await;
    let none = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/2/Users")
                .query_param("filter", "emails eq \"ghost@acme.com\"");
            then.status(200)
                .json_body(json!({"totalResults": 0, "Resources": []}));
        })
        .await;
    let invalid = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/2/Users")
                .query_param("filter", "title pr");
            then.status(400).json_body(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "400", "scimType": "invalidFilter",
                "detail": "Unsupported filter: title pr"
            }));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let e = client
        .scim()
        .list_users()
        .filter("title pr")
        .page(1)
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400));
    assert!(
        e.to_string()
            .ends_with("HTTP 400 Bad Request: Unsupported filter: title pr"),
        "{e}"
    );
    let u = client.scim().find_by_email("jane@acme.com").await.unwrap();
    assert_eq!(u.unwrap().id, "UTUAEAiZl6B");
    assert!(
        client
            .scim()
            .find_by_email("ghost@acme.com")
            .await
            .unwrap()
            .is_none()
    );
    m.assert_async().await;
    none.assert_async().await;
    invalid.assert_async().await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn events_cursors_pages_and_newest_login_per_user() {
    let (server, client) = setup().await;
    let realtime = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/admin/events/1/cursor/realtime/create")
                .query_param("company_id", "IMbAcASGu56")
                .header("authorization", BEARER);
            then.status(200).json_body(json!({"next_cursor": "rt-1"}));
        })
        .await;
    let realtime_get = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/admin/events/1/events/realtime/get")
                .query_param("company_id", "IMbAcASGu56")
                .query_param("cursor", "rt-1");
            then.status(200)
                .json_body(json!({"events": [], "next_cursor": "rt-2", "more_to_read": false}));
        })
        .await;
    let batch = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/admin/events/1/cursor/create")
                .query_param("company_id", "IMbAcASGu56")
                .query_param_exists("since_usec")
                .header("authorization", BEARER);
            then.status(200).json_body(json!({"next_cursor": "b-1"}));
        })
        .await;
    let get1 = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/admin/events/1/events/get")
                .query_param("company_id", "IMbAcASGu56")
                .query_param("cursor", "b-1");
            then.status(200).json_body(json!({
                "events": [
                    {"id":"E1","event":"login","user_id":"UTUAEAiZl6B","time_usec":1_700_000_000_000_000_i64,"ip_address":"203.0.113.7"},
                    {"id":"E2","event":"open-thread","user_id":"UTUAEAiZl6B","time_usec":1_700_000_900_000_000_i64,"thread_id":"T"}
                ],
                "next_cursor": "b-2", "more_to_read": true
            }));
        })
        .await;
    let get2 = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/admin/events/1/events/get")
                .query_param("cursor", "b-2");
            then.status(200).json_body(json!({
                "events": [
                    {"id":"E3","event":"login","user_id":"UTUAEAiZl6B","time_usec":1_700_000_500_000_000_i64},
                    {"id":"E4","event":"login","user_id":"VLP9EAwREEs","time_usec":1_690_000_000_000_000_i64}
                ],
                "next_cursor": "b-3", "more_to_read": false
            }));
        })
        .await;
    let unexpected = catch_all(&server).await;

    let events = client.events();
    let rt = events
        .create_cursor("IMbAcASGu56", CursorKind::Realtime)
        .await
        .unwrap();
    assert!(rt.realtime);
    let pages: Vec<_> = events.pages("IMbAcASGu56", rt).try_collect().await.unwrap();
    assert_eq!(pages.len(), 1);
    assert!(pages[0].events.is_empty());

    let batch_cursor = events
        .create_cursor(
            "IMbAcASGu56",
            CursorKind::Batch {
                since_usec: 0,
                until_usec: Some(1_800_000_000_000_000),
            },
        )
        .await
        .unwrap();
    assert!(!batch_cursor.realtime);
    let logins: Vec<_> = events
        .logins("IMbAcASGu56", batch_cursor)
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<_> = logins
        .iter()
        .map(|e| e.fields["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["E1", "E3", "E4"], "login events only, in order");

    let since = chrono::DateTime::from_timestamp(1_600_000_000, 0).unwrap();
    let logins = events
        .last_logins("IMbAcASGu56", since, &EventFieldNames::default())
        .await
        .unwrap();
    assert_eq!(logins.len(), 2);
    assert_eq!(logins["UTUAEAiZl6B"].timestamp(), 1_700_000_500);
    assert_eq!(logins["VLP9EAwREEs"].timestamp(), 1_690_000_000);
    realtime.assert_async().await;
    realtime_get.assert_async().await;
    for m in [&batch, &get1, &get2] {
        m.assert_calls_async(2).await;
    }
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn oauth_refresh_is_form_encoded_without_bearer_and_verify() {
    let (server, client) = setup().await;
    let refresh = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/1/oauth/access_token")
                .header("content-type", "application/x-www-form-urlencoded")
                .header_missing("authorization")
                .form_urlencoded_tuple("grant_type", "refresh_token")
                .form_urlencoded_tuple("refresh_token", "refresh-CANARY")
                .form_urlencoded_tuple("client_id", "my-client")
                .form_urlencoded_tuple("client_secret", "secret & more");
            then.status(200).json_body(json!({
                "access_token": "new-access", "refresh_token": "refresh-2",
                "expires_in": 2_592_000, "scope": "USER_READ ADMIN_READ", "token_type": "Bearer"
            }));
        })
        .await;
    let verify_ok = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/oauth/verify_token")
                .header("authorization", "Bearer new-access");
            then.status(200)
                .json_body(json!({"user_id": "UTUAEAiZl6B", "company_id": "IMbAcASGu56"}));
        })
        .await;
    let verify_bad = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/oauth/verify_token")
                .header("authorization", BEARER);
            then.status(401).body(
                r#"{"error":"Unauthorized","error_code":401,"error_description":"Invalid access_token"}"#,
            );
        })
        .await;
    let unexpected = catch_all(&server).await;

    assert_eq!(client.oauth().verify().await.unwrap(), None);
    let token = client
        .oauth()
        .refresh(&RefreshRequest {
            client_id: "my-client".into(),
            client_secret: SecretString::from("secret & more"),
            refresh_token: SecretString::from("refresh-CANARY"),
        })
        .await
        .unwrap();
    assert_eq!(token.access_token.expose_secret(), "new-access");
    assert_eq!(token.expires_in, Some(2_592_000));
    client.set_token(token.access_token.clone());
    let info = client.oauth().verify().await.unwrap().unwrap();
    assert_eq!(info.company_id.as_deref(), Some("IMbAcASGu56"));
    refresh.assert_async().await;
    verify_ok.assert_async().await;
    verify_bad.assert_async().await;
    unexpected.assert_calls_async(0).await;
    let _ = CANARY;
}

#[tokio::test]
async fn auth_failure_keeps_status_and_description_and_maps_to_auth() {
    let (server, client) = setup().await;
    let m = server
        .mock_async(|when, then| {
            when.method(GET).path("/1/users/current");
            then.status(401).body(
                r#"{"error":"Unauthorized","error_code":401,"error_description":"Invalid access_token"}"#,
            );
        })
        .await;
    let unexpected = catch_all(&server).await;
    let e = client.users().current().await.unwrap_err();
    assert!(e.is_auth());
    assert_eq!(e.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(
        e.api_body().and_then(|b| b.error_description.as_deref()),
        Some("Invalid access_token")
    );
    let shown = e.to_string();
    assert!(
        shown.contains("HTTP 401") && shown.contains("Invalid access_token"),
        "{shown}"
    );
    let ce = sync_engine::ConnectorError::from(e);
    assert_eq!(ce.kind, sync_engine::ErrorKind::Auth);
    m.assert_async().await;
    unexpected.assert_calls_async(0).await;
}
