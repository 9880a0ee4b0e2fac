//! The source connector against httpmock: fields, roles, last activity, completeness,
//! progress and call counts on a small company.

use std::sync::Mutex;
use std::time::Duration;

use httpmock::Method::{GET, POST};
use httpmock::{Mock, MockServer};
use quip_client::{
    EventsConfig, Listing, QuipClient, QuipSource, QuipSourceConfig, RetryPolicy, RoleSource,
};
use serde_json::json;
use sync_engine::{Completeness, ErrorKind, ProgressEvent, Source, Stage, Value};

use crate::common::config;

async fn catch_all(server: &MockServer) -> Mock<'_> {
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(599).body("unexpected request");
        })
        .await
}

fn scim_page(start: u64, total: u64, users: serde_json::Value) -> serde_json::Value {
    let n = users.as_array().map_or(0, Vec::len);
    let mut page = json!({"totalResults": total, "startIndex": start, "itemsPerPage": n});
    page["Resources"] = users;
    page
}

fn client(server: &MockServer) -> QuipClient {
    let policy = RetryPolicy::default()
        .max_attempts(2)
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(2));
    QuipClient::new(config(&server.base_url()).retry(policy)).unwrap()
}

#[derive(Default)]
struct Recorder(Mutex<Vec<ProgressEvent>>);

impl sync_engine::Progress for Recorder {
    fn on_event(&self, event: ProgressEvent) {
        self.0.lock().unwrap().push(event);
    }
}

#[tokio::test]
async fn scim_source_builds_records_with_roles_and_last_activity() {
    let server = MockServer::start_async().await;
    let current = server
        .mock_async(|when, then| {
            when.method(GET).path("/1/users/current");
            then.status(200)
                .json_body(json!({"id": "UADMIN00001", "company_id": "IMbAcASGu56"}));
        })
        .await;
    let p1 = server
        .mock_async(|when, then| {
            when.method(GET).path("/2/Users").query_param("startIndex", "1");
            then.status(200).json_body(scim_page(1, 3, json!([
                {"id":"UTUAEAiZl6B","userName":"Jane@Acme.com","name":{"formatted":"Jane Doe","givenName":"Jane","familyName":"Doe"},
                 "emails":[{"value":"jane.alt@acme.com"},{"value":"Jane@Acme.com","primary":true}],"active":true,
                 "meta":{"created":"2021-09-19T03:37:45Z"}},
                {"id":"VLP9EAwREEs","userName":"bob@acme.com","name":{"formatted":"Bob van Dyke"},"emails":[{"value":"bob@acme.com"}],"active":false}
            ])));
        })
        .await;
    let p2 = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/2/Users")
                .query_param("startIndex", "3");
            then.status(200).json_body(scim_page(
                3,
                3,
                json!([
                    {"id":"WQX7EAbcdef","userName":"robot@acme.com","active":true}
                ]),
            ));
        })
        .await;
    let bulk = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/users/")
                .query_param("ids", "UTUAEAiZl6B,VLP9EAwREEs,WQX7EAbcdef");
            then.status(200).json_body(json!({
                "UTUAEAiZl6B": {"id":"UTUAEAiZl6B","disabled":false,"is_robot":false,"created_usec":1_632_022_665_732_239_i64},
                "VLP9EAwREEs": {"id":"VLP9EAwREEs","disabled":false,"is_robot":false},
                "WQX7EAbcdef": {"id":"WQX7EAbcdef","name":"Robo Bot","disabled":false,"is_robot":true,"emails":["Robot@Acme.com"]}
            }));
        })
        .await;
    let roles = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/admin/company/admin-roles")
                .query_param("company_id", "IMbAcASGu56");
            then.status(200).json_body(json!({"admin_roles": [
                {"id": "R1", "name": "Super Admin", "user_ids": ["UTUAEAiZl6B"]}
            ]}));
        })
        .await;
    let cursor = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/admin/events/1/cursor/create")
                .query_param("company_id", "IMbAcASGu56")
                .query_param_exists("since_usec");
            then.status(200).json_body(json!({"next_cursor": "c1"}));
        })
        .await;
    let events = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/1/admin/events/1/events/get")
                .query_param("cursor", "c1");
            then.status(200).json_body(json!({
                "events": [{"event":"login","user_id":"UTUAEAiZl6B","time_usec":1_700_000_000_000_000_i64}],
                "next_cursor": "c2", "more_to_read": false
            }));
        })
        .await;
    let unexpected = catch_all(&server).await;

    let cfg = QuipSourceConfig::new(Listing::Scim)
        .page_size(2)
        .roles(RoleSource::default().endpoint(true))
        .last_activity(EventsConfig::new(Duration::from_secs(90 * 86_400)));
    let source = QuipSource::new(client(&server), cfg);
    assert_eq!(source.system(), "quip");
    let progress = Recorder::default();
    let snap = source.read(&progress).await.unwrap();
    assert_eq!(snap.completeness, Completeness::Complete);
    assert_eq!(snap.reported_total, Some(3));
    assert_eq!(snap.records.len(), 3);

    let jane = &snap.records[0];
    assert_eq!(jane.key, "UTUAEAiZl6B");
    assert!(jane.active);
    assert_eq!(jane.roles, ["Super Admin"]);
    assert_eq!(jane.last_activity.unwrap().timestamp(), 1_700_000_000);
    let f = &jane.fields;
    assert_eq!(f.get("email"), Some(&Value::from("jane@acme.com")));
    assert_eq!(
        f.get("emails"),
        Some(&Value::from(vec!["jane@acme.com", "jane.alt@acme.com"]))
    );
    assert_eq!(f.get("first_name"), Some(&Value::from("Jane")));
    assert_eq!(f.get("last_name"), Some(&Value::from("Doe")));
    assert_eq!(f.get("company_id"), Some(&Value::from("IMbAcASGu56")));
    assert_eq!(f.get("is_robot"), Some(&Value::Bool(false)));
    assert!(matches!(f.get("created_at"), Some(Value::Timestamp(_))));
    assert!(matches!(f.get("last_activity"), Some(Value::Timestamp(_))));
    // Every offered field is present on every record.
    for spec in source.fields() {
        for r in &snap.records {
            assert!(r.fields.get(&spec.name).is_some(), "{} missing", spec.name);
        }
    }

    let bob = &snap.records[1];
    assert!(
        !bob.active,
        "SCIM active=false wins over bulk disabled=false"
    );
    assert_eq!(bob.fields.get("disabled"), Some(&Value::Bool(true)));
    assert_eq!(bob.roles, ["Member"]);
    assert_eq!(bob.fields.get("last_name"), Some(&Value::from("van Dyke")));
    assert_eq!(bob.fields.get("last_activity"), Some(&Value::Null));
    assert_eq!(bob.last_activity, None);

    let robot = &snap.records[2];
    assert_eq!(robot.fields.get("is_robot"), Some(&Value::Bool(true)));
    assert_eq!(
        robot.fields.get("email"),
        Some(&Value::from("robot@acme.com"))
    );
    assert_eq!(robot.fields.get("name"), Some(&Value::from("Robo Bot")));

    // Calls: 1 current + ceil(3/2) SCIM + ceil(3/1000) bulk + 1 roles + 1 cursor + 1 page.
    assert_eq!(source.stats().calls, 1 + 2 + 1 + 1 + 2);
    for m in [&current, &p1, &p2, &bulk, &roles, &cursor, &events] {
        m.assert_async().await;
    }
    unexpected.assert_calls_async(0).await;

    let events = progress.0.lock().unwrap().clone();
    assert_eq!(
        events.first(),
        Some(&ProgressEvent::Started {
            stage: Stage::ReadSource,
            total: None
        })
    );
    assert!(events.contains(&ProgressEvent::Total {
        stage: Stage::ReadSource,
        total: 3
    }));
    let advanced: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Advanced { by, .. } => Some(*by),
            _ => None,
        })
        .collect();
    assert_eq!(advanced, [2, 1], "one Advanced per page");
    assert_eq!(
        events.last(),
        Some(&ProgressEvent::Finished {
            stage: Stage::ReadSource
        })
    );
}

#[tokio::test]
async fn admin_listing_with_configured_admins_needs_no_enrichment() {
    let server = MockServer::start_async().await;
    let list = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/1/admin/users/list")
                .form_urlencoded_tuple("company_id", "CMPNY")
                .form_urlencoded_tuple("page", "0");
            then.status(200).json_body(json!({
                "users": [
                    {"id":"A0000000001","name":"Ann","emails":["ANN@x.example"],"company_id":"CMPNY","disabled":false,"is_robot":false,"created_usec":1_i64},
                    {"id":"B0000000002","name":"Ben","emails":["ben@x.example"],"company_id":"CMPNY","disabled":true,"is_robot":false,"created_usec":2_i64}
                ],
                "page": 0, "count": 100, "total_count": 2, "next_page": null
            }));
        })
        .await;
    // The roles endpoint is missing on this site: fall back to configured admins.
    let roles = server
        .mock_async(|when, then| {
            when.method(GET).path("/1/admin/company/admin-roles");
            then.status(404)
                .body(r#"{"error_description":"Not Found"}"#);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let cfg = QuipSourceConfig::new(Listing::Admin)
        .company_id("CMPNY")
        .roles(
            RoleSource::default()
                .endpoint(true)
                .admins(vec!["ann@X.example".into()]),
        );
    let source = QuipSource::new(client(&server), cfg);
    let snap = source.read(&sync_engine::NoProgress).await.unwrap();
    assert!(snap.completeness.is_complete(), "{:?}", snap.completeness);
    assert_eq!(snap.records[0].roles, ["Admin"]);
    assert_eq!(snap.records[1].roles, ["Member"]);
    assert!(!snap.records[1].active);
    assert_eq!(
        snap.records[0].fields.get("email"),
        Some(&Value::from("ann@x.example"))
    );
    // company id configured, users carry every field: 1 list call + 1 roles call.
    assert_eq!(source.stats().calls, 2);
    list.assert_async().await;
    roles.assert_async().await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_page_that_fails_for_good_makes_the_read_incomplete() {
    let server = MockServer::start_async().await;
    let p1 = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/2/Users")
                .query_param("startIndex", "1");
            then.status(200)
                .json_body(scim_page(1, 4, json!([{"id":"A"},{"id":"B"}])));
        })
        .await;
    let p2 = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/2/Users")
                .query_param("startIndex", "3");
            then.status(500).body(r#"{"error_description":"Internal"}"#);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let cfg = QuipSourceConfig::new(Listing::Scim)
        .company_id("C")
        .enrich(false)
        .page_size(2);
    let source = QuipSource::new(client(&server), cfg);
    let snap = source.read(&sync_engine::NoProgress).await.unwrap();
    assert_eq!(snap.records.len(), 2, "records read so far are returned");
    match &snap.completeness {
        Completeness::Incomplete { reason } => {
            assert!(
                reason.contains("listing stopped after 1 page(s)"),
                "{reason}"
            );
            assert!(reason.contains("HTTP 500"), "{reason}");
        }
        Completeness::Complete => panic!("must be incomplete"),
    }
    p1.assert_async().await;
    p2.assert_calls_async(2).await; // max_attempts = 2
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_total_that_does_not_match_makes_the_read_incomplete() {
    let server = MockServer::start_async().await;
    let p1 = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/2/Users")
                .query_param("startIndex", "1");
            then.status(200)
                .json_body(scim_page(1, 3, json!([{"id":"A"},{"id":"B"}])));
        })
        .await;
    let p2 = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/2/Users")
                .query_param("startIndex", "3");
            then.status(200).json_body(scim_page(3, 3, json!([])));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let cfg = QuipSourceConfig::new(Listing::Scim)
        .company_id("C")
        .enrich(false)
        .page_size(2);
    let source = QuipSource::new(client(&server), cfg);
    let snap = source.read(&sync_engine::NoProgress).await.unwrap();
    assert_eq!(snap.records.len(), 2);
    assert_eq!(snap.reported_total, Some(3));
    assert!(
        matches!(&snap.completeness, Completeness::Incomplete { reason } if reason.contains("total of 3")),
        "{:?}",
        snap.completeness
    );
    p1.assert_async().await;
    p2.assert_async().await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn auth_failure_and_first_request_failure_are_errors() {
    let server = MockServer::start_async().await;
    let current = server
        .mock_async(|when, then| {
            when.method(GET).path("/1/users/current");
            then.status(401)
                .body(r#"{"error_description":"Invalid access_token"}"#);
        })
        .await;
    let first_page = server
        .mock_async(|when, then| {
            when.method(POST).path("/1/admin/users/list");
            then.status(503)
                .body(r#"{"error_description":"Service Unavailable"}"#);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let source = QuipSource::new(client(&server), QuipSourceConfig::new(Listing::Scim));
    let e = source.read(&sync_engine::NoProgress).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    assert!(e.message.contains("Invalid access_token"), "{}", e.message);

    let source = QuipSource::new(
        client(&server),
        QuipSourceConfig::new(Listing::Admin).company_id("C"),
    );
    let e = source.read(&sync_engine::NoProgress).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient);
    current.assert_async().await;
    first_page.assert_calls_async(2).await;
    unexpected.assert_calls_async(0).await;
}
