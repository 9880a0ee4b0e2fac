//! Engine invariants as property tests.

use proptest::prelude::*;
use sync_engine::{
    Action, ApplyOptions, Collection, Completeness, DeactivatePolicy, DesiredRecord, Fields,
    MemoryTarget, NoProgress, PlanContext, Preference, StoredRecord, Target, TargetRecord,
    TargetSnapshot, Value, apply_plan, plan_collection,
};

use crate::support::{ctx, spec};

fn email() -> impl Strategy<Value = String> {
    // Few distinct addresses, in varying case, so fallback matches and collisions happen.
    (0..6_u8, any::<bool>()).prop_map(|(n, upper)| {
        let e = format!("user{n}@example.com");
        if upper { e.to_uppercase() } else { e }
    })
}

fn name() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::from("Ada")),
        Just(Value::from(" Ada ")),
        Just(Value::from("Bob")),
        Just(Value::Null),
        Just(Value::from("")),
        Just(Value::Int(7)),
        Just(Value::Float(7.0)),
    ]
}

fn desired_records() -> impl Strategy<Value = Vec<DesiredRecord>> {
    prop::collection::vec((0..8_u8, email(), name(), any::<bool>()), 0..12).prop_map(|v| {
        v.into_iter()
            .map(|(k, email, name, active)| {
                let key = format!("u{k}");
                let fields = Fields::new()
                    .with("roster_user_id", key.as_str())
                    .with("email", email)
                    .with("full_name", name);
                DesiredRecord::new(key, fields, active)
            })
            .collect()
    })
}

/// A target record: with a key (owned) or without (unowned), any state.
fn stored_records() -> impl Strategy<Value = Vec<StoredRecord>> {
    prop::collection::vec(
        (
            prop::option::of(0..8_u8),
            email(),
            name(),
            any::<bool>(),
            any::<bool>(),
        ),
        0..12,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (key, email, name, active, by_sync))| {
                let mut fields = Fields::new().with("email", email).with("full_name", name);
                if let Some(k) = key {
                    fields.insert("roster_user_id", format!("u{k}"));
                }
                StoredRecord {
                    id: format!("s{i}").into(),
                    fields,
                    active,
                    created_by_sync: key.is_some(),
                    deactivated_by_sync: !active && by_sync && key.is_some(),
                }
            })
            .collect()
    })
}

fn preference() -> impl Strategy<Value = Preference> {
    prop_oneof![
        Just(Preference::CreateAndUpdate),
        Just(Preference::CreateOnly),
        Just(Preference::UpdateOnly),
    ]
}

fn policy() -> impl Strategy<Value = DeactivatePolicy> {
    (
        any::<bool>(),
        prop::option::of(0..4_u64),
        prop::option::of(0.0..60.0_f64),
        any::<bool>(),
    )
        .prop_map(
            |(enabled, max_count, max_percent, allow_empty_source)| DeactivatePolicy {
                enabled,
                max_count,
                max_percent,
                allow_empty_source,
                ..DeactivatePolicy::default()
            },
        )
}

fn no_changes(plan: &sync_engine::CollectionPlan) -> Result<(), TestCaseError> {
    let changes: Vec<_> = plan
        .entries
        .iter()
        .filter(|e| {
            matches!(
                e.action,
                Action::Create { .. }
                    | Action::Update { .. }
                    | Action::Deactivate { .. }
                    | Action::Reactivate { .. }
            )
        })
        .collect();
    prop_assert!(changes.is_empty(), "unexpected changes: {changes:#?}");
    prop_assert_eq!(plan.counts.changes() + plan.counts.held, 0);
    Ok(())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A target that already holds exactly the desired state needs no change.
    #[test]
    fn planning_a_state_against_itself_is_a_no_op(
        desired in desired_records(),
        preference in preference(),
        deactivate in policy(),
    ) {
        let mut seen = std::collections::HashSet::new();
        let records: Vec<TargetRecord> = desired
            .iter()
            .filter(|d| seen.insert(d.key.clone()))
            .enumerate()
            .map(|(i, d)| TargetRecord {
                id: format!("t{i}").into(),
                key: Some(d.key.clone()),
                fields: d.fields.clone(),
                active: d.active,
                owned: true,
                deactivated_by_sync: false,
            })
            .collect();
        let ctx = PlanContext { preference, deactivate, ..ctx() };
        let plan = plan_collection(&spec(), desired, &TargetSnapshot { records }, &ctx);
        no_changes(&plan)?;
    }

    /// Applying a plan to the in-memory target and planning again gives an empty plan.
    #[test]
    fn apply_then_replan_is_a_no_op(
        desired in desired_records(),
        stored in stored_records(),
        preference in preference(),
        deactivate in policy(),
        approved in any::<bool>(),
        batch_size in 1..5_usize,
    ) {
        let rt = rt();
        let target = MemoryTarget::new();
        for s in stored {
            target.insert_record(Collection::Users, s);
        }
        let ctx = PlanContext { preference, deactivate, approved, ..ctx() };
        let opts = ApplyOptions { batch_size, concurrency: 2, allow_held_deactivations: true };
        let first = rt.block_on(async {
            let actual = target.read(&spec(), &NoProgress).await.unwrap();
            let plan = plan_collection(&spec(), desired.clone(), &actual, &ctx);
            let result = apply_plan(&plan, &target, &opts, &NoProgress).await;
            (plan, result)
        });
        prop_assert_eq!(first.1.failed, 0);
        prop_assert_eq!(
            first.1.changes.len() as u64,
            first.0.counts.changes() + first.0.counts.held
        );
        let again = rt.block_on(async {
            let actual = target.read(&spec(), &NoProgress).await.unwrap();
            plan_collection(&spec(), desired, &actual, &ctx)
        });
        no_changes(&again)?;
    }

    /// Whatever the states and the policy: an incomplete read never deactivates.
    #[test]
    fn no_plan_deactivates_after_an_incomplete_read(
        desired in desired_records(),
        stored in stored_records(),
        preference in preference(),
        deactivate in policy(),
        approved in any::<bool>(),
    ) {
        let records: Vec<TargetRecord> = stored
            .into_iter()
            .map(|s| {
                let key = s.fields.get("roster_user_id").and_then(Value::as_str).map(Into::into);
                TargetRecord {
                    id: s.id,
                    owned: key.is_some(),
                    key,
                    fields: s.fields,
                    active: s.active,
                    deactivated_by_sync: s.deactivated_by_sync,
                }
            })
            .collect();
        let ctx = PlanContext {
            preference,
            deactivate,
            approved,
            source: Completeness::Incomplete { reason: "page 2 failed".into() }.into(),
            ..ctx()
        };
        let plan = plan_collection(&spec(), desired, &TargetSnapshot { records }, &ctx);
        let deactivates = |e: &sync_engine::PlanEntry| matches!(e.action, Action::Deactivate { .. });
        prop_assert!(!plan.entries.iter().any(deactivates));
        prop_assert_eq!(plan.counts.deactivate + plan.counts.held, 0);
        let is_deactivation =
            |c: &sync_engine::Change| matches!(c.op, sync_engine::Operation::Deactivate { .. });
        prop_assert!(!plan.changes(true).iter().any(is_deactivation));
    }
}
