//! The `saas_users` collection against the api-sandbox Oomnitza emulator.

use api_sandbox::oomnitza::{OomnitzaConfig, SaasSeat, SeatStatus};
use oomnitza_client::{OomnitzaTarget, TargetConfig};
use sync_engine::{Change, NoProgress, Operation, OutcomeResult, Target};

use crate::common::{desired_person, desired_seat, quip_id, saas_spec, sandbox, sync, users_spec};

const T0: i64 = 1_718_000_000;

fn role_of(i: usize) -> &'static str {
    if i.is_multiple_of(5) {
        "Admin"
    } else {
        "Member"
    }
}

fn seat<'a>(seats: &'a [SaasSeat], key: &str) -> &'a SaasSeat {
    seats
        .iter()
        .find(|s| s.user_external_id.as_deref() == Some(key))
        .unwrap_or_else(|| panic!("no seat for {key}"))
}

#[tokio::test]
async fn app_roles_seats_and_last_activity_then_a_no_op_resync() {
    const N: usize = 30;
    let (emu, client) = sandbox(OomnitzaConfig::default()).await;
    let state = emu.state();
    let target = OomnitzaTarget::new(
        client,
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    sync(
        &target,
        &users_spec(),
        (0..N).map(desired_person).collect(),
        &[],
    )
    .await;
    assert_eq!(state.saas_app_id("Quip"), None);

    // validate + read never create the application.
    emu.counters().reset();
    target.validate(&saas_spec()).await.unwrap();
    let snap = target.read(&saas_spec(), &NoProgress).await.unwrap();
    assert!(snap.records.is_empty());
    assert_eq!(emu.counters().writes(), 0);

    let desired = || {
        (0..N)
            .map(|i| desired_seat(i, role_of(i), T0 + i64::try_from(i).unwrap(), true))
            .collect::<Vec<_>>()
    };
    emu.counters().reset();
    let result = sync(&target, &saas_spec(), desired(), &[]).await;
    assert_eq!(
        (result.created, result.failed),
        (N as u64, 0),
        "{:?}",
        result.changes
    );
    let c = emu.counters();
    assert_eq!(
        c.count("POST", "/api/v3/saas"),
        1,
        "the app is created once"
    );
    assert_eq!(
        c.count("POST", "/api/v3/saas/{ident}/users"),
        1,
        "one assignment batch"
    );
    assert_eq!(
        c.count("POST", "/api/v3/saas/{ident}/users/{user_id}"),
        N as u64,
        "external id per seat"
    );
    assert_eq!(
        c.count("POST", "/api/v3/saas/{ident}/roles"),
        2,
        "Admin and Member, once each"
    );
    assert_eq!(
        c.count("POST", "/api/v3/saas/{ident}/roles/users"),
        2,
        "new seats: one batch per role"
    );
    assert_eq!(c.count("PATCH", "/api/v3/saas/{ident}/roles/users"), 0);
    assert_eq!(c.writes(), 1 + 1 + N as u64 + 2 + 2);

    let app = state.saas_app_id("Quip").expect("app created");
    let seats = state.saas_users(app);
    assert_eq!(seats.len(), N);
    let s = seat(&seats, &quip_id(10));
    assert_eq!(
        s.roles.as_ref().map(|r| r.role_external_label.as_str()),
        Some("Admin")
    );
    assert_eq!(s.last_visit, Some(T0 + 10));
    assert_eq!(s.status, SeatStatus::Active);
    assert_eq!(
        seat(&seats, &quip_id(11))
            .roles
            .as_ref()
            .map(|r| r.role_external_label.as_str()),
        Some("Member")
    );
    let mut labels: Vec<_> = state
        .roles(app)
        .into_iter()
        .map(|r| r.role_external_label)
        .collect();
    labels.sort();
    assert_eq!(labels, ["Admin", "Member"]);

    // Unchanged: zero writes, and the app is reused.
    emu.counters().reset();
    let again = sync(&target, &saas_spec(), desired(), &[]).await;
    assert_eq!(again.changes.len(), 0);
    assert_eq!(emu.counters().writes(), 0);

    // Role and last-activity changes.
    let mut changed = desired();
    changed[1].fields.insert("role", "Admin");
    changed[2].fields.insert("last_visit", T0 + 1000);
    changed[3].fields.insert("last_visit", T0 + 2000);
    changed[3].fields.insert("role", "Owner");
    emu.counters().reset();
    let result = sync(&target, &saas_spec(), changed, &[]).await;
    assert_eq!(
        (result.updated, result.failed),
        (3, 0),
        "{:?}",
        result.changes
    );
    let c = emu.counters();
    assert_eq!(c.count("POST", "/api/v3/saas"), 0, "the app is reused");
    assert_eq!(c.count("POST", "/api/v3/saas/{ident}/users"), 1);
    assert_eq!(
        c.count("POST", "/api/v3/saas/{ident}/roles"),
        1,
        "only the new role"
    );
    assert_eq!(
        c.count("PATCH", "/api/v3/saas/{ident}/roles/users"),
        2,
        "one per person whose role changed"
    );
    let seats = state.saas_users(app);
    assert_eq!(
        seat(&seats, &quip_id(1))
            .roles
            .as_ref()
            .unwrap()
            .role_external_label,
        "Admin"
    );
    assert_eq!(seat(&seats, &quip_id(2)).last_visit, Some(T0 + 1000));
    assert_eq!(seat(&seats, &quip_id(3)).last_visit, Some(T0 + 2000));
    assert_eq!(
        seat(&seats, &quip_id(3))
            .roles
            .as_ref()
            .unwrap()
            .role_external_label,
        "Owner"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn seats_are_deactivated_and_reactivated_in_batches() {
    let (emu, client) = sandbox(OomnitzaConfig::default()).await;
    let state = emu.state();
    let target = OomnitzaTarget::new(
        client,
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    sync(
        &target,
        &users_spec(),
        (0..10).map(desired_person).collect(),
        &[],
    )
    .await;
    let all = |inactive: &[usize]| {
        (0..10)
            .map(|i| desired_seat(i, "Member", T0, !inactive.contains(&i)))
            .collect::<Vec<_>>()
    };
    sync(&target, &saas_spec(), all(&[]), &[]).await;
    let app = state.saas_app_id("Quip").unwrap();

    emu.counters().reset();
    let result = sync(&target, &saas_spec(), all(&[2, 4, 6]), &[]).await;
    assert_eq!((result.deactivated, result.failed), (3, 0));
    assert_eq!(
        emu.counters()
            .count("PATCH", "/api/v3/saas_users/deactivate"),
        1
    );
    assert_eq!(emu.counters().writes(), 1);
    let seats = state.saas_users(app);
    for i in 0..10 {
        let expected = if [2, 4, 6].contains(&i) {
            SeatStatus::Inactive
        } else {
            SeatStatus::Active
        };
        assert_eq!(seat(&seats, &quip_id(i)).status, expected, "seat {i}");
    }

    emu.counters().reset();
    let back = [quip_id(2), quip_id(4)];
    let result = sync(&target, &saas_spec(), all(&[6]), &back).await;
    assert_eq!((result.reactivated, result.failed), (2, 0));
    assert_eq!(
        emu.counters().count("PATCH", "/api/v3/saas_users/activate"),
        1
    );
    assert_eq!(emu.counters().writes(), 1);
    let seats = state.saas_users(app);
    assert_eq!(seat(&seats, &quip_id(2)).status, SeatStatus::Active);
    assert_eq!(seat(&seats, &quip_id(4)).status, SeatStatus::Active);
    assert_eq!(seat(&seats, &quip_id(6)).status, SeatStatus::Inactive);
    emu.shutdown().await;
}

#[tokio::test]
async fn seat_failures_are_per_record_and_vanished_seats_count_as_deactivated() {
    let (emu, client) = sandbox(OomnitzaConfig::default()).await;
    let state = emu.state();
    let target = OomnitzaTarget::new(
        client,
        TargetConfig::new("Quip", "quip_user_id", "quip_users"),
    );
    sync(
        &target,
        &users_spec(),
        (0..4).map(desired_person).collect(),
        &[],
    )
    .await;
    sync(
        &target,
        &saas_spec(),
        (0..3)
            .map(|i| desired_seat(i, "Member", T0, true))
            .collect(),
        &[],
    )
    .await;
    let spec = saas_spec();
    let snap = target.read(&spec, &NoProgress).await.unwrap();
    let seat2 = snap
        .records
        .iter()
        .find(|r| r.key.as_deref() == Some(&quip_id(2)))
        .unwrap();
    // The person behind seat 2 is deleted by hand: the seat goes with them.
    let person2 = state
        .find_people("quip_user_id", &serde_json::json!(quip_id(2)))
        .unwrap();
    state
        .remove_person(person2[0]["user_id"].as_str().unwrap())
        .unwrap();

    let seat_for = |i: usize| {
        let d = desired_seat(i, "Member", T0, true);
        Change {
            key: d.key.clone(),
            op: Operation::Create { fields: d.fields },
        }
    };
    let outcomes = target
        .apply(
            &spec,
            vec![
                seat_for(3),
                // Nobody in Oomnitza carries this Quip id.
                seat_for(99),
                Change {
                    key: quip_id(2).into(),
                    op: Operation::Deactivate {
                        id: seat2.id.clone(),
                    },
                },
            ],
        )
        .await;
    target.finish().await.unwrap();
    assert_eq!(outcomes.len(), 3);
    let result = |k: &str| outcomes.iter().find(|o| o.key == k).unwrap().result.clone();
    assert!(matches!(result(&quip_id(3)), OutcomeResult::Done { .. }));
    match result(&quip_id(99)) {
        OutcomeResult::Failed { message } => {
            assert!(
                message.contains("no Oomnitza person has quip_user_id = QUIP000099"),
                "{message}"
            );
        }
        other @ OutcomeResult::Done { .. } => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(
        result(&quip_id(2)),
        OutcomeResult::Done {
            id: seat2.id.clone()
        }
    );
    let app = state.saas_app_id("Quip").unwrap();
    assert_eq!(state.saas_users(app).len(), 3);
    emu.shutdown().await;
}
