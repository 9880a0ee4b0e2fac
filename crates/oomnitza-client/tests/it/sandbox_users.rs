//! The `users` collection against the api-sandbox Oomnitza emulator (REST strategy).

use api_sandbox::oomnitza::OomnitzaConfig;
use oomnitza_client::{OomnitzaTarget, TargetConfig};
use serde_json::{Value as Json, json};
use sync_engine::{
    AppliedChange, Change, CollectionSpec, DesiredRecord, ErrorKind, Fields, NoProgress, Operation,
    OutcomeResult, Target,
};

use crate::common::{desired_person, quip_id, sandbox, sync, users_spec};

fn person<'a>(people: &'a [Json], key: &str) -> &'a Json {
    people
        .iter()
        .find(|p| p["quip_user_id"] == json!(key))
        .unwrap_or_else(|| panic!("no person with quip_user_id {key}"))
}

fn failures(changes: &[AppliedChange]) -> Vec<(String, String)> {
    changes
        .iter()
        .filter_map(|c| match &c.result {
            OutcomeResult::Failed { message } => Some((c.key.to_string(), message.clone())),
            OutcomeResult::Done { .. } => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_of_10000_people_then_a_no_op_resync_with_zero_writes() {
    const N: usize = 10_000;
    let (emu, client) = sandbox(OomnitzaConfig::default()).await;
    let target = OomnitzaTarget::new(
        client,
        TargetConfig::new("Quip", "quip_user_id", "quip_users").with_concurrency(16),
    );
    let spec = users_spec();
    let desired = || (0..N).map(desired_person).collect::<Vec<_>>();

    let first = sync(&target, &spec, desired(), &[]).await;
    assert_eq!(first.created, N as u64, "{:?}", failures(&first.changes));
    assert_eq!(first.failed, 0);
    let c = emu.counters();
    assert_eq!(
        c.count("POST", "/api/v3/users"),
        N as u64,
        "one create per new person"
    );
    assert_eq!(c.writes(), N as u64, "no other write");
    assert_eq!(c.count("GET", "/api/v3/users/meta"), 1);
    assert_eq!(
        c.count("GET", "/api/v3/users"),
        1,
        "an empty tenant is one page"
    );
    assert_eq!(emu.state().people_count(), N);
    let people = emu.state().people();
    let p = person(&people, &quip_id(1234));
    assert_eq!(p["email"], json!("user1234@acme.example"));
    assert_eq!(p["first_name"], json!("First1234"));
    assert_eq!(p["suspended"], json!(false));

    c.reset();
    let calls_before = target.stats().calls;
    let again = sync(&target, &spec, desired(), &[]).await;
    assert_eq!(again.changes.len(), 0, "nothing to change");
    assert_eq!(c.writes(), 0, "a no-op re-sync writes nothing");
    // Pages of 1000 until a short page: 10,000 people = 10 full pages + 1 empty page.
    assert_eq!(c.count("GET", "/api/v3/users"), (N / 1000 + 1) as u64);
    assert_eq!(c.count("GET", "/api/v3/users/meta"), 1);
    assert_eq!(c.total(), (N / 1000 + 2) as u64);
    assert_eq!(target.stats().calls - calls_before, c.total());
    emu.shutdown().await;
}

#[tokio::test]
async fn field_updates_write_only_the_changed_people() {
    let (emu, client) = sandbox(OomnitzaConfig::default()).await;
    let target = OomnitzaTarget::new(
        client,
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    let spec = users_spec();
    sync(&target, &spec, (0..50).map(desired_person).collect(), &[]).await;

    let mut desired: Vec<DesiredRecord> = (0..50).map(desired_person).collect();
    desired[3].fields.insert("email", "renamed3@acme.example");
    desired[7].fields.insert("last_name", "Married");
    desired[9].fields.insert("first_name", "Ninette");
    emu.counters().reset();
    let result = sync(&target, &spec, desired, &[]).await;
    assert_eq!((result.updated, result.failed), (3, 0));
    assert_eq!(emu.counters().count("PATCH", "/api/v3/users/{ident}"), 3);
    assert_eq!(emu.counters().writes(), 3);
    let people = emu.state().people();
    assert_eq!(
        person(&people, &quip_id(3))["email"],
        json!("renamed3@acme.example")
    );
    assert_eq!(person(&people, &quip_id(7))["last_name"], json!("Married"));
    assert_eq!(person(&people, &quip_id(9))["first_name"], json!("Ninette"));
    emu.shutdown().await;
}

#[tokio::test]
async fn owned_people_are_deactivated_and_reactivated_and_others_left_alone() {
    let (emu, client) = sandbox(OomnitzaConfig::default()).await;
    let state = emu.state();
    // Somebody entered by hand: not owned, never touched.
    state
        .add_person(json!({"username": "boss@acme.example", "email": "boss@acme.example"}))
        .unwrap();
    let target = OomnitzaTarget::new(
        client,
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    let spec = users_spec();
    sync(&target, &spec, (0..20).map(desired_person).collect(), &[]).await;

    // Person 5 leaves Quip, person 6 is disabled there, person 8 is suspended by hand.
    let id8 = person(&state.people(), &quip_id(8))["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    state.set_field(&id8, "suspended", json!(true)).unwrap();
    let desired = |drop5: bool, disable6: bool| {
        (0..20)
            .filter(|&i| !(drop5 && i == 5))
            .map(|i| {
                let mut d = desired_person(i);
                d.active = !(disable6 && i == 6);
                d
            })
            .collect::<Vec<_>>()
    };
    emu.counters().reset();
    let result = sync(&target, &spec, desired(true, true), &[]).await;
    assert_eq!((result.deactivated, result.failed), (2, 0));
    assert_eq!(emu.counters().writes(), 2);
    let people = state.people();
    assert_eq!(person(&people, &quip_id(5))["suspended"], json!(true));
    assert_eq!(person(&people, &quip_id(6))["suspended"], json!(true));
    assert_eq!(person(&people, &quip_id(7))["suspended"], json!(false));
    let boss = people
        .iter()
        .find(|p| p["username"] == json!("boss@acme.example"))
        .unwrap();
    assert_eq!(boss["suspended"], json!(false));

    // Both come back; the runtime's ledger says the sync deactivated 5 and 6 (not 8).
    emu.counters().reset();
    let result = sync(
        &target,
        &spec,
        desired(false, false),
        &[quip_id(5), quip_id(6)],
    )
    .await;
    assert_eq!((result.reactivated, result.failed), (2, 0));
    assert_eq!(emu.counters().writes(), 2);
    let people = state.people();
    assert_eq!(person(&people, &quip_id(5))["suspended"], json!(false));
    assert_eq!(person(&people, &quip_id(6))["suspended"], json!(false));
    assert_eq!(
        person(&people, &quip_id(8))["suspended"],
        json!(true),
        "suspended by hand stays suspended"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn a_missing_unique_field_is_a_clear_error_and_nothing_is_written() {
    let (emu, client) = sandbox(OomnitzaConfig::default().without_quip_user_id()).await;
    let target = OomnitzaTarget::new(
        client,
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    let err = target.validate(&users_spec()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert_eq!(
        err.message,
        "Oomnitza has no Users field \"quip_user_id\": create a Users field labelled 'Quip User Id' with Unique checked (Configuration > Customization > Users), then run validate again"
    );
    let err = target
        .validate(&crate::common::saas_spec())
        .await
        .unwrap_err();
    assert!(
        err.message
            .contains("create a Users field labelled 'Quip User Id'"),
        "{}",
        err.message
    );
    assert_eq!(emu.counters().writes(), 0);
    emu.shutdown().await;

    let (emu, client) = sandbox(OomnitzaConfig::default().with_non_unique_quip_user_id()).await;
    let target = OomnitzaTarget::new(
        client,
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    let err = target.validate(&users_spec()).await.unwrap_err();
    assert!(
        err.message.starts_with("the Oomnitza Users field \"quip_user_id\" ('Quip User Id') is not unique: edit it and check Unique"),
        "{}",
        err.message
    );
    assert_eq!(emu.counters().writes(), 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn per_record_failures_do_not_stop_the_run() {
    let (emu, client) = sandbox(OomnitzaConfig::default()).await;
    let state = emu.state();
    // An unowned person already uses the username person 4 would get.
    state
        .add_person(json!({"username": "user4@acme.example", "email": "someone@acme.example"}))
        .unwrap();
    let target = OomnitzaTarget::new(
        client,
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    let spec = users_spec();
    let mut desired: Vec<DesiredRecord> = (0..10).map(desired_person).collect();
    // A value Oomnitza refuses (Short Text holds at most 256 characters).
    desired[7].fields.insert("last_name", "x".repeat(300));
    let result = sync(&target, &spec, desired, &[]).await;
    assert_eq!((result.created, result.failed), (8, 2));
    let failed = failures(&result.changes);
    let msg4 = &failed.iter().find(|(k, _)| *k == quip_id(4)).unwrap().1;
    assert!(
        msg4.contains("409 Conflict") && msg4.contains("username"),
        "{msg4}"
    );
    let msg7 = &failed.iter().find(|(k, _)| *k == quip_id(7)).unwrap().1;
    assert!(
        msg7.contains("400 Bad Request") && msg7.contains("last_name"),
        "{msg7}"
    );
    assert_eq!(state.people_count(), 9);
    emu.shutdown().await;
}

#[tokio::test]
async fn fallback_keys_adopt_an_existing_person_instead_of_duplicating() {
    let (emu, client) = sandbox(OomnitzaConfig::default()).await;
    let state = emu.state();
    state
        .add_person(
            json!({"username": "user1@acme.example", "email": "user1@acme.example",
                           "first_name": "First1", "last_name": "Last1"}),
        )
        .unwrap();
    let target = OomnitzaTarget::new(
        client,
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    let spec = CollectionSpec {
        fallback_keys: vec!["email".into()],
        ..users_spec()
    };
    let result = sync(&target, &spec, (0..3).map(desired_person).collect(), &[]).await;
    assert_eq!((result.created, result.updated, result.failed), (2, 1, 0));
    assert_eq!(state.people_count(), 3, "adopted, not duplicated");
    let people = state.people();
    // quip_user_id is not editable: the adoption needed Oomnitza-Ignore-Meta-Restriction.
    assert_eq!(
        person(&people, &quip_id(1))["username"],
        json!("user1@acme.example")
    );

    emu.counters().reset();
    let again = sync(&target, &spec, (0..3).map(desired_person).collect(), &[]).await;
    assert_eq!(again.changes.len(), 0);
    assert_eq!(emu.counters().writes(), 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn deactivating_a_person_removed_meanwhile_counts_as_done() {
    let (emu, client) = sandbox(OomnitzaConfig::default()).await;
    let target = OomnitzaTarget::new(
        client,
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    let spec = users_spec();
    sync(&target, &spec, (0..3).map(desired_person).collect(), &[]).await;
    let snapshot = target.read(&spec, &NoProgress).await.unwrap();
    let gone = snapshot
        .records
        .iter()
        .find(|r| r.key.as_deref() == Some(&quip_id(2)))
        .unwrap();
    emu.state().remove_person(&gone.id).unwrap();
    let outcomes = target
        .apply(
            &spec,
            vec![Change {
                key: quip_id(2).into(),
                op: Operation::Deactivate {
                    id: gone.id.clone(),
                },
            }],
        )
        .await;
    assert_eq!(
        outcomes[0].result,
        OutcomeResult::Done {
            id: gone.id.clone()
        }
    );

    // An update of a vanished person fails for that record only.
    let outcomes = target
        .apply(
            &spec,
            vec![Change {
                key: quip_id(2).into(),
                op: Operation::Update {
                    id: gone.id.clone(),
                    set: Fields::new().with("first_name", "X"),
                    adopt: false,
                },
            }],
        )
        .await;
    assert!(
        matches!(&outcomes[0].result, OutcomeResult::Failed { message } if message.contains("no longer exists"))
    );
    emu.shutdown().await;
}
