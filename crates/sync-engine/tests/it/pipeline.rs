//! End-to-end flows through `pipeline` with the in-memory source and target.

use chrono::DateTime;
use sync_engine::{
    Collection, Completeness, DeactivatePolicy, ExecuteOptions, FilterConfig, KeyMapping, Ledger,
    MappingConfig, MemoryLedger, MemorySource, MemoryTarget, NoLedger, NoProgress, PlanOptions,
    SessionStatus, SyncDefinition, SyncPlan, SyncPolicy, Value, pipeline,
};

use sync_engine::error::ErrorKind as EngineErrorKind;

use crate::support::{plan_and_execute, robot, source_fields, user};

fn definition(saas: bool, policy: SyncPolicy) -> SyncDefinition {
    let fields = source_fields();
    let users = MappingConfig::new(KeyMapping::new("id", "roster_user_id"))
        .fallback(KeyMapping::new("email", "email"))
        .field("email", "{{ email | lower }}")
        .field("full_name", "{{ name }}")
        .field("first_name", "{{ name | first_name }}")
        .field("connected_by", "{{ credential_name }}")
        .case_insensitive("email")
        .compile(Collection::Users, Some(&fields))
        .unwrap();
    let mut collections = vec![users];
    if saas {
        collections.push(
            MappingConfig::new(KeyMapping::new("id", "user_id"))
                .field("email", "{{ email | lower }}")
                .field("role", "{{ role }}")
                .compile(Collection::SaasUsers, Some(&fields))
                .unwrap(),
        );
    }
    SyncDefinition {
        integration: "Roster users".into(),
        mode: Some(if saas { "users_and_saas" } else { "users" }.into()),
        collections,
        filter: FilterConfig {
            include: vec![],
            exclude: vec!["is_robot".into()],
        }
        .compile(Some(&fields))
        .unwrap(),
        policy,
        credential_name: "roster-prod".into(),
    }
}

fn people() -> Vec<sync_engine::SourceRecord> {
    vec![
        user("u1", "Ada Lovelace", "Ada@Example.com", true),
        user("u2", "Bob Kahn", "bob@example.com", true),
        user("u3", "Carol Shaw", "carol@example.com", false), // disabled, never synced
        robot("r1", "Build Bot", "bot@example.com"),
    ]
}

fn plan_opts() -> PlanOptions {
    PlanOptions {
        approved: false,
        sync_time: Some(DateTime::from_timestamp(1_700_000_000, 0).unwrap()),
    }
}

async fn run(
    def: &SyncDefinition,
    source: &MemorySource,
    target: &MemoryTarget,
    ledger: &dyn Ledger,
    dry_run: bool,
) -> sync_engine::SyncOutcome {
    let exec = ExecuteOptions {
        dry_run,
        ..ExecuteOptions::default()
    };
    plan_and_execute(def, source, target, ledger, &plan_opts(), &exec).await
}

#[tokio::test]
async fn first_sync_creates_then_a_second_is_a_no_op() {
    let def = definition(false, SyncPolicy::default());
    let source = MemorySource::new(source_fields(), people()).with_system("roster");
    let target = MemoryTarget::new().with_system("people");

    let out = run(&def, &source, &target, &NoLedger, false).await;
    let r = &out.report;
    assert_eq!(r.status, SessionStatus::Succeeded, "{}", r.render_human());
    assert_eq!(
        (r.counts.created, r.counts.skipped),
        (2, 1),
        "robot excluded, disabled not created"
    );
    assert!(r.saas_counts.is_none());
    let stored = target.records(Collection::Users);
    assert_eq!(stored.len(), 2);
    let ada = stored
        .iter()
        .find(|s| s.fields.get("roster_user_id") == Some(&Value::from("u1")))
        .unwrap();
    assert_eq!(
        ada.fields.get("email"),
        Some(&Value::from("ada@example.com"))
    );
    assert_eq!(
        ada.fields.get("connected_by"),
        Some(&Value::from("roster-prod"))
    );
    assert_eq!(target.counters().finish_calls, 1);

    let before = target.counters();
    let out = run(&def, &source, &target, &NoLedger, false).await;
    assert_eq!(out.report.status, SessionStatus::Succeeded);
    assert_eq!(out.report.counts.unchanged, 2);
    assert_eq!(out.report.counts.created + out.report.counts.updated, 0);
    let after = target.counters();
    assert_eq!(
        after.changes(),
        before.changes(),
        "a no-op run writes nothing"
    );
    assert_eq!(after.apply_calls, before.apply_calls);
    assert_eq!(after.finish_calls, before.finish_calls, "nothing to finish");
    assert_eq!(out.report.api_calls.get("roster"), Some(&2));
}

#[tokio::test]
async fn disabled_user_deactivates_person_and_seat_then_reactivates() {
    let def = definition(true, SyncPolicy::default());
    let source = MemorySource::new(source_fields(), people()).with_system("roster");
    let target = MemoryTarget::new().with_system("people");
    let out = run(&def, &source, &target, &NoLedger, false).await;
    assert_eq!(out.report.saas_counts.unwrap().created, 2);

    let mut changed = people();
    changed[1].active = false;
    source.set_records(changed);
    let out = run(&def, &source, &target, &NoLedger, false).await;
    assert_eq!(out.report.counts.deactivated, 1);
    assert_eq!(out.report.saas_counts.unwrap().deactivated, 1);
    assert_eq!(out.applied.len(), 2);
    assert_eq!(out.applied[0].deactivated_records[0].key, "u2");

    source.set_records(people());
    let out = run(&def, &source, &target, &NoLedger, false).await;
    assert_eq!(out.report.counts.reactivated, 1);
    assert_eq!(out.report.saas_counts.unwrap().reactivated, 1);
}

#[tokio::test]
async fn ledger_decides_reactivation_when_the_target_cannot_tell() {
    let def = definition(false, SyncPolicy::default());
    let source = MemorySource::new(source_fields(), people());
    let target = MemoryTarget::new();
    run(&def, &source, &target, &NoLedger, false).await;
    let ledger = MemoryLedger::new();
    source.set_records(people().into_iter().filter(|r| r.key != "u2").collect());
    let out = run(&def, &source, &target, &ledger, false).await;
    for a in &out.applied {
        ledger.record(a);
    }
    // Forget the target's own marker, as a real target would not have it.
    let bob = target
        .records(Collection::Users)
        .into_iter()
        .find(|r| r.fields.get("roster_user_id") == Some(&Value::from("u2")))
        .unwrap();
    target.set_active_by_hand(Collection::Users, &bob.id, false);

    source.set_records(people());
    let out = run(&def, &source, &target, &NoLedger, true).await;
    assert_eq!(
        out.report.counts.reactivated, 0,
        "without the ledger: deactivated by hand"
    );
    let out = run(&def, &source, &target, &ledger, false).await;
    assert_eq!(out.report.counts.reactivated, 1);
}

#[tokio::test]
async fn dry_run_writes_nothing_and_reports_the_plan() {
    let def = definition(true, SyncPolicy::default());
    let source = MemorySource::new(source_fields(), people());
    let target = MemoryTarget::new();
    let out = run(&def, &source, &target, &NoLedger, true).await;
    assert!(out.report.dry_run);
    assert_eq!(out.report.counts.created, 2);
    assert_eq!(out.report.saas_counts.unwrap().created, 2);
    assert!(out.applied.is_empty());
    assert_eq!(target.counters(), sync_engine::WriteCounters::default());
    assert!(target.records(Collection::Users).is_empty());
}

#[tokio::test]
async fn held_deactivations_make_a_held_report_and_approval_applies_them() {
    let policy = SyncPolicy {
        deactivate: DeactivatePolicy {
            max_count: Some(0),
            ..DeactivatePolicy::default()
        },
        ..SyncPolicy::default()
    };
    let def = definition(false, policy);
    let source = MemorySource::new(source_fields(), people());
    let target = MemoryTarget::new();
    run(&def, &source, &target, &NoLedger, false).await;
    source.set_records(vec![people().remove(0)]);

    let out = run(&def, &source, &target, &NoLedger, false).await;
    assert_eq!(out.report.status, SessionStatus::Held);
    assert_eq!(out.report.exit_code(), 3);
    assert_eq!(out.report.held_deactivations.len(), 1);
    assert_eq!(out.report.held_deactivations[0].key, "u2");
    assert_eq!(out.report.counts.deactivated, 0);
    assert!(
        out.report.warnings[0].contains("held"),
        "{:?}",
        out.report.warnings
    );

    let approved = PlanOptions {
        approved: true,
        ..plan_opts()
    };
    let out = plan_and_execute(
        &def,
        &source,
        &target,
        &NoLedger,
        &approved,
        &ExecuteOptions::default(),
    )
    .await;
    assert_eq!(out.report.status, SessionStatus::Succeeded);
    assert_eq!(out.report.counts.deactivated, 1);
}

#[tokio::test]
async fn a_short_read_is_incomplete_and_never_deactivates() {
    let def = definition(false, SyncPolicy::default());
    let source = MemorySource::new(source_fields(), people());
    let target = MemoryTarget::new();
    run(&def, &source, &target, &NoLedger, false).await;
    source.set_records(vec![
        people().remove(0),
        user("u9", "New", "new@example.com", true),
    ]);
    source.set_reported_total(Some(5));
    let out = run(&def, &source, &target, &NoLedger, false).await;
    let r = &out.report;
    assert_eq!(r.status, SessionStatus::SucceededWithErrors);
    assert_eq!((r.counts.created, r.counts.deactivated), (1, 0));
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("read 2 records but the source reported 5")),
        "{:?}",
        r.warnings
    );

    source.set_reported_total(None);
    source.set_completeness(Completeness::Incomplete {
        reason: "page 3 failed".into(),
    });
    let out = run(&def, &source, &target, &NoLedger, false).await;
    assert_eq!(out.report.counts.deactivated, 0);
    assert_eq!(out.report.status, SessionStatus::SucceededWithErrors);
}

#[tokio::test]
async fn an_unmappable_record_is_an_error_and_is_never_deactivated() {
    let def = definition(false, SyncPolicy::default());
    let source = MemorySource::new(source_fields(), people());
    let target = MemoryTarget::new();
    run(&def, &source, &target, &NoLedger, false).await;
    let mut broken = people();
    broken[1].fields.remove("id"); // no sync key any more
    source.set_records(broken);
    let out = run(&def, &source, &target, &NoLedger, false).await;
    let r = &out.report;
    assert_eq!(r.status, SessionStatus::SucceededWithErrors);
    assert_eq!(r.counts.deactivated, 0);
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].key, "u2");
    assert!(
        r.errors[0]
            .message
            .contains("mapping.users.sync_key.source"),
        "{:?}",
        r.errors
    );
}

#[tokio::test]
async fn fatal_errors_stop_the_plan() {
    let def = definition(false, SyncPolicy::default());
    let source = MemorySource::new(source_fields(), people()).with_system("roster");
    let target = MemoryTarget::new().with_system("people");
    source.set_error(Some((
        sync_engine::ErrorKind::Auth,
        "401 Unauthorized: token rejected".into(),
    )));
    // The runtime turns this error into a `failed` report (sync-runtime's orchestration
    // tests); here, the error itself.
    let err = pipeline::plan(&def, &source, &target, &NoLedger, &plan_opts(), &NoProgress)
        .await
        .unwrap_err();
    assert!(!err.is_config());
    assert_eq!(
        err.report(),
        "reading the source (roster) failed: 401 Unauthorized: token rejected"
    );
    assert_eq!(sync_engine::Source::stats(&source).calls, 1);

    source.set_error(Some((
        sync_engine::ErrorKind::Config,
        "listing = \"scim\" needs scim_url".into(),
    )));
    let err = pipeline::plan(&def, &source, &target, &NoLedger, &plan_opts(), &NoProgress)
        .await
        .unwrap_err();
    assert!(err.is_config());

    source.set_error(None);
    target.set_validate_error(Some((
        sync_engine::ErrorKind::Config,
        "field roster_user_id does not exist".into(),
    )));
    let err = pipeline::plan(&def, &source, &target, &NoLedger, &plan_opts(), &NoProgress)
        .await
        .unwrap_err();
    assert!(err.is_config());
    assert_eq!(
        err.report(),
        "validating users in people failed: field roster_user_id does not exist (collection users)"
    );
}

#[tokio::test]
async fn saved_plans_round_trip_and_stale_plans_are_refused() {
    let def = definition(true, SyncPolicy::default());
    let source = MemorySource::new(source_fields(), people()).with_system("roster");
    let target = MemoryTarget::new().with_system("people");
    let planned = pipeline::plan(&def, &source, &target, &NoLedger, &plan_opts(), &NoProgress)
        .await
        .unwrap();
    let json = planned.plan.to_json().unwrap();
    let saved = SyncPlan::from_json(&json).unwrap();
    assert_eq!(saved, planned.plan);

    // Unchanged: the saved plan applies.
    let fresh = pipeline::verify_plan(
        saved.clone(),
        &def,
        &source,
        &target,
        &NoLedger,
        &NoProgress,
    )
    .await
    .unwrap();
    let out = pipeline::execute(&fresh, &target, &ExecuteOptions::default(), &NoProgress).await;
    assert_eq!(out.report.counts.created, 2);
    assert_eq!(out.report.plan_id, Some(saved.id));

    // The target changed since (the plan's own writes): refused.
    let err = pipeline::verify_plan(saved, &def, &source, &target, &NoLedger, &NoProgress)
        .await
        .unwrap_err();
    let EngineErrorKind::Stale(stale) = err.kind() else {
        panic!("{err}")
    };
    assert_eq!(stale.what, "People users");
    assert!(
        err.to_string()
            .starts_with("the plan is stale: People users changed since it was made (fingerprint ")
    );
    assert!(err.to_string().ends_with("; make a new plan"));

    // A changed source is refused too.
    let planned = pipeline::plan(&def, &source, &target, &NoLedger, &plan_opts(), &NoProgress)
        .await
        .unwrap();
    source.set_records(people().into_iter().take(2).collect());
    let err = pipeline::verify_plan(planned.plan, &def, &source, &target, &NoLedger, &NoProgress)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("the Roster source changed"),
        "{err}"
    );

    let mut bad = json.replace("\"version\": 1", "\"version\": 99");
    assert!(
        SyncPlan::from_json(&bad)
            .unwrap_err()
            .report()
            .contains("version 99")
    );
    bad.truncate(40);
    assert!(SyncPlan::from_json(&bad).is_err());
}

#[tokio::test]
async fn pipeline_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let def = definition(false, SyncPolicy::default());
    let source = MemorySource::new(source_fields(), vec![]);
    let target = MemoryTarget::new();
    let opts = plan_opts();
    let plan = pipeline::plan(&def, &source, &target, &NoLedger, &opts, &NoProgress);
    assert_send(&plan);
    let planned = plan.await.expect("plan");
    let exec = ExecuteOptions::default();
    let execute = pipeline::execute(&planned, &target, &exec, &NoProgress);
    assert_send(&execute);
    execute.await;
}
