//! The idle-seat policy (issue 18): a seat whose known last activity is older than
//! `idle_seats_after` is deactivated, never the person; excluded roles, unknown and absent
//! activity never reclaim; a reclaimed seat comes back with recent activity; a seat
//! deactivated by hand stays inactive.

use std::time::Duration;

use chrono::Utc;
use sync_engine::{
    Action, Collection, DeactivateReason, ExecuteOptions, MemoryLedger, MemorySource, MemoryTarget,
    PlanOptions, SessionStatus, SourceRecord, SyncDefinition, UnknownFields,
};

use crate::support::{definition, plan_and_execute, seat, seen, source_fields};

const DAY: i64 = 86_400;

/// Users and seats, reclaiming seats idle for more than 120 days, no thresholds.
fn policy_on() -> SyncDefinition {
    let mut def = definition(true, &[]);
    def.policy.deactivate.idle_seats_after = Some(Duration::from_secs(120 * 86_400));
    def
}

fn days_ago(days: i64) -> i64 {
    Utc::now().timestamp() - days * DAY
}

fn roster() -> Vec<SourceRecord> {
    let mut never = seen("u5", "Eve", "eve@example.com", "Member", 0);
    never.last_activity = None;
    vec![
        seen("u1", "Ada", "ada@example.com", "Member", days_ago(5)),
        seen("u2", "Bob", "bob@example.com", "Member", days_ago(130)),
        seen("u3", "Cy", "cy@example.com", "Admin", days_ago(400)),
        seen("u4", "Dee", "dee@example.com", "Member", days_ago(200)),
        never,
    ]
}

struct Sync {
    def: SyncDefinition,
    source: MemorySource,
    target: MemoryTarget,
    ledger: MemoryLedger,
}

impl Sync {
    async fn run(&self) -> sync_engine::SyncOutcome {
        let out = plan_and_execute(
            &self.def,
            &self.source,
            &self.target,
            &self.ledger,
            &PlanOptions::default(),
            &ExecuteOptions::default(),
        )
        .await;
        for applied in &out.applied {
            self.ledger.record(applied);
        }
        out
    }
}

/// A first sync with the policy on: it reclaims existing seats only, so every user gets a
/// seat first (seat usage shows the idle ones).
async fn synced() -> Sync {
    let sync = Sync {
        def: policy_on(),
        source: MemorySource::new(source_fields(), roster()).with_system("roster"),
        target: MemoryTarget::new().with_system("people"),
        ledger: MemoryLedger::new(),
    };
    let first = sync.run().await;
    assert_eq!(first.report.status, SessionStatus::Succeeded, "{first:?}");
    assert_eq!(first.report.saas_counts.expect("seats").created, 5);
    assert!(first.report.reclaimed_seats.is_empty());
    sync
}

#[tokio::test]
async fn idle_seats_are_reclaimed_and_people_stay() {
    let sync = synced().await;
    let out = sync.run().await;
    assert_eq!(
        out.report.status,
        SessionStatus::Succeeded,
        "{:?}",
        out.report
    );
    let saas = out.report.saas_counts.expect("seats");
    assert_eq!(saas.deactivated, 2, "Bob (130 days) and Dee (200 days)");
    assert_eq!(out.report.counts.deactivated, 0, "people stay active");
    let reasons: Vec<(&str, &str)> = out
        .report
        .reclaimed_seats
        .iter()
        .map(|r| (r.key.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(reasons, [("u2", "idle 130 days"), ("u4", "idle 200 days")]);
    assert!(!seat(&sync.target, "u2").active);
    assert!(!seat(&sync.target, "u4").active);
    // Recent (Ada), an admin (Cy, 400 days) and no activity at all (Eve) keep their seats.
    for key in ["u1", "u3", "u5"] {
        assert!(seat(&sync.target, key).active, "{key}");
    }
    assert!(
        sync.target
            .records(Collection::Users)
            .iter()
            .all(|p| p.active),
        "nobody's person is deactivated"
    );

    // Nothing changed: nothing more to do.
    let again = sync.run().await;
    assert_eq!(again.report.saas_counts.expect("seats").deactivated, 0);
    assert!(again.report.reclaimed_seats.is_empty());

    // Bob is back: his seat returns (the ledger says this sync deactivated it). A seat
    // deactivated by hand (Ada's) stays inactive.
    let mut roster = roster();
    roster[1].last_activity = chrono::DateTime::from_timestamp(days_ago(1), 0);
    sync.source.set_records(roster);
    let ada = seat(&sync.target, "u1");
    assert!(
        sync.target
            .set_active_by_hand(Collection::SaasUsers, &ada.id, false)
    );
    let back = sync.run().await;
    let saas = back.report.saas_counts.expect("seats");
    assert_eq!(saas.reactivated, 1, "{:?}", back.report);
    assert!(seat(&sync.target, "u2").active);
    assert!(
        !seat(&sync.target, "u1").active,
        "deactivated by hand stays"
    );
}

#[tokio::test]
async fn unknown_activity_or_roles_never_reclaim() {
    let sync = synced().await;
    for field in ["last_activity", "role"] {
        sync.source.set_unknown(vec![UnknownFields::all(
            [field],
            format!("{field} unreadable"),
        )]);
        let out = sync.run().await;
        assert_eq!(
            out.report.saas_counts.expect("seats").deactivated,
            0,
            "{field} unknown: {:?}",
            out.report
        );
    }
}

#[tokio::test]
async fn reclaims_pass_the_thresholds_and_carry_their_reason_when_held() {
    let mut sync = synced().await;
    sync.def.policy.deactivate.max_count = Some(1);
    let progress = sync_engine::NoProgress;
    let planned = sync_engine::pipeline::plan(
        &sync.def,
        &sync.source,
        &sync.target,
        &sync.ledger,
        &PlanOptions::default(),
        &progress,
    )
    .await
    .expect("plan");
    let seats = planned
        .plan
        .collections
        .iter()
        .find(|p| p.spec.collection == Collection::SaasUsers)
        .expect("seats planned");
    let idle: Vec<Option<u64>> = seats
        .entries
        .iter()
        .filter_map(|e| match &e.action {
            Action::Deactivate {
                reason: DeactivateReason::Idle,
                idle_days,
                held: true,
                ..
            } => Some(*idle_days),
            _ => None,
        })
        .collect();
    assert_eq!(idle, [Some(130), Some(200)]);
    let out = sync_engine::pipeline::execute(
        &planned,
        &sync.target,
        &ExecuteOptions::default(),
        &progress,
    )
    .await;
    assert_eq!(out.report.status, SessionStatus::Held);
    let held: Vec<Option<&str>> = out
        .report
        .held_deactivations
        .iter()
        .map(|h| h.reason.as_deref())
        .collect();
    assert_eq!(held, [Some("idle 130 days"), Some("idle 200 days")]);
    assert!(out.report.render_human().contains(": idle 200 days"));
    assert!(seat(&sync.target, "u2").active, "held: not applied");
}
