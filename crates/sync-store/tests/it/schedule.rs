//! The scheduler with a controlled clock.

use jiff::{SignedDuration, Timestamp};
use sync_store::{ClaimFilter, Every, NotificationKind, ScheduleSpec, Store, StoreOptions};

use crate::support::{Kind, TestDb, report};

both!(
    daily_by_default_once_per_slot,
    changing_interval_and_time_moves_the_next_run,
    europe_berlin_across_both_dst_changes,
    america_new_york_across_both_dst_changes,
    missed_slots_collapse_into_one_run,
    many_processes_ticking_create_each_slot_once,
    missed_and_overdue_runs_are_notified_once
);

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Ticks every 5 minutes from now to `until`, finishing each created run (as a worker
/// would), and returns the slots of the runs created.
async fn drive(db: &TestDb, until: Timestamp) -> Vec<Timestamp> {
    let mut slots = Vec::new();
    while db.clock.now_ts() < until {
        db.clock.advance(SignedDuration::from_mins(5));
        for id in db.store.tick().await.unwrap() {
            slots.push(db.store.run(&id).await.unwrap().scheduled_for.unwrap());
            let lease = db
                .store
                .claim("w", &ClaimFilter::cloud())
                .await
                .unwrap()
                .unwrap();
            db.store
                .finish(&lease, &report(&lease.integration_name, None))
                .await
                .unwrap();
        }
    }
    slots
}

trait Now {
    fn now_ts(&self) -> Timestamp;
}

impl Now for sync_store::TestClock {
    fn now_ts(&self) -> Timestamp {
        sync_store::Clock::now(self)
    }
}

async fn daily_by_default_once_per_slot(kind: Kind) {
    let db = TestDb::new(kind).await;
    let (_, integration) = db.launched("it-ops", "Directory").await;
    let schedule = db.store.schedule(&integration.id).await.unwrap();
    assert_eq!(schedule.spec, ScheduleSpec::default());
    assert_eq!(schedule.spec.every, Every::Days(1));
    // Launched at 2026-01-05 12:00 UTC: next run at midnight UTC.
    assert_eq!(schedule.next_run_at, Some(t("2026-01-06T00:00:00Z")));
    assert!(db.store.tick().await.unwrap().is_empty(), "not due yet");
    let slots = drive(&db, t("2026-01-08T12:00:00Z")).await;
    assert_eq!(
        slots,
        [
            t("2026-01-06T00:00:00Z"),
            t("2026-01-07T00:00:00Z"),
            t("2026-01-08T00:00:00Z")
        ]
    );
    let next = db
        .store
        .schedule(&integration.id)
        .await
        .unwrap()
        .next_run_at;
    assert_eq!(next, Some(t("2026-01-09T00:00:00Z")));
}

async fn changing_interval_and_time_moves_the_next_run(kind: Kind) {
    let db = TestDb::new(kind).await;
    let (owner, integration) = db.launched("it-ops", "Directory").await;
    let every_six = ScheduleSpec::new(Every::Hours(6), 1, 30, "America/New_York").unwrap();
    let s = db
        .store
        .set_schedule(&owner.id, &integration.id, &every_six)
        .await
        .unwrap();
    // 12:00 UTC is 07:00 EST; slots at 01:30, 07:30, 13:30, 19:30 New York time.
    assert_eq!(s.next_run_at, Some(t("2026-01-05T12:30:00Z")));
    let slots = drive(&db, t("2026-01-06T00:00:00Z")).await;
    assert_eq!(
        slots,
        [t("2026-01-05T12:30:00Z"), t("2026-01-05T18:30:00Z")]
    );
    let every_other_day = ScheduleSpec::new(Every::Days(2), 9, 0, "Europe/Berlin").unwrap();
    let s = db
        .store
        .set_schedule(&owner.id, &integration.id, &every_other_day)
        .await
        .unwrap();
    // Set on 2026-01-06 (Berlin): today 09:00 CET is 08:00 UTC, still ahead.
    assert_eq!(s.next_run_at, Some(t("2026-01-06T08:00:00Z")));
    let slots = drive(&db, t("2026-01-11T00:00:00Z")).await;
    assert_eq!(
        slots,
        [
            t("2026-01-06T08:00:00Z"),
            t("2026-01-08T08:00:00Z"),
            t("2026-01-10T08:00:00Z")
        ]
    );
    assert!(
        db.store
            .set_schedule(
                &owner.id,
                &integration.id,
                &ScheduleSpec {
                    time_zone: "Nowhere/Land".to_owned(),
                    ..ScheduleSpec::default()
                }
            )
            .await
            .is_err()
    );
}

async fn set_daily(db: &TestDb, start: &str, hour: u8, minute: u8, zone: &str) {
    db.clock.set(t(start));
    let (owner, integration) = db.launched("it-ops", "Directory").await;
    let spec = ScheduleSpec::new(Every::Days(1), hour, minute, zone).unwrap();
    db.store
        .set_schedule(&owner.id, &integration.id, &spec)
        .await
        .unwrap();
}

async fn europe_berlin_across_both_dst_changes(kind: Kind) {
    let db = TestDb::new(kind).await;
    set_daily(&db, "2026-03-27T12:00:00Z", 2, 30, "Europe/Berlin").await;
    let spring = drive(&db, t("2026-03-31T00:00:00Z")).await;
    assert_eq!(
        spring,
        [
            t("2026-03-28T01:30:00Z"), // 02:30 CET
            t("2026-03-29T01:30:00Z"), // 02:30 does not exist: 03:30 CEST
            t("2026-03-30T00:30:00Z"), // 02:30 CEST
        ]
    );
    db.clock.set(t("2026-10-23T12:00:00Z"));
    let owner = db.store.ensure_owner("it-ops").await.unwrap();
    let integration = db
        .store
        .integration_by_name(&owner.id, "Directory")
        .await
        .unwrap();
    let spec = ScheduleSpec::new(Every::Days(1), 2, 30, "Europe/Berlin").unwrap();
    db.store
        .set_schedule(&owner.id, &integration.id, &spec)
        .await
        .unwrap();
    let autumn = drive(&db, t("2026-10-27T00:00:00Z")).await;
    assert_eq!(
        autumn,
        [
            t("2026-10-24T00:30:00Z"), // 02:30 CEST
            t("2026-10-25T00:30:00Z"), // 02:30 happens twice: once, at the first
            t("2026-10-26T01:30:00Z"), // 02:30 CET
        ]
    );
}

async fn america_new_york_across_both_dst_changes(kind: Kind) {
    let db = TestDb::new(kind).await;
    set_daily(&db, "2026-03-06T12:00:00Z", 2, 30, "America/New_York").await;
    let spring = drive(&db, t("2026-03-10T00:00:00Z")).await;
    assert_eq!(
        spring,
        [
            t("2026-03-07T07:30:00Z"), // 02:30 EST
            t("2026-03-08T07:30:00Z"), // 02:30 does not exist: 03:30 EDT
            t("2026-03-09T06:30:00Z"), // 02:30 EDT
        ]
    );
    db.clock.set(t("2026-10-30T12:00:00Z"));
    let owner = db.store.ensure_owner("it-ops").await.unwrap();
    let integration = db
        .store
        .integration_by_name(&owner.id, "Directory")
        .await
        .unwrap();
    let spec = ScheduleSpec::new(Every::Days(1), 1, 30, "America/New_York").unwrap();
    db.store
        .set_schedule(&owner.id, &integration.id, &spec)
        .await
        .unwrap();
    let autumn = drive(&db, t("2026-11-03T00:00:00Z")).await;
    assert_eq!(
        autumn,
        [
            t("2026-10-31T05:30:00Z"), // 01:30 EDT
            t("2026-11-01T05:30:00Z"), // 01:30 happens twice: once, at the first (EDT)
            t("2026-11-02T06:30:00Z"), // 01:30 EST
        ]
    );
}

async fn missed_slots_collapse_into_one_run(kind: Kind) {
    let db = TestDb::new(kind).await;
    let (_, integration) = db.launched("it-ops", "Directory").await;
    // The service was down for five days.
    db.clock.set(t("2026-01-10T15:00:00Z"));
    let created = db.store.tick().await.unwrap();
    assert_eq!(created.len(), 1);
    let run = db.store.run(&created[0]).await.unwrap();
    assert_eq!(
        run.scheduled_for,
        Some(t("2026-01-10T00:00:00Z")),
        "the latest slot"
    );
    assert!(db.store.tick().await.unwrap().is_empty());
    let next = db
        .store
        .schedule(&integration.id)
        .await
        .unwrap()
        .next_run_at;
    assert_eq!(next, Some(t("2026-01-11T00:00:00Z")));
    // A slot that comes due while that run is still queued is skipped, not stacked.
    db.clock.set(t("2026-01-11T00:01:00Z"));
    assert!(db.store.tick().await.unwrap().is_empty());
    assert_eq!(
        db.store
            .runs(&integration.id, &sync_store::Page::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn many_processes_ticking_create_each_slot_once(kind: Kind) {
    let db = TestDb::new(kind).await;
    let mut integrations = Vec::new();
    for n in 0..3 {
        integrations.push(db.launched("it-ops", &format!("Integration {n}")).await.1);
    }
    let mut stores: Vec<Store> = Vec::new();
    for _ in 0..4 {
        stores.push(db.reopen(StoreOptions::default()).await);
    }
    db.clock.set(t("2026-01-06T00:00:01Z"));
    let mut tasks = Vec::new();
    for store in stores {
        for _ in 0..3 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move { store.tick().await.unwrap() }));
        }
    }
    let mut created = Vec::new();
    for task in tasks {
        created.extend(task.await.unwrap());
    }
    assert_eq!(created.len(), 3, "{created:?}");
    for integration in &integrations {
        let runs = db
            .store
            .runs(&integration.id, &sync_store::Page::default())
            .await
            .unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].scheduled_for, Some(t("2026-01-06T00:00:00Z")));
    }
}

async fn missed_and_overdue_runs_are_notified_once(kind: Kind) {
    let options = StoreOptions {
        lease: std::time::Duration::from_secs(3 * 24 * 3600),
        ..StoreOptions::default()
    };
    let db = TestDb::with(kind, options.clone()).await;
    let (owner, integration) = db.launched("it-ops", "Directory").await;
    db.clock.set(t("2026-01-06T00:00:30Z"));
    let created = db.store.sweep(None).await.unwrap().scheduled;
    assert_eq!(created.len(), 1);
    // No worker picks it up (a local agent that is offline, say).
    db.clock.set(t("2026-01-06T00:29:00Z"));
    assert_eq!(
        db.store.check_deadlines().await.unwrap(),
        0,
        "within the grace period"
    );
    db.clock.set(t("2026-01-06T00:31:00Z"));
    let other = db.reopen(options).await;
    let (a, b) = tokio::join!(db.store.check_deadlines(), other.check_deadlines());
    assert_eq!(a.unwrap() + b.unwrap(), 1, "once across processes");
    assert_eq!(db.store.sweep(None).await.unwrap().notified, 0);
    let notes = db.store.notifications(&owner.id, false).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, NotificationKind::RunMissed);
    assert_eq!(notes[0].run_id.as_deref(), Some(created[0].as_str()));
    assert!(
        notes[0].subject.contains("did not start"),
        "{}",
        notes[0].subject
    );

    // It starts at last, and hangs.
    let lease = db
        .store
        .claim("w", &ClaimFilter::cloud())
        .await
        .unwrap()
        .unwrap();
    db.clock.advance(SignedDuration::from_hours(23));
    assert_eq!(db.store.check_deadlines().await.unwrap(), 0);
    db.clock
        .advance(SignedDuration::from_hours(1) + SignedDuration::from_secs(1));
    assert_eq!(db.store.check_deadlines().await.unwrap(), 1);
    assert_eq!(db.store.check_deadlines().await.unwrap(), 0);
    assert_eq!(other.check_deadlines().await.unwrap(), 0);
    let notes = db.store.notifications(&owner.id, false).await.unwrap();
    assert_eq!(
        notes.iter().map(|n| n.kind).collect::<Vec<_>>(),
        [NotificationKind::RunOverdue, NotificationKind::RunMissed]
    );
    // Two contacts, two notifications: four emails waiting.
    let outbox = db.store.outbox().await.unwrap();
    assert_eq!(outbox.len(), 4);
    assert!(outbox.iter().all(|e| e.sent_at.is_none()));
    db.store
        .finish(&lease, &report(&integration.name, None))
        .await
        .unwrap();
}
