//! LeasedState as sync-runtime's StateStore: the same guarantees as StateDir.

use jiff::SignedDuration;
use sync_engine::{Change, Collection, Operation, WriteAhead as _};
use sync_runtime::ledger::Journal;
use sync_runtime::{Ledger, StateError, StateStore};
use sync_store::{ClaimFilter, StoreOptions};

use crate::support::{Kind, TestDb, report};

both!(
    ledger_and_sessions_survive_a_reopen,
    intents_are_stored_before_the_batch,
    a_lease_taken_over_is_locked_and_fenced
);

fn deactivate(key: &str, id: &str) -> Change {
    Change {
        key: key.into(),
        op: Operation::Deactivate { id: id.into() },
    }
}

async fn ledger_and_sessions_survive_a_reopen(kind: Kind) {
    let db = TestDb::new(kind).await;
    let (owner, integration) = db.launched("it-ops", "Directory users").await;
    db.store.run_now(&owner.id, &integration.id).await.unwrap();
    let lease = db
        .store
        .claim("w1", &ClaimFilter::cloud())
        .await
        .unwrap()
        .unwrap();
    let state = db.store.run_state(lease.clone());
    assert!(state.describe().contains(&lease.run_id));
    let guard = state.lock("Directory users").await.unwrap();
    assert!(state.ledger("Directory users").await.unwrap() == Ledger::default());
    let mut ledger = Ledger::default();
    ledger.intend(
        Collection::Users,
        &[deactivate("U1", "1"), deactivate("U2", "2")],
    );
    state.save_ledger("Directory users", &ledger).await.unwrap();
    let mut session = report("Directory users", None);
    session.counts.deactivated = 2;
    state.save_session(&session).await.unwrap();
    drop(guard);
    db.store.close().await;

    // A new process on the same database reads back what was saved.
    let store = db.reopen(StoreOptions::default()).await;
    let state = store.run_state(lease);
    let back = state.ledger("Directory users").await.unwrap();
    assert_eq!(back, ledger);
    assert!(back.has_pending());
    let sessions = state.sessions().await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0], session);
    let prefix = &session.id.to_string()[..13];
    assert_eq!(state.session(prefix).await.unwrap().id, session.id);
    assert!(matches!(
        state.session("nope").await,
        Err(StateError::NoSuchSession(_))
    ));
    assert!(
        state.ledger("Another integration").await.is_err(),
        "lease is per integration"
    );
}

async fn intents_are_stored_before_the_batch(kind: Kind) {
    let db = TestDb::new(kind).await;
    let (owner, integration) = db.launched("it-ops", "Directory users").await;
    db.store.run_now(&owner.id, &integration.id).await.unwrap();
    let lease = db
        .store
        .claim("w1", &ClaimFilter::cloud())
        .await
        .unwrap()
        .unwrap();
    let state = db.store.run_state(lease);
    let _guard = state.lock("Directory users").await.unwrap();
    let journal = Journal::new(&state, "Directory users", Ledger::default());
    journal
        .intend(Collection::Users, &[deactivate("U1", "1")])
        .await
        .unwrap();
    // Durable before anything is sent: a kill now leaves the intent for the next run.
    let other = db.reopen(StoreOptions::default()).await;
    let seen = other
        .run_state(state.lease().await)
        .ledger("Directory users")
        .await
        .unwrap();
    assert!(
        seen.pending[&Collection::Users].contains_key("1"),
        "{seen:?}"
    );
}

async fn a_lease_taken_over_is_locked_and_fenced(kind: Kind) {
    let db = TestDb::new(kind).await;
    let (owner, integration) = db.launched("it-ops", "Directory users").await;
    db.store.run_now(&owner.id, &integration.id).await.unwrap();
    let lease = db
        .store
        .claim("worker-a", &ClaimFilter::cloud())
        .await
        .unwrap()
        .unwrap();
    let a = db.store.run_state(lease.clone());
    let guard = a.lock("Directory users").await.unwrap();
    // Exclusive even within one process.
    let twice = a.lock("Directory users").await;
    assert!(matches!(twice, Err(StateError::Locked { .. })), "{twice:?}");
    let mut first = Ledger::default();
    first.intend(Collection::Users, &[deactivate("U1", "1")]);
    a.save_ledger("Directory users", &first).await.unwrap();

    // Worker A stalls past its lease; worker B reclaims the run.
    db.clock.advance(SignedDuration::from_secs(61));
    let b_lease = db
        .store
        .claim("worker-b", &ClaimFilter::cloud())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b_lease.run_id, lease.run_id);
    assert_eq!(b_lease.attempt, 2);

    let mut late = first.clone();
    late.intend(Collection::Users, &[deactivate("U9", "9")]);
    let e = a.save_ledger("Directory users", &late).await.unwrap_err();
    match &e {
        StateError::Locked { holder, .. } => assert!(holder.contains("worker-b"), "{holder}"),
        other => panic!("expected Locked, got {other:?}"),
    }
    assert!(a.lease_lost());
    assert!(
        a.save_session(&report("Directory users", None))
            .await
            .is_err()
    );
    drop(guard);
    let e = a.lock("Directory users").await.unwrap_err();
    assert!(matches!(e, StateError::Locked { .. }), "{e:?}");

    let b = db.store.run_state(b_lease.clone());
    let _b_guard = b.lock("Directory users").await.unwrap();
    assert_eq!(
        b.ledger("Directory users").await.unwrap(),
        first,
        "A's late write was refused"
    );
    let finished = db
        .store
        .finish(&b_lease, &report("Directory users", None))
        .await
        .unwrap();
    assert_eq!(finished.state, sync_store::RunState::Succeeded);
    let e = db
        .store
        .finish(&lease, &report("Directory users", None))
        .await
        .unwrap_err();
    assert!(e.is_lease_lost(), "{e}");
}
