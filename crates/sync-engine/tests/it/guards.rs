//! Deactivation guards (sync-safety.md S1, S2, S3): each a test.

use sync_engine::{
    Action, ApplyOptions, Completeness, DeactivatePolicy, GuardVerdict, MemoryTarget, NoProgress,
    PlanContext, SkipReason, TargetRecord, apply_plan, plan_collection,
};

use crate::support::{ctx, desired, owned, snapshot, spec, unowned};

/// `n` owned active records u0..u{n-1}.
fn owned_records(n: usize) -> Vec<TargetRecord> {
    (0..n)
        .map(|i| {
            owned(
                &format!("t{i}"),
                &format!("u{i}"),
                &format!("user{i}@example.com"),
                &format!("User {i}"),
                true,
            )
        })
        .collect()
}

/// Desired records for u0..u{keep-1} plus one new user.
fn desired_keeping(keep: usize) -> Vec<sync_engine::DesiredRecord> {
    let mut d: Vec<_> = (0..keep)
        .map(|i| {
            desired(
                &format!("u{i}"),
                &format!("user{i}@example.com"),
                &format!("User {i}"),
                true,
            )
        })
        .collect();
    d.push(desired("new", "new@example.com", "New User", true));
    d
}

fn with_policy(policy: DeactivatePolicy) -> PlanContext {
    PlanContext {
        deactivate: policy,
        ..ctx()
    }
}

fn has_deactivation(plan: &sync_engine::CollectionPlan) -> bool {
    plan.entries
        .iter()
        .any(|e| matches!(e.action, Action::Deactivate { .. }))
}

#[test]
fn empty_read_never_deactivates() {
    let plan = plan_collection(&spec(), vec![], &snapshot(owned_records(5)), &ctx());
    assert_eq!(plan.guard, GuardVerdict::EmptySource);
    assert!(!has_deactivation(&plan));
    assert_eq!(plan.counts.skipped, 5);
    assert!(plan.entries.iter().all(|e| matches!(
        e.action,
        Action::Skipped {
            reason: SkipReason::EmptySource,
            ..
        }
    )));
    assert!(
        plan.notes[0].contains("the source returned no records"),
        "{:?}",
        plan.notes
    );

    // Only when explicitly allowed.
    let allowed = with_policy(DeactivatePolicy {
        allow_empty_source: true,
        ..DeactivatePolicy::default()
    });
    let plan = plan_collection(&spec(), vec![], &snapshot(owned_records(5)), &allowed);
    assert_eq!(plan.guard, GuardVerdict::Clear);
    assert_eq!(plan.counts.deactivate, 5);
}

#[test]
fn partial_read_never_deactivates_but_creates_and_updates_proceed() {
    let mut d = desired_keeping(3);
    d[0] = desired("u0", "user0@example.com", "Renamed", true);
    d.push(desired("u3", "user3@example.com", "User 3", false)); // disabled in source
    let incomplete = PlanContext {
        source: Completeness::Incomplete {
            reason: "page 7 failed: 503".into(),
        }
        .into(),
        ..ctx()
    };
    let plan = plan_collection(&spec(), d, &snapshot(owned_records(5)), &incomplete);
    assert_eq!(
        plan.guard,
        GuardVerdict::SourceIncomplete {
            reason: "page 7 failed: 503".into()
        }
    );
    assert!(!has_deactivation(&plan));
    assert_eq!((plan.counts.create, plan.counts.update), (1, 1));
    // u3 (disabled) and u4 (missing) are skipped, naming the reason.
    assert_eq!(plan.counts.skipped, 2);
    assert!(plan.entries.iter().any(|e| matches!(
        &e.action,
        Action::Skipped { reason: SkipReason::SourceIncomplete, message, .. }
            if message.contains("page 7 failed: 503")
    )));
}

#[test]
fn threshold_by_count_holds_all_deactivations() {
    let policy = |max_count| {
        with_policy(DeactivatePolicy {
            max_count: Some(max_count),
            ..DeactivatePolicy::default()
        })
    };
    // 10 owned, 7 kept: 3 deactivations.
    let plan = plan_collection(
        &spec(),
        desired_keeping(7),
        &snapshot(owned_records(10)),
        &policy(2),
    );
    assert_eq!(plan.guard, GuardVerdict::Held { count: 3, limit: 2 });
    assert_eq!((plan.counts.held, plan.counts.deactivate), (3, 0));
    assert_eq!(
        plan.counts.create, 1,
        "creates proceed while deactivations are held"
    );
    assert_eq!(plan.held().count(), 3);
    assert!(
        plan.changes(false)
            .iter()
            .all(|c| !matches!(c.op, sync_engine::Operation::Deactivate { .. }))
    );
    assert!(
        plan.notes[0].contains("3 deactivation(s) exceed the limit of 2 (max_count 2)"),
        "{:?}",
        plan.notes
    );

    let plan = plan_collection(
        &spec(),
        desired_keeping(7),
        &snapshot(owned_records(10)),
        &policy(3),
    );
    assert_eq!(plan.guard, GuardVerdict::Clear);
    assert_eq!((plan.counts.held, plan.counts.deactivate), (0, 3));
}

#[test]
fn threshold_by_percent_of_owned_records() {
    let policy = |pct| {
        with_policy(DeactivatePolicy {
            max_percent: Some(pct),
            ..DeactivatePolicy::default()
        })
    };
    // 20 owned active (+ unowned ones, which do not count), 18 kept: 2 deactivations = 10%.
    let mut target = owned_records(20);
    for i in 0..30 {
        target.push(unowned(
            &format!("x{i}"),
            &format!("x{i}@example.com"),
            "Other",
            true,
        ));
    }
    let plan = plan_collection(
        &spec(),
        desired_keeping(18),
        &snapshot(target.clone()),
        &policy(5.0),
    );
    assert_eq!(plan.guard, GuardVerdict::Held { count: 2, limit: 1 });
    let plan = plan_collection(
        &spec(),
        desired_keeping(18),
        &snapshot(target),
        &policy(10.0),
    );
    assert_eq!(plan.guard, GuardVerdict::Clear);
    assert_eq!(plan.counts.deactivate, 2);
}

#[test]
fn the_smaller_limit_wins() {
    let ctx = with_policy(DeactivatePolicy {
        max_count: Some(50),
        max_percent: Some(10.0),
        ..DeactivatePolicy::default()
    });
    // 20 owned: 10% = 2 is smaller than 50.
    let plan = plan_collection(
        &spec(),
        desired_keeping(17),
        &snapshot(owned_records(20)),
        &ctx,
    );
    assert_eq!(plan.guard, GuardVerdict::Held { count: 3, limit: 2 });
}

#[test]
fn approval_releases_held_deactivations() {
    let ctx = PlanContext {
        approved: true,
        ..with_policy(DeactivatePolicy {
            max_count: Some(1),
            ..DeactivatePolicy::default()
        })
    };
    let plan = plan_collection(
        &spec(),
        desired_keeping(7),
        &snapshot(owned_records(10)),
        &ctx,
    );
    assert_eq!(plan.guard, GuardVerdict::Approved { count: 3, limit: 1 });
    assert_eq!((plan.counts.held, plan.counts.deactivate), (0, 3));
}

#[tokio::test]
async fn held_deactivations_apply_only_when_allowed() {
    let target = MemoryTarget::new();
    let ctx = with_policy(DeactivatePolicy {
        max_count: Some(1),
        ..DeactivatePolicy::default()
    });
    let owned_ids: Vec<_> = (0..4)
        .map(|i| {
            target.insert(
                sync_engine::Collection::Users,
                crate::support::fields(&format!("u{i}"), &format!("user{i}@example.com"), "U"),
                true,
            )
        })
        .collect();
    let actual = sync_engine::Target::read(&target, &spec(), &NoProgress)
        .await
        .unwrap();
    let plan = plan_collection(&spec(), desired_keeping(1), &actual, &ctx);
    assert_eq!(plan.counts.held, 3);

    let r = apply_plan(&plan, &target, &ApplyOptions::default(), &NoProgress).await;
    assert_eq!((r.created, r.deactivated), (1, 0));
    assert!(
        target
            .records(sync_engine::Collection::Users)
            .iter()
            .all(|r| r.active)
    );

    let allow = ApplyOptions {
        allow_held_deactivations: true,
        ..ApplyOptions::default()
    };
    let r = apply_plan(&plan, &target, &allow, &NoProgress).await;
    assert_eq!(r.deactivated, 3);
    let ids: Vec<_> = r.deactivated_records.iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids, owned_ids[1..].to_vec());
}

#[test]
fn only_owned_records_are_deactivated() {
    let target = vec![
        unowned("x1", "gone@example.com", "Not Ours", true),
        owned("t1", "u1", "ours@example.com", "Ours", true),
    ];
    let plan = plan_collection(
        &spec(),
        vec![desired("u9", "nine@example.com", "Nine", true)],
        &snapshot(target),
        &ctx(),
    );
    let deactivated: Vec<&str> = plan
        .entries
        .iter()
        .filter_map(|e| match &e.action {
            Action::Deactivate { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(deactivated, ["t1"]);
}

#[test]
fn disabled_policy_never_deactivates() {
    let ctx = with_policy(DeactivatePolicy {
        enabled: false,
        ..DeactivatePolicy::default()
    });
    let mut d = desired_keeping(2);
    d.push(desired("u2", "user2@example.com", "User 2", false));
    let plan = plan_collection(&spec(), d, &snapshot(owned_records(4)), &ctx);
    assert_eq!(plan.guard, GuardVerdict::Disabled);
    assert!(!has_deactivation(&plan));
    assert_eq!(plan.counts.skipped, 2);
}

#[test]
fn policy_from_toml() {
    #[derive(serde::Deserialize)]
    struct Integration {
        preference: sync_engine::Preference,
        deactivate: DeactivatePolicy,
    }
    let i: Integration = toml::from_str(
        r#"
        preference = "update_only"
        [deactivate]
        enabled = true
        max_count = 50
        max_percent = 10
        "#,
    )
    .unwrap();
    assert_eq!(i.preference, sync_engine::Preference::UpdateOnly);
    assert_eq!(i.deactivate.max_count, Some(50));
    assert_eq!(i.deactivate.max_percent, Some(10.0));
    assert!(!i.deactivate.allow_empty_source);
    assert!(toml::from_str::<DeactivatePolicy>("max_cuont = 1").is_err());
    let d: DeactivatePolicy = toml::from_str("").unwrap();
    assert_eq!(d, DeactivatePolicy::default());
}
