//! Applying plans: isolation of failures, one outcome per change, bounded concurrency,
//! progress.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use sync_engine::{
    ApiStats, ApplyOptions, Change, ChangeKind, Collection, CollectionSpec, ConnectorError,
    MemoryTarget, NoProgress, Outcome, OutcomeResult, Progress, ProgressEvent, Stage, Target,
    TargetSnapshot, apply_plan, plan_collection,
};

use crate::support::{ctx, desired, snapshot, spec};

/// A plan with `creates` creates, 1 update and 1 deactivation against `target`.
async fn plan_for(target: &MemoryTarget, creates: usize) -> sync_engine::CollectionPlan {
    target.insert(
        Collection::Users,
        crate::support::fields("u-old", "old@example.com", "Old"),
        true,
    );
    target.insert(
        Collection::Users,
        crate::support::fields("u-upd", "upd@example.com", "Before"),
        true,
    );
    let actual = target.read(&spec(), &NoProgress).await.unwrap();
    let mut d: Vec<_> = (0..creates)
        .map(|i| desired(&format!("n{i}"), &format!("n{i}@example.com"), "New", true))
        .collect();
    d.push(desired("u-upd", "upd@example.com", "After", true));
    plan_collection(&spec(), d, &actual, &ctx())
}

#[tokio::test]
async fn a_failing_record_never_aborts_the_run() {
    let target = MemoryTarget::new();
    let plan = plan_for(&target, 5).await;
    target.fail_key("n2", "HTTP 400: invalid email");
    target.fail_key("u-old", "HTTP 500");
    let opts = ApplyOptions {
        batch_size: 2,
        concurrency: 2,
        allow_held_deactivations: false,
    };
    let r = apply_plan(&plan, &target, &opts, &NoProgress).await;
    assert_eq!(r.changes.len(), 7, "one outcome per change");
    assert_eq!(
        (r.created, r.updated, r.deactivated, r.failed),
        (4, 1, 0, 2)
    );
    let failures: Vec<(&str, &str)> = r.failures().map(|(k, m)| (k.as_str(), m)).collect();
    assert_eq!(
        failures,
        [("n2", "HTTP 400: invalid email"), ("u-old", "HTTP 500")]
    );
    // Plan order: updates, creates, deactivations.
    let kinds: Vec<ChangeKind> = r.changes.iter().map(|c| c.kind).collect();
    assert_eq!(kinds[0], ChangeKind::Update);
    assert_eq!(kinds[6], ChangeKind::Deactivate);
    assert!(r.deactivated_records.is_empty());
    assert_eq!(target.counters().creates, 4);
}

/// A target that answers badly: drops the first key, invents one, repeats one.
struct Sloppy {
    seen: Mutex<Vec<usize>>,
}

#[async_trait]
impl Target for Sloppy {
    fn system(&self) -> &'static str {
        "sloppy"
    }
    async fn validate(&self, _: &CollectionSpec) -> Result<(), ConnectorError> {
        Ok(())
    }
    async fn read(
        &self,
        _: &CollectionSpec,
        _: &dyn Progress,
    ) -> Result<TargetSnapshot, ConnectorError> {
        Ok(TargetSnapshot::default())
    }
    async fn apply(&self, _: &CollectionSpec, batch: Vec<Change>) -> Vec<Outcome> {
        self.seen.lock().unwrap().push(batch.len());
        let mut out: Vec<Outcome> = batch
            .iter()
            .skip(1)
            .map(|c| Outcome::done(c.key.clone(), format!("id-{}", c.key)))
            .collect();
        out.push(Outcome::done("not-in-batch", "x"));
        if let Some(last) = batch.last() {
            out.push(Outcome::failed(last.key.clone(), "second answer"));
        }
        out
    }
    fn stats(&self) -> ApiStats {
        ApiStats::default()
    }
}

#[tokio::test]
async fn exactly_one_outcome_per_change_even_from_a_sloppy_target() {
    let d: Vec<_> = (0..10)
        .map(|i| desired(&format!("n{i}"), &format!("n{i}@x.com"), "N", true))
        .collect();
    let plan = plan_collection(&spec(), d, &snapshot(vec![]), &ctx());
    let target = Sloppy {
        seen: Mutex::new(Vec::new()),
    };
    let opts = ApplyOptions {
        batch_size: 4,
        ..ApplyOptions::default()
    };
    let r = apply_plan(&plan, &target, &opts, &NoProgress).await;
    assert_eq!(*target.seen.lock().unwrap(), [4, 4, 2]);
    assert_eq!(r.changes.len(), 10);
    let keys: Vec<&str> = r.changes.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(
        keys,
        ["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"]
    );
    // The first of each batch got no answer: a synthesised failure.
    assert_eq!(r.failed, 3);
    assert!(
        matches!(&r.changes[0].result, OutcomeResult::Failed { message }
        if message == "the target returned no outcome for this record")
    );
    // The repeated answer for the last key is ignored: the first (done) stands.
    assert_eq!(r.changes[3].id.as_deref(), Some("id-n3"));
    assert_eq!(r.created, 7);
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded() {
    for concurrency in [1, 3, 8] {
        let target = MemoryTarget::new().with_apply_delay(Duration::from_millis(50));
        let d: Vec<_> = (0..40)
            .map(|i| desired(&format!("n{i}"), &format!("n{i}@x.com"), "N", true))
            .collect();
        let plan = plan_collection(&spec(), d, &snapshot(vec![]), &ctx());
        let opts = ApplyOptions {
            batch_size: 5,
            concurrency,
            allow_held_deactivations: false,
        };
        let r = apply_plan(&plan, &target, &opts, &NoProgress).await;
        assert_eq!(r.created, 40);
        assert_eq!(target.counters().apply_calls, 8);
        assert_eq!(
            target.max_in_flight(),
            concurrency.min(8),
            "concurrency {concurrency}"
        );
    }
}

#[tokio::test]
async fn progress_is_reported_per_batch() {
    let events = Mutex::new(Vec::new());
    let progress = |e: ProgressEvent| events.lock().unwrap().push(e);
    let target = MemoryTarget::new();
    let plan = plan_for(&target, 5).await;
    let opts = ApplyOptions {
        batch_size: 3,
        concurrency: 1,
        allow_held_deactivations: false,
    };
    apply_plan(&plan, &target, &opts, &progress).await;
    let events = events.into_inner().unwrap();
    let stage = Stage::Apply(Collection::Users);
    assert_eq!(
        events,
        [
            ProgressEvent::Started {
                stage,
                total: Some(7)
            },
            ProgressEvent::Advanced { stage, by: 1 },
            ProgressEvent::Advanced { stage, by: 3 },
            ProgressEvent::Advanced { stage, by: 2 },
            ProgressEvent::Advanced { stage, by: 1 },
            ProgressEvent::Finished { stage },
        ]
    );
}

#[tokio::test]
async fn ledger_entries_name_what_was_deactivated_and_reactivated() {
    let target = MemoryTarget::new();
    let gone = target.insert(
        Collection::Users,
        crate::support::fields("u1", "a@x.com", "A"),
        true,
    );
    let actual = target.read(&spec(), &NoProgress).await.unwrap();
    let plan = plan_collection(
        &spec(),
        vec![desired("u2", "b@x.com", "B", true)],
        &actual,
        &ctx(),
    );
    let r = apply_plan(&plan, &target, &ApplyOptions::default(), &NoProgress).await;
    assert_eq!(r.deactivated_records.len(), 1);
    assert_eq!(r.deactivated_records[0].id, gone);
    assert_eq!(r.deactivated_records[0].key, "u1");

    let actual = target.read(&spec(), &NoProgress).await.unwrap();
    let plan = plan_collection(
        &spec(),
        vec![
            desired("u1", "a@x.com", "A", true),
            desired("u2", "b@x.com", "B", true),
        ],
        &actual,
        &ctx(),
    );
    assert_eq!(plan.counts.reactivate, 1);
    let r = apply_plan(&plan, &target, &ApplyOptions::default(), &NoProgress).await;
    assert_eq!(r.reactivated_records[0].id, gone);
}

/// Records the order of intents, confirmations and sends; fails the intent of batch `fail_at`.
struct Recorder {
    log: Mutex<Vec<String>>,
    fail_at: Option<usize>,
}

#[async_trait::async_trait]
impl sync_engine::WriteAhead for Recorder {
    async fn intend(&self, _: Collection, batch: &[Change]) -> Result<(), String> {
        let mut log = self.log.lock().unwrap();
        let n = log.iter().filter(|l| l.starts_with("intend")).count();
        log.push(format!("intend {}", batch.len()));
        if self.fail_at == Some(n) {
            return Err("disk full".to_owned());
        }
        Ok(())
    }
    async fn confirm(&self, _: Collection, applied: &[sync_engine::AppliedChange]) {
        self.log
            .lock()
            .unwrap()
            .push(format!("confirm {}", applied.len()));
    }
}

#[tokio::test]
async fn every_batch_is_intended_before_it_is_sent_and_confirmed_after() {
    let target = MemoryTarget::new();
    let plan = plan_for(&target, 3).await;
    let opts = ApplyOptions {
        batch_size: 2,
        concurrency: 1,
        allow_held_deactivations: false,
    };
    let recorder = Recorder {
        log: Mutex::new(Vec::new()),
        fail_at: Some(2),
    };
    let stop = sync_engine::Stop::new();
    let control = sync_engine::ApplyControl {
        write_ahead: &recorder,
        stop: &stop,
        grace: Duration::from_secs(10),
    };
    let r = sync_engine::apply_plan_with(&plan, &target, &opts, &NoProgress, &control).await;
    // Batches: [update], [create, create], [create] (intent fails), [deactivate] never.
    assert_eq!(
        *recorder.log.lock().unwrap(),
        ["intend 1", "confirm 1", "intend 2", "confirm 2", "intend 1"]
    );
    assert_eq!((r.updated, r.created, r.failed), (1, 2, 1));
    assert!(
        r.failures().all(|(_, m)| m == "not sent: disk full"),
        "{:?}",
        r.changes
    );
    assert_eq!(
        target.counters().creates,
        2,
        "the failed intent's batch was not sent"
    );
    assert_eq!(r.changes.len(), 4, "the batch after it was not even tried");
}

#[tokio::test]
async fn a_stop_request_sends_no_new_batch() {
    let target = MemoryTarget::new();
    let plan = plan_for(&target, 3).await;
    let stop = sync_engine::Stop::new();
    stop.request();
    let control = sync_engine::ApplyControl {
        write_ahead: &sync_engine::NoWriteAhead,
        stop: &stop,
        grace: Duration::from_secs(10),
    };
    let r = sync_engine::apply_plan_with(
        &plan,
        &target,
        &ApplyOptions::default(),
        &NoProgress,
        &control,
    )
    .await;
    assert!(r.changes.is_empty(), "{:?}", r.changes);
    assert_eq!(target.counters().creates, 0);
    // Requested already: completes at once.
    stop.requested().await;
}
