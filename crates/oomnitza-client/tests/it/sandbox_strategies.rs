//! Both write strategies against the sandbox: same final state, documented request counts.

use api_sandbox::oomnitza::{OomnitzaConfig, OomnitzaEmulator};
use oomnitza_client::{OomnitzaTarget, TargetConfig, WriteStrategy};
use serde_json::{Value as Json, json};
use sync_engine::DesiredRecord;

use crate::common::{desired_person, desired_seat, quip_id, saas_spec, sandbox, sync, users_spec};

/// The People state that matters, independent of generated ids and dates.
fn people_state(emu: &OomnitzaEmulator) -> Vec<Json> {
    let mut people: Vec<Json> = emu
        .state()
        .people()
        .into_iter()
        .map(|p| {
            json!({
                "quip_user_id": p["quip_user_id"], "username": p["username"], "email": p["email"],
                "first_name": p["first_name"], "last_name": p["last_name"], "suspended": p["suspended"],
            })
        })
        .collect();
    people.sort_by_key(|p| p["username"].as_str().unwrap_or_default().to_owned());
    people
}

fn seats_state(emu: &OomnitzaEmulator) -> Vec<Json> {
    let state = emu.state();
    let Some(app) = state.saas_app_id("Quip") else {
        return Vec::new();
    };
    let mut seats: Vec<Json> = state
        .saas_users(app)
        .into_iter()
        .map(|s| {
            json!({"key": s.user_external_id, "role": s.roles.map(|r| r.role_external_label),
                   "last_visit": s.last_visit, "status": format!("{:?}", s.status)})
        })
        .collect();
    seats.sort_by_key(|s| s["key"].as_str().unwrap_or_default().to_owned());
    seats
}

/// Runs the same scenario with `strategy`; returns the emulator for inspection and the
/// writes of each step.
async fn scenario(strategy: WriteStrategy) -> (OomnitzaEmulator, Vec<u64>) {
    const N: usize = 250;
    let (emu, client) = sandbox(OomnitzaConfig::default()).await;
    let target = OomnitzaTarget::new(
        client,
        TargetConfig::new("Quip", "quip_user_id", "quip_users").with_write_strategy(strategy),
    );
    let users = users_spec();
    let mut writes = Vec::new();
    let mut step = async |desired: Vec<DesiredRecord>, ledger: &[String]| {
        emu.counters().reset();
        let r = sync(&target, &users, desired, ledger).await;
        assert_eq!(r.failed, 0, "{:?}", r.changes);
        writes.push(emu.counters().writes());
    };

    // 1. First sync: N creates.
    step((0..N).map(desired_person).collect(), &[]).await;
    // 2. No-op.
    step((0..N).map(desired_person).collect(), &[]).await;
    // 3. 150 field updates, 10 people leave, 5 are disabled.
    let changed = |i: usize| {
        let mut d = desired_person(i);
        if i < 150 {
            d.fields.insert("last_name", format!("Changed{i}"));
        }
        if (200..205).contains(&i) {
            d.active = false;
        }
        d
    };
    step((0..N - 10).map(changed).collect(), &[]).await;
    // 4. The leavers come back (the ledger says the sync deactivated them).
    let ledger: Vec<String> = (N - 10..N).chain(200..205).map(quip_id).collect();
    step(
        (0..N)
            .map(|i| {
                let mut d = changed(i);
                d.active = true;
                d
            })
            .collect(),
        &ledger,
    )
    .await;

    // Seats on top (the same code path for both strategies).
    let seats: Vec<DesiredRecord> = (0..N)
        .step_by(10)
        .map(|i| desired_seat(i, "Member", 1_718_000_000, true))
        .collect();
    sync(&target, &saas_spec(), seats, &[]).await;
    if strategy == WriteStrategy::Bulk {
        let summary = target.last_bulk_run().expect("a bulk run was finalized");
        assert!(summary.run_log.is_some(), "{summary:?}");
        assert!(summary.differences.is_empty(), "{:?}", summary.differences);
    }
    (emu, writes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_write_strategies_produce_the_same_final_state() {
    let (rest, rest_writes) = scenario(WriteStrategy::Rest).await;
    let (bulk, bulk_writes) = scenario(WriteStrategy::Bulk).await;

    let rest_people = people_state(&rest);
    assert_eq!(rest_people.len(), 250);
    assert_eq!(rest_people, people_state(&bulk));
    assert_eq!(seats_state(&rest).len(), 25);
    assert_eq!(seats_state(&rest), seats_state(&bulk));
    let p = rest_people
        .iter()
        .find(|p| p["quip_user_id"] == json!(quip_id(7)))
        .unwrap();
    assert_eq!(p["last_name"], json!("Changed7"));
    assert!(rest_people.iter().all(|p| p["suspended"] == json!(false)));

    // REST: one write per changed record.
    assert_eq!(rest_writes, vec![250, 0, 150 + 10 + 5, 10 + 5]);
    // Bulk: ceil(changed / 100) uploads per kind of change + 1 finalize; nothing at all
    // for a no-op run. The engine applies batches of 100 and never mixes kinds in a batch,
    // so step 3 is ceil(150 updates / 100) + ceil(15 deactivations / 100) + 1.
    assert_eq!(bulk_writes, vec![3 + 1, 0, 2 + 1 + 1, 1 + 1]);

    // Bulk runs appear in Oomnitza's own sync sessions.
    let logs = bulk.state().run_logs();
    assert_eq!(logs.len(), 3);
    rest.shutdown().await;
    bulk.shutdown().await;
}
