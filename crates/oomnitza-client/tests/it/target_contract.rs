//! The target's requests, checked exactly against httpmock (strict).

use httpmock::prelude::*;
use oomnitza_client::{OomnitzaTarget, TargetConfig, WriteStrategy};
use serde_json::{Value as Json, json};
use sync_engine::{
    Change, ErrorKind, FieldRule, Fields, Operation, Outcome, OutcomeResult, Target,
};

use crate::common::{CANARY, mock_client, unexpected, users_spec};

const QUIP_ID: &str = "24DCF85294E411E38A52066B556BA4EE";
const SUSPENDED_ID: &str = "5A1B2C3D4E5F60718293A4B5C6D7E8F9";

fn meta(unique: bool) -> Json {
    json!({
        "quip_user_id": {"internal_id": QUIP_ID, "label": "Quip User Id", "unique": if unique {"1"} else {"0"}, "editable": "0"},
        "username": {"internal_id": "USER", "label": "Username", "unique": "1", "editable": "1"},
        "email": {"internal_id": "EMAIL", "label": "Email", "unique": "0", "editable": "1"},
        "first_name": {"internal_id": "FIRST_NAME", "label": "First Name", "unique": "0", "editable": "1"},
        "last_name": {"internal_id": "LAST_NAME", "label": "Last Name", "unique": "0", "editable": "1"},
        "suspended": {"internal_id": SUSPENDED_ID, "label": "Suspended", "unique": "0", "editable": "1"}
    })
}

fn by_key(outcomes: &[Outcome], key: &str) -> OutcomeResult {
    outcomes
        .iter()
        .find(|o| o.key == key)
        .unwrap_or_else(|| panic!("no outcome for {key}"))
        .result
        .clone()
}

#[tokio::test]
async fn validate_names_the_missing_field_and_sends_only_the_metadata_read() {
    let server = MockServer::start_async().await;
    let mut m = meta(true);
    m.as_object_mut().unwrap().remove("quip_user_id");
    let meta_mock = server
        .mock_async(move |when, then| {
            when.method(GET)
                .path("/api/v3/users/meta")
                .header("Authorization2", CANARY);
            then.status(200).json_body(m);
        })
        .await;
    let stray = unexpected(&server).await;
    let target = OomnitzaTarget::new(
        mock_client(&server),
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    let err = target.validate(&users_spec()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert_eq!(
        err.message,
        "Oomnitza has no Users field \"quip_user_id\": create a Users field labelled 'Quip User Id' with Unique checked (Configuration > Customization > Users), then run validate again"
    );
    meta_mock.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn validate_names_a_mandatory_field_the_mapping_leaves_out() {
    let server = MockServer::start_async().await;
    let mut m = meta(true);
    let fields = m.as_object_mut().unwrap();
    fields["username"]["optional"] = json!("0");
    // Mandatory but not writable: the server fills it, so leaving it out is fine.
    fields.insert(
        "user_id".to_owned(),
        json!({"internal_id": "USER_ID", "label": "User Id", "editable": "0", "optional": "0"}),
    );
    let meta_mock = server
        .mock_async(move |when, then| {
            when.method(GET).path("/api/v3/users/meta");
            then.status(200).json_body(m);
        })
        .await;
    let stray = unexpected(&server).await;
    let target = OomnitzaTarget::new(
        mock_client(&server),
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    let mut spec = users_spec();
    spec.fields.retain(|f| f.as_ref() != "username");
    let err = target.validate(&spec).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert_eq!(
        err.message,
        "the Oomnitza Users field \"username\" ('Username') is mandatory, but the mapping does not set it: add it to [mapping.users.fields]"
    );
    target.validate(&users_spec()).await.unwrap();
    meta_mock.assert_calls_async(2).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn field_rules_come_from_the_metadata_already_read() {
    let server = MockServer::start_async().await;
    let mut m = meta(true);
    let fields = m.as_object_mut().unwrap();
    fields["username"]["optional"] = json!("0");
    fields["username"]["data_type"] = json!("string");
    fields["username"]["length"] = json!(256);
    fields["first_name"]["data_type"] = json!("String");
    fields["first_name"]["length"] = json!("64");
    // A length on a number field is digits, not characters: not a text limit.
    fields["last_name"]["data_type"] = json!("integer");
    fields["last_name"]["length"] = json!(20);
    let meta_mock = server
        .mock_async(move |when, then| {
            when.method(GET).path("/api/v3/users/meta");
            then.status(200).json_body(m);
        })
        .await;
    let stray = unexpected(&server).await;
    let target = OomnitzaTarget::new(
        mock_client(&server),
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    target.validate(&users_spec()).await.unwrap();
    let mut rules = target.field_rules(&users_spec()).await.unwrap();
    rules.sort_by(|a, b| a.field.cmp(&b.field));
    assert_eq!(
        rules,
        [
            FieldRule::new("first_name").max_length(64),
            FieldRule::new("quip_user_id").unique(false),
            FieldRule::new("username")
                .required()
                .unique(true)
                .max_length(256),
        ]
    );
    assert!(
        target
            .field_rules(&crate::common::saas_spec())
            .await
            .unwrap()
            .is_empty(),
        "seats: no rules"
    );
    meta_mock.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn validate_rejects_a_non_unique_key_and_unknown_mapped_fields() {
    let server = MockServer::start_async().await;
    let meta_mock = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v3/users/meta");
            then.status(200).json_body(meta(false));
        })
        .await;
    let stray = unexpected(&server).await;
    let target = OomnitzaTarget::new(
        mock_client(&server),
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    let mut spec = users_spec();
    spec.fields.push("cost_center".into());
    let err = target.validate(&spec).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(
        err.message.contains("the Oomnitza Users field \"quip_user_id\" ('Quip User Id') is not unique: edit it and check Unique"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("Oomnitza has no Users field \"cost_center\": create a Users field labelled 'Cost Center'"),
        "{}",
        err.message
    );
    meta_mock.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn rest_apply_sends_one_exact_request_per_change() {
    let server = MockServer::start_async().await;
    let meta_mock = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v3/users/meta");
            then.status(200).json_body(meta(true));
        })
        .await;
    let create = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/users")
                .header("Oomnitza-Ignore-Meta-Restriction", "1")
                .json_body(json!({"quip_user_id": "Q1", "username": "a@x", "email": "a@x"}));
            then.status(200)
                .json_body(json!({"user_id": "u1", "quip_user_id": "Q1", "username": "a@x"}));
        })
        .await;
    let update = server
        .mock_async(|when, then| {
            when.method(PATCH)
                .path("/api/v3/users/u2")
                .header_missing("Oomnitza-Ignore-Meta-Restriction")
                .json_body(json!({"email": "new@x"}));
            then.status(200).json_body(json!({"user_id": "u2"}));
        })
        .await;
    let deactivate = server
        .mock_async(|when, then| {
            when.method(PATCH)
                .path("/api/v3/users/u3")
                .json_body(json!({"suspended": true}));
            then.status(200).json_body(json!({"user_id": "u3"}));
        })
        .await;
    let deactivate_gone = server
        .mock_async(|when, then| {
            when.method(PATCH)
                .path("/api/v3/users/u4")
                .json_body(json!({"suspended": true}));
            then.status(404).json_body(json!({"errors": ["not found"]}));
        })
        .await;
    let reactivate = server
        .mock_async(|when, then| {
            when.method(PATCH)
                .path("/api/v3/users/u5")
                .json_body(json!({"suspended": false, "first_name": "Eve"}));
            then.status(200).json_body(json!({"user_id": "u5"}));
        })
        .await;
    let update_gone = server
        .mock_async(|when, then| {
            when.method(PATCH)
                .path("/api/v3/users/u6")
                .json_body(json!({"last_name": "Gone"}));
            then.status(404).json_body(json!({"errors": ["not found"]}));
        })
        .await;
    let stray = unexpected(&server).await;

    let target = OomnitzaTarget::new(
        mock_client(&server),
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    let spec = users_spec();
    let batch = vec![
        Change {
            key: "Q1".into(),
            op: Operation::Create {
                fields: Fields::new()
                    .with("quip_user_id", "Q1")
                    .with("username", "a@x")
                    .with("email", "a@x"),
            },
        },
        Change {
            key: "Q2".into(),
            op: Operation::Update {
                id: "u2".into(),
                set: Fields::new().with("email", "new@x"),
                adopt: false,
            },
        },
        Change {
            key: "Q3".into(),
            op: Operation::Deactivate { id: "u3".into() },
        },
        Change {
            key: "Q4".into(),
            op: Operation::Deactivate { id: "u4".into() },
        },
        Change {
            key: "Q5".into(),
            op: Operation::Reactivate {
                id: "u5".into(),
                set: Fields::new().with("first_name", "Eve"),
            },
        },
        Change {
            key: "Q6".into(),
            op: Operation::Update {
                id: "u6".into(),
                set: Fields::new().with("last_name", "Gone"),
                adopt: false,
            },
        },
    ];
    let outcomes = target.apply(&spec, batch).await;
    assert_eq!(outcomes.len(), 6);
    assert_eq!(
        by_key(&outcomes, "Q1"),
        OutcomeResult::Done { id: "u1".into() }
    );
    assert_eq!(
        by_key(&outcomes, "Q2"),
        OutcomeResult::Done { id: "u2".into() }
    );
    assert_eq!(
        by_key(&outcomes, "Q3"),
        OutcomeResult::Done { id: "u3".into() }
    );
    assert_eq!(
        by_key(&outcomes, "Q4"),
        OutcomeResult::Done { id: "u4".into() },
        "404 on deactivate is done"
    );
    assert_eq!(
        by_key(&outcomes, "Q5"),
        OutcomeResult::Done { id: "u5".into() }
    );
    match by_key(&outcomes, "Q6") {
        OutcomeResult::Failed { message } => {
            assert!(message.contains("no longer exists"), "{message}");
        }
        other @ OutcomeResult::Done { .. } => panic!("expected a failure, got {other:?}"),
    }
    for m in [
        &meta_mock,
        &create,
        &update,
        &deactivate,
        &deactivate_gone,
        &reactivate,
        &update_gone,
    ] {
        m.assert_calls_async(1).await;
    }
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_conflicting_create_adopts_the_person_with_the_same_key_or_reports_the_conflict() {
    let server = MockServer::start_async().await;
    let meta_mock = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v3/users/meta");
            then.status(200).json_body(meta(true));
        })
        .await;
    let conflict_same_key = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/users")
                .body_includes("\"Q1\"");
            then.status(409)
                .json_body(json!({"errors": {"quip_user_id": ["'Q1' already exists"]}}));
        })
        .await;
    let conflict_other_field = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/users")
                .body_includes("\"Q2\"");
            then.status(409)
                .json_body(json!({"errors": {"username": ["'b@x' already exists"]}}));
        })
        .await;
    let lookup_q1 = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/users")
                .query_param("filter", "quip_user_id eq 'Q1'");
            then.status(200)
                .json_body(json!([{"user_id": "u1", "quip_user_id": "Q1"}]));
        })
        .await;
    let lookup_q2 = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/users")
                .query_param("filter", "quip_user_id eq 'Q2'");
            then.status(200).json_body(json!([]));
        })
        .await;
    let adopt = server
        .mock_async(|when, then| {
            when.method(PATCH)
                .path("/api/v3/users/u1")
                .header("Oomnitza-Ignore-Meta-Restriction", "1")
                .json_body(json!({"quip_user_id": "Q1", "username": "a@x"}));
            then.status(200).json_body(json!({"user_id": "u1"}));
        })
        .await;
    let stray = unexpected(&server).await;

    let target = OomnitzaTarget::new(
        mock_client(&server),
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    let create = |k: &str, user: &str| Change {
        key: k.into(),
        op: Operation::Create {
            fields: Fields::new().with("quip_user_id", k).with("username", user),
        },
    };
    let outcomes = target
        .apply(
            &users_spec(),
            vec![create("Q1", "a@x"), create("Q2", "b@x")],
        )
        .await;
    assert_eq!(
        by_key(&outcomes, "Q1"),
        OutcomeResult::Done { id: "u1".into() }
    );
    match by_key(&outcomes, "Q2") {
        OutcomeResult::Failed { message } => {
            assert!(
                message.contains("409 Conflict: username: 'b@x' already exists"),
                "{message}"
            );
        }
        other @ OutcomeResult::Done { .. } => panic!("expected a failure, got {other:?}"),
    }
    for m in [
        &meta_mock,
        &conflict_same_key,
        &conflict_other_field,
        &lookup_q1,
        &lookup_q2,
        &adopt,
    ] {
        m.assert_calls_async(1).await;
    }
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn bulk_apply_uploads_portions_with_sync_field_and_finish_finalizes_once() {
    let server = MockServer::start_async().await;
    let meta_mock = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v3/users/meta");
            then.status(200).json_body(meta(true));
        })
        .await;
    let inserts = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v3/bulk").json_body_includes(
                json!({"sync_field": [QUIP_ID], "insert_only": true, "update_only": false,
                           "data_type": "users", "connector_name": "quip_users",
                           "records": [{QUIP_ID: "Q1", "USER": "a@x", "EMAIL": "a@x"}]})
                .to_string(),
            );
            then.status(200).json_body(json!({"added": 1}));
        })
        .await;
    let updates = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v3/bulk").json_body_includes(
                json!({"sync_field": [QUIP_ID], "insert_only": false, "update_only": true,
                "records": [
                    {QUIP_ID: "Q2", "EMAIL": "new@x"},
                    {QUIP_ID: "Q3", SUSPENDED_ID: true}
                ]})
                .to_string(),
            );
            then.status(200).json_body(json!({"updated": 2}));
        })
        .await;
    let finalize = server
        .mock_async(|when, then| {
            when.method(POST)
                .path_matches("^/api/v3/bulk/[0-9a-f-]{36}/finalize$")
                .json_body(json!({}));
            then.status(200).json_body(json!({}));
        })
        .await;
    let logs = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/connector_run_logs/quip_users");
            then.status(200).json_body(json!([]));
        })
        .await;
    let stray = unexpected(&server).await;

    let target = OomnitzaTarget::new(
        mock_client(&server),
        TargetConfig::new("Quip", "quip_user_id", "quip_users")
            .with_write_strategy(WriteStrategy::Bulk),
    );
    let outcomes = target
        .apply(
            &users_spec(),
            vec![
                Change {
                    key: "Q1".into(),
                    op: Operation::Create {
                        fields: Fields::new()
                            .with("quip_user_id", "Q1")
                            .with("username", "a@x")
                            .with("email", "a@x"),
                    },
                },
                Change {
                    key: "Q2".into(),
                    op: Operation::Update {
                        id: "u2".into(),
                        set: Fields::new().with("email", "new@x"),
                        adopt: false,
                    },
                },
                Change {
                    key: "Q3".into(),
                    op: Operation::Deactivate { id: "u3".into() },
                },
            ],
        )
        .await;
    assert_eq!(outcomes.len(), 3);
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o.result, OutcomeResult::Done { .. }))
    );
    assert_eq!(
        by_key(&outcomes, "Q2"),
        OutcomeResult::Done { id: "u2".into() }
    );
    target.finish().await.unwrap();
    // A second finish has nothing to finalize.
    target.finish().await.unwrap();

    let summary = target.last_bulk_run().unwrap();
    assert_eq!(
        (
            summary.uploads,
            summary.uploaded_creates,
            summary.uploaded_updates
        ),
        (2, 1, 2)
    );
    assert_eq!(
        summary.differences,
        vec!["no run log found for the portion".to_owned()]
    );
    for m in [&meta_mock, &inserts, &updates, &finalize, &logs] {
        m.assert_calls_async(1).await;
    }
    stray.assert_calls_async(0).await;
}
