//! RUN NOW, claims, leases, reclaim, concurrency.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use jiff::SignedDuration;
use sync_store::{
    ClaimFilter, Installation, IntegrationUpdate, NotificationKind, Page, RunState, StoreOptions,
    Trigger,
};

use crate::support::{Kind, TestDb, report};

both!(
    run_now_returns_the_active_run,
    run_now_pressed_100_times_at_once_makes_one_run,
    concurrent_workers_never_run_one_integration_twice,
    expired_leases_are_reclaimed_retried_then_failed,
    finish_stores_counts_errors_and_interruptions,
    local_runs_go_to_their_owners_agent_only
);

async fn run_now_returns_the_active_run(kind: Kind) {
    let db = TestDb::new(kind).await;
    let owner = db.store.ensure_owner("it-ops").await.unwrap();
    let draft = db
        .store
        .create_integration(&owner.id, &sync_store::NewIntegration::new("Draft", "{}"))
        .await
        .unwrap();
    let e = db.store.run_now(&owner.id, &draft.id).await.unwrap_err();
    assert!(e.to_string().contains("is draft"), "{e}");
    let (owner, integration) = db.launched("it-ops", "Directory").await;
    let (run, created) = db.store.run_now(&owner.id, &integration.id).await.unwrap();
    assert!(created);
    assert_eq!(
        (run.state, run.trigger, run.attempt),
        (RunState::Queued, Trigger::Manual, 0)
    );
    let (same, created) = db.store.run_now(&owner.id, &integration.id).await.unwrap();
    assert!(!created);
    assert_eq!(same.id, run.id);
    let lease = db
        .store
        .claim("w", &ClaimFilter::cloud())
        .await
        .unwrap()
        .unwrap();
    let (running, created) = db.store.run_now(&owner.id, &integration.id).await.unwrap();
    assert!(!created);
    assert_eq!(
        (running.id.as_str(), running.state),
        (run.id.as_str(), RunState::Running)
    );
    db.store
        .finish(&lease, &report("Directory", None))
        .await
        .unwrap();
    let (next, created) = db.store.run_now(&owner.id, &integration.id).await.unwrap();
    assert!(created && next.id != run.id);
    let page = db
        .store
        .runs(&integration.id, &Page::default())
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [&next.id, &run.id]
    );
    let older = Page {
        before: Some(next.id.clone()),
        limit: Some(10),
    };
    assert_eq!(
        db.store.runs(&integration.id, &older).await.unwrap().len(),
        1
    );
    assert!(
        db.store
            .run_of_owner("someone-else", &run.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

async fn run_now_pressed_100_times_at_once_makes_one_run(kind: Kind) {
    let db = TestDb::new(kind).await;
    let (owner, integration) = db.launched("it-ops", "Directory").await;
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let store = db.store.clone();
        let (o, i) = (owner.id.clone(), integration.id.clone());
        tasks.push(tokio::spawn(
            async move { store.run_now(&o, &i).await.unwrap() },
        ));
    }
    let mut ids = HashSet::new();
    let mut created = 0;
    for t in tasks {
        let (run, new) = t.await.unwrap();
        ids.insert(run.id);
        created += usize::from(new);
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(created, 1);
    assert_eq!(
        db.store
            .runs(&integration.id, &Page::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn concurrent_workers_never_run_one_integration_twice(kind: Kind) {
    let db = TestDb::new(kind).await;
    let mut integrations = Vec::new();
    for n in 0..3 {
        integrations.push(db.launched("it-ops", &format!("Integration {n}")).await);
    }
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let claimed: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut workers = Vec::new();
    for w in 0..6 {
        let store = db.store.clone();
        let integrations = integrations.clone();
        let (running, claimed) = (Arc::clone(&running), Arc::clone(&claimed));
        workers.push(tokio::spawn(async move {
            for round in 0..8 {
                let (owner, integration) = &integrations[(w + round) % integrations.len()];
                store.run_now(&owner.id, &integration.id).await.unwrap();
                let Some(lease) = store
                    .claim(&format!("worker-{w}"), &ClaimFilter::cloud())
                    .await
                    .unwrap()
                else {
                    continue;
                };
                assert!(
                    running.lock().unwrap().insert(lease.integration_id.clone()),
                    "integration {} claimed twice at once",
                    lease.integration_name
                );
                claimed.lock().unwrap().push(lease.run_id.clone());
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
                running.lock().unwrap().remove(&lease.integration_id);
                store
                    .finish(&lease, &report(&lease.integration_name, None))
                    .await
                    .unwrap();
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let claimed = claimed.lock().unwrap().clone();
    let unique: HashSet<_> = claimed.iter().collect();
    assert_eq!(unique.len(), claimed.len(), "a run was claimed twice");
    assert!(claimed.len() >= 6, "only {} claims", claimed.len());
}

async fn expired_leases_are_reclaimed_retried_then_failed(kind: Kind) {
    let db = TestDb::new(kind).await;
    let (owner, integration) = db.launched("it-ops", "Directory").await;
    let (run, _) = db.store.run_now(&owner.id, &integration.id).await.unwrap();
    let mut a = db
        .store
        .claim("worker-a", &ClaimFilter::cloud())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.attempt, 1);
    // A heartbeat extends the lease; before expiry nothing is reclaimed.
    db.clock.advance(SignedDuration::from_secs(40));
    db.store.heartbeat(&mut a).await.unwrap();
    db.clock.advance(SignedDuration::from_secs(59));
    assert_eq!(
        db.store.reclaim_expired().await.unwrap(),
        sync_store::Reclaimed::default()
    );
    assert!(
        db.store
            .claim("worker-b", &ClaimFilter::cloud())
            .await
            .unwrap()
            .is_none()
    );
    // 61 s without a heartbeat: any process reclaims it (well under two minutes).
    db.clock.advance(SignedDuration::from_secs(2));
    let other = db.reopen(StoreOptions::default()).await;
    assert_eq!(
        other.reclaim_expired().await.unwrap().requeued,
        std::slice::from_ref(&run.id)
    );
    let e = db.store.heartbeat(&mut a).await.unwrap_err();
    assert!(e.is_lease_lost(), "{e}");
    assert!(e.to_string().contains("queued again"), "{e}");

    let b = other
        .claim("worker-b", &ClaimFilter::cloud())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((b.run_id.as_str(), b.attempt), (run.id.as_str(), 2));
    let e = db
        .store
        .finish(&a, &report("Directory", None))
        .await
        .unwrap_err();
    assert!(
        e.is_lease_lost() && e.to_string().contains("worker-b"),
        "{e}"
    );

    db.clock.advance(SignedDuration::from_secs(61));
    let c = db
        .store
        .claim("worker-c", &ClaimFilter::cloud())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.attempt, 3);
    db.clock.advance(SignedDuration::from_secs(61));
    let swept = db.store.sweep(None).await.unwrap();
    assert_eq!(swept.failed, std::slice::from_ref(&run.id));
    let failed = db.store.run(&run.id).await.unwrap();
    assert_eq!(failed.state, RunState::Failed);
    let report = failed.report.expect("a report for the failed run");
    assert!(
        report
            .fatal
            .unwrap()
            .contains("giving up after 3 attempt(s)")
    );
    assert_eq!(report.warnings.len(), 3, "{:?}", report.warnings);
    assert!(
        report
            .warnings
            .iter()
            .all(|w| w.contains("was interrupted"))
    );
    assert_eq!(db.store.run_events(&run.id).await.unwrap().len(), 3);
    let notes = db.store.notifications(&owner.id, false).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, NotificationKind::RunFailed);
    assert!(
        db.store
            .finish(&c, &crate::support::report("Directory", None))
            .await
            .unwrap_err()
            .is_lease_lost()
    );
    // Nothing more to do, and the failure is not notified again.
    assert_eq!(db.store.sweep(None).await.unwrap().notified, 0);
    assert_eq!(
        db.store
            .notifications(&owner.id, false)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn finish_stores_counts_errors_and_interruptions(kind: Kind) {
    let db = TestDb::new(kind).await;
    let (owner, integration) = db.launched("it-ops", "Directory").await;
    let (run, _) = db.store.run_now(&owner.id, &integration.id).await.unwrap();
    db.store
        .claim("dies", &ClaimFilter::cloud())
        .await
        .unwrap()
        .unwrap();
    db.clock.advance(SignedDuration::from_secs(61));
    let lease = db
        .store
        .claim("w", &ClaimFilter::cloud())
        .await
        .unwrap()
        .unwrap();
    let mut session = sync_engine::SessionReport::new("Directory", chrono::Utc::now());
    session.counts.created = 3;
    session.counts.failed = 1;
    session.errors.push(sync_engine::RecordError {
        key: "U7".into(),
        message: "422 from Oomnitza".to_owned(),
        collection: sync_engine::Collection::Users,
    });
    session.finish(false);
    let done = db.store.finish(&lease, &session).await.unwrap();
    assert_eq!(done.state, RunState::Partial);
    assert_eq!((done.counts.created, done.counts.failed), (3, 1));
    assert_eq!(done.session_id, Some(session.id.to_string()));
    let stored = done.report.unwrap();
    assert!(
        stored.warnings[0].contains("worker `dies`"),
        "{:?}",
        stored.warnings
    );
    assert_eq!(
        db.store.run_errors(&run.id).await.unwrap(),
        [(
            "users".to_owned(),
            "U7".to_owned(),
            "422 from Oomnitza".to_owned()
        )]
    );
    assert!(
        db.store
            .notifications(&owner.id, false)
            .await
            .unwrap()
            .is_empty(),
        "not a failure"
    );
}

async fn local_runs_go_to_their_owners_agent_only(kind: Kind) {
    let db = TestDb::new(kind).await;
    let (owner, integration) = db.launched("it-ops", "On premises").await;
    let local = IntegrationUpdate {
        installation: Some(Installation::Local),
        ..IntegrationUpdate::default()
    };
    db.store
        .update_integration(&owner.id, &integration.id, integration.version, &local)
        .await
        .unwrap();
    db.store.run_now(&owner.id, &integration.id).await.unwrap();
    assert!(
        db.store
            .claim("cloud", &ClaimFilter::cloud())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.store
            .claim("agent", &ClaimFilter::local("other"))
            .await
            .unwrap()
            .is_none()
    );
    let lease = db
        .store
        .claim("agent", &ClaimFilter::local(&owner.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.integration_id, integration.id);
    assert!(
        !format!("{lease:?}").contains(lease.token()),
        "Debug hides the token"
    );
}
