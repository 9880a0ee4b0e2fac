//! One snapshot per plan case (the table of sync-safety.md's testing playbook).

use sync_engine::{
    Action, DesiredRecord, PlanContext, Preference, SkipReason, TargetRecord, Value,
    plan_collection,
};

use crate::support::{ctx, desired, owned, snapshot, spec, unowned};

struct Case {
    name: &'static str,
    what: &'static str,
    desired: Vec<DesiredRecord>,
    target: Vec<TargetRecord>,
    ctx: PlanContext,
}

fn cases() -> Vec<Case> {
    let create_only = PlanContext {
        preference: Preference::CreateOnly,
        ..ctx()
    };
    let update_only = PlanContext {
        preference: Preference::UpdateOnly,
        ..ctx()
    };
    let deactivated_by_sync = |mut t: TargetRecord| {
        t.deactivated_by_sync = true;
        t
    };
    vec![
        Case {
            name: "no_change",
            what: "same values (email differs only in case and whitespace): unchanged",
            desired: vec![desired("u1", "ada@example.com", "Ada Lovelace", true)],
            target: vec![owned("t1", "u1", " Ada@Example.com", "Ada Lovelace", true)],
            ctx: ctx(),
        },
        Case {
            name: "new_user",
            what: "a source user the target lacks: create",
            desired: vec![
                desired("u1", "ada@example.com", "Ada Lovelace", true),
                desired("u2", "bob@example.com", "Bob Kahn", true),
            ],
            target: vec![owned("t1", "u1", "ada@example.com", "Ada Lovelace", true)],
            ctx: ctx(),
        },
        Case {
            name: "field_change",
            what: "a changed name: update with the field diff",
            desired: vec![desired("u1", "ada@example.com", "Ada King", true)],
            target: vec![owned("t1", "u1", "ada@example.com", "Ada Lovelace", true)],
            ctx: ctx(),
        },
        Case {
            name: "email_change",
            what: "a changed email on the same sync key: an update, never deactivate + create",
            desired: vec![desired("u1", "ada.king@example.com", "Ada Lovelace", true)],
            target: vec![owned("t1", "u1", "ada@example.com", "Ada Lovelace", true)],
            ctx: ctx(),
        },
        Case {
            name: "disabled_in_source",
            what: "disabled in the source, owned and active in the target: deactivate",
            desired: vec![desired("u1", "ada@example.com", "Ada Lovelace", false)],
            target: vec![owned("t1", "u1", "ada@example.com", "Ada Lovelace", true)],
            ctx: ctx(),
        },
        Case {
            name: "missing_in_source",
            what: "owned record missing from the source: deactivate",
            desired: vec![desired("u1", "ada@example.com", "Ada Lovelace", true)],
            target: vec![
                owned("t1", "u1", "ada@example.com", "Ada Lovelace", true),
                owned("t2", "u2", "bob@example.com", "Bob Kahn", true),
            ],
            ctx: ctx(),
        },
        Case {
            name: "returned_after_deactivation",
            what: "deactivated by this sync and back in the source: reactivate (with changed fields)",
            desired: vec![desired("u1", "ada@example.com", "Ada King", true)],
            target: vec![deactivated_by_sync(owned(
                "t1",
                "u1",
                "ada@example.com",
                "Ada Lovelace",
                false,
            ))],
            ctx: ctx(),
        },
        Case {
            name: "deactivated_by_hand",
            what: "deactivated outside the sync: stays deactivated (skipped)",
            desired: vec![desired("u1", "ada@example.com", "Ada Lovelace", true)],
            target: vec![owned("t1", "u1", "ada@example.com", "Ada Lovelace", false)],
            ctx: ctx(),
        },
        Case {
            name: "unowned_target_record",
            what: "unowned records: never deactivated; an unmatched one is ignored, a disabled match is skipped",
            desired: vec![desired("u1", "ada@example.com", "Ada Lovelace", false)],
            target: vec![
                unowned("t1", "ADA@example.com", "Ada Lovelace", true),
                unowned("t2", "carol@example.com", "Carol Shaw", true),
            ],
            ctx: ctx(),
        },
        Case {
            name: "adopt_by_fallback_key",
            what: "an unowned record with the same email is adopted (update setting the sync key), not duplicated",
            desired: vec![desired("u1", "ada@example.com", "Ada Lovelace", true)],
            target: vec![unowned("t1", "Ada@Example.com", "Ada L.", true)],
            ctx: ctx(),
        },
        Case {
            name: "ambiguous_fallback_key",
            what: "two unowned records share the email: skipped, nothing created",
            desired: vec![desired("u1", "ada@example.com", "Ada Lovelace", true)],
            target: vec![
                unowned("t1", "ada@example.com", "Ada Lovelace", true),
                unowned("t2", "ada@example.com", "Ada (old)", true),
            ],
            ctx: ctx(),
        },
        Case {
            name: "duplicate_source_keys",
            what: "two source records with one key: the first wins, the second is reported; the key is present",
            desired: vec![
                desired("u1", "ada@example.com", "Ada Lovelace", true),
                desired("u1", "ada2@example.com", "Ada Two", false),
                desired("u3", "new@example.com", "New Person", true),
                desired("u3", "new@example.com", "New Person", true),
            ],
            target: vec![owned("t1", "u1", "ada@example.com", "Ada Lovelace", true)],
            ctx: ctx(),
        },
        Case {
            name: "duplicate_target_keys",
            what: "two target records share a sync key: skipped as ambiguous, neither deactivated",
            desired: vec![desired("u1", "ada@example.com", "Ada Lovelace", true)],
            target: vec![
                owned("t1", "u1", "ada@example.com", "Ada Lovelace", true),
                owned("t2", "u1", "ada@example.com", "Ada Lovelace", true),
            ],
            ctx: ctx(),
        },
        Case {
            name: "inactive_never_synced",
            what: "disabled in the source and never synced: not created",
            desired: vec![desired("u1", "ada@example.com", "Ada Lovelace", false)],
            target: vec![],
            ctx: ctx(),
        },
        Case {
            name: "create_only",
            what: "create_only: creates; never updates, deactivates or reactivates",
            desired: vec![
                desired("u1", "ada@example.com", "Ada King", true),
                desired("u2", "bob@example.com", "Bob Kahn", true),
                desired("u4", "dan@example.com", "Dan Bricklin", true),
            ],
            target: vec![
                owned("t1", "u1", "ada@example.com", "Ada Lovelace", true),
                owned("t3", "u3", "carol@example.com", "Carol Shaw", true),
                deactivated_by_sync(owned("t4", "u4", "dan@example.com", "Dan Bricklin", false)),
            ],
            ctx: create_only,
        },
        Case {
            name: "update_only",
            what: "update_only: updates, deactivates and reactivates; never creates",
            desired: vec![
                desired("u1", "ada@example.com", "Ada King", true),
                desired("u2", "bob@example.com", "Bob Kahn", true),
                desired("u4", "dan@example.com", "Dan Bricklin", true),
            ],
            target: vec![
                owned("t1", "u1", "ada@example.com", "Ada Lovelace", true),
                owned("t3", "u3", "carol@example.com", "Carol Shaw", true),
                deactivated_by_sync(owned("t4", "u4", "dan@example.com", "Dan Bricklin", false)),
            ],
            ctx: update_only,
        },
    ]
}

#[test]
fn plan_cases_snapshot() {
    for case in cases() {
        let plan = plan_collection(&spec(), case.desired, &snapshot(case.target), &case.ctx);
        insta::with_settings!({ description => case.what, omit_expression => true }, {
            insta::assert_yaml_snapshot!(case.name, plan);
        });
    }
}

/// The key facts of each case, asserted directly as well (the snapshots show the detail).
#[test]
fn plan_cases_facts() {
    for case in cases() {
        let name = case.name;
        let plan = plan_collection(&spec(), case.desired, &snapshot(case.target), &case.ctx);
        let c = plan.counts;
        let actions: Vec<&Action> = plan.entries.iter().map(|e| &e.action).collect();
        match name {
            "no_change" => assert_eq!((c.unchanged, c.changes()), (1, 0), "{name}"),
            "new_user" => assert_eq!((c.create, c.unchanged), (1, 1), "{name}"),
            "field_change" | "email_change" => {
                assert_eq!((c.update, c.create, c.deactivate), (1, 0, 0), "{name}");
            }
            "disabled_in_source" | "missing_in_source" => assert_eq!(c.deactivate, 1, "{name}"),
            "returned_after_deactivation" => assert_eq!(c.reactivate, 1, "{name}"),
            "deactivated_by_hand" => assert!(matches!(
                actions[0],
                Action::Skipped {
                    reason: SkipReason::DeactivatedOutsideSync,
                    ..
                }
            )),
            "unowned_target_record" => {
                assert_eq!(
                    plan.entries.len(),
                    1,
                    "{name}: the unmatched unowned record is ignored"
                );
                assert!(matches!(
                    actions[0],
                    Action::Skipped {
                        reason: SkipReason::NotOwned,
                        ..
                    }
                ));
            }
            "adopt_by_fallback_key" => match actions[0] {
                Action::Update {
                    adopted_by,
                    changes,
                    ..
                } => {
                    assert_eq!(adopted_by.as_deref(), Some("email"));
                    assert!(changes.iter().any(
                            |ch| &*ch.field == "roster_user_id" && ch.new == Value::from("u1")
                        ));
                }
                other => panic!("{name}: {other:?}"),
            },
            "ambiguous_fallback_key" => assert_eq!((c.skipped, c.create), (1, 0), "{name}"),
            "duplicate_source_keys" => {
                assert_eq!(
                    (c.unchanged, c.create, c.skipped, c.deactivate),
                    (1, 1, 2, 0),
                    "{name}"
                );
            }
            "duplicate_target_keys" => {
                assert_eq!((c.skipped, c.deactivate), (1, 0), "{name}");
                assert!(matches!(
                    actions[0],
                    Action::Skipped { reason: SkipReason::AmbiguousTarget, message, .. }
                        if message == "ambiguous: 2 target records share this key"
                ));
            }
            "inactive_never_synced" => assert_eq!((c.create, c.skipped), (0, 1), "{name}"),
            "create_only" => assert_eq!(
                (c.create, c.update, c.deactivate, c.reactivate, c.skipped),
                (1, 0, 0, 0, 3),
                "{name}"
            ),
            "update_only" => assert_eq!(
                (c.create, c.update, c.deactivate, c.reactivate, c.skipped),
                (0, 1, 1, 1, 1),
                "{name}"
            ),
            other => panic!("no facts for case {other}"),
        }
    }
}

#[test]
fn values_are_normalised_before_comparison() {
    use sync_engine::{Collection, CollectionSpec, Fields, TargetSnapshot};
    let spec = CollectionSpec {
        collection: Collection::Users,
        sync_key: "id".into(),
        fallback_keys: vec![],
        fields: vec![
            "count".into(),
            "id".into(),
            "note".into(),
            "ratio".into(),
            "seen".into(),
            "tags".into(),
        ],
    };
    let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let want = Fields::new()
        .with("id", "k")
        .with("count", 3)
        .with("ratio", Value::Float(2.0))
        .with("seen", t)
        .with("note", Value::Null)
        .with("tags", vec!["a", "b"]);
    let have = Fields::new()
        .with("id", "k")
        .with("count", Value::Float(3.0))
        .with("ratio", "2")
        .with("seen", "2023-11-14T22:13:20Z")
        .with("tags", vec![" a", "b "])
        .with("unmapped", "ignored");
    let actual = TargetSnapshot {
        records: vec![TargetRecord {
            id: "t".into(),
            key: Some("k".into()),
            fields: have,
            active: true,
            owned: true,
            deactivated_by_sync: false,
        }],
    };
    let plan = plan_collection(
        &spec,
        vec![DesiredRecord::new("k", want, true)],
        &actual,
        &PlanContext::default(),
    );
    assert_eq!(plan.counts.unchanged, 1, "{:#?}", plan.entries);
}
