//! `/metrics` in the Prometheus text format (prometheus-client, one explicit registry per
//! service).
//!
//! Two kinds of series:
//! - **from the database**, read at every scrape, so every replica reports the same value:
//!   runs by state and trigger, queue depth, the age of the oldest queued run, lease
//!   reclaims (the runs' "interrupted" events), notifications and the email outbox;
//! - **from this process**, counters that grow as its worker finishes runs and its API
//!   answers requests: records by collection and outcome, API calls and rate-limit waits
//!   per vendor, finished runs by outcome, HTTP requests by route and status. Sum them
//!   over replicas.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use sqlx::Row as _;
use sync_engine::SessionReport;
use sync_store::Store;

/// Label: a run's state and trigger.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    /// queued, running, succeeded, partial, failed, interrupted.
    pub state: String,
    /// schedule or manual.
    pub trigger: String,
}

/// Label: a record outcome in a collection.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RecordLabels {
    /// users or saas_users.
    pub collection: String,
    /// created, updated, deactivated, reactivated, unchanged, skipped, failed.
    pub outcome: String,
}

/// Label: a vendor (the report's system name, e.g. `quip`, `oomnitza`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VendorLabels {
    /// The system.
    pub vendor: String,
}

/// Label: a finished run's outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// The session status: succeeded, succeeded_with_errors, held, failed, interrupted.
    pub status: String,
}

/// Label: notifications by kind and read state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotificationLabels {
    /// run_failed, run_overdue, run_missed.
    pub kind: String,
    /// "true" or "false".
    pub read: String,
}

/// Label: a state (outbox rows, reclaims).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// The state.
    pub state: String,
}

/// Label: an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// GET, POST, ...
    pub method: String,
    /// The route pattern (`/api/v1/runs/{id}`), never the raw path.
    pub route: String,
    /// The status code.
    pub status: String,
}

type FloatCounter = Counter<f64, AtomicU64>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// The service's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    runs: Family<RunLabels, Gauge>,
    queue_depth: Gauge,
    oldest_queued_age: FloatGauge,
    lease_reclaims: Gauge,
    notifications: Family<NotificationLabels, Gauge>,
    outbox: Family<StateLabels, Gauge>,
    records: Family<RecordLabels, Counter>,
    api_calls: Family<VendorLabels, Counter>,
    rate_limit_wait: Family<VendorLabels, FloatCounter>,
    finished: Family<OutcomeLabels, Counter>,
    reclaims_here: Family<StateLabels, Counter>,
    http: Family<HttpLabels, Counter>,
}

const RUN_STATES: [&str; 6] = [
    "queued",
    "running",
    "succeeded",
    "partial",
    "failed",
    "interrupted",
];
const TRIGGERS: [&str; 2] = ["schedule", "manual"];

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every series registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sync");
        let m = Metrics {
            registry: Registry::default(),
            runs: Family::default(),
            queue_depth: Gauge::default(),
            oldest_queued_age: FloatGauge::default(),
            lease_reclaims: Gauge::default(),
            notifications: Family::default(),
            outbox: Family::default(),
            records: Family::default(),
            api_calls: Family::default(),
            rate_limit_wait: Family::default(),
            finished: Family::default(),
            reclaims_here: Family::default(),
            http: Family::default(),
        };
        registry.register(
            "runs",
            "Runs in the database by state and trigger",
            m.runs.clone(),
        );
        registry.register(
            "queue_depth",
            "Queued runs waiting for a worker (database)",
            m.queue_depth.clone(),
        );
        registry.register(
            "queue_oldest_age_seconds",
            "Age of the oldest queued run, 0 when none (database)",
            m.oldest_queued_age.clone(),
        );
        registry.register(
            "lease_reclaims",
            "Runs whose lease expired and was reclaimed, all processes (database)",
            m.lease_reclaims.clone(),
        );
        registry.register(
            "notifications",
            "In-app notifications by kind and read state (database)",
            m.notifications.clone(),
        );
        registry.register(
            "email_outbox",
            "Email outbox rows by state: pending, sent, abandoned (database)",
            m.outbox.clone(),
        );
        registry.register(
            "records",
            "Records by collection and outcome in runs this process finished",
            m.records.clone(),
        );
        registry.register(
            "api_calls",
            "HTTP requests sent to each vendor by runs this process finished",
            m.api_calls.clone(),
        );
        registry.register(
            "rate_limit_wait_seconds",
            "Seconds runs this process finished waited on each vendor's rate limits",
            m.rate_limit_wait.clone(),
        );
        registry.register(
            "runs_finished",
            "Runs this process finished, by session status",
            m.finished.clone(),
        );
        registry.register(
            "lease_reclaims_swept",
            "Expired leases this process's sweeper reclaimed, by what became of the run",
            m.reclaims_here.clone(),
        );
        registry.register(
            "http_requests",
            "API requests this process answered, by route and status",
            m.http.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Counts a finished run's report.
    pub fn record_report(&self, report: &SessionReport) {
        self.finished
            .get_or_create(&OutcomeLabels {
                status: report.status.as_str().to_owned(),
            })
            .inc();
        let add = |collection: &str, counts: &serde_json::Value| {
            if let Some(map) = counts.as_object() {
                for (outcome, n) in map {
                    if let Some(n) = n.as_u64() {
                        self.records
                            .get_or_create(&RecordLabels {
                                collection: collection.to_owned(),
                                outcome: outcome.clone(),
                            })
                            .inc_by(n);
                    }
                }
            }
        };
        add(
            "users",
            &serde_json::to_value(report.counts).unwrap_or_default(),
        );
        if let Some(saas) = &report.saas_counts {
            add(
                "saas_users",
                &serde_json::to_value(saas).unwrap_or_default(),
            );
        }
        for (vendor, calls) in &report.api_calls {
            self.api_calls
                .get_or_create(&VendorLabels {
                    vendor: vendor.clone(),
                })
                .inc_by(*calls);
        }
        for (vendor, wait) in &report.rate_limit_wait_s {
            self.rate_limit_wait
                .get_or_create(&VendorLabels {
                    vendor: vendor.clone(),
                })
                .inc_by(*wait);
        }
    }

    /// Counts what a sweep reclaimed.
    pub fn record_reclaims(&self, requeued: usize, failed: usize) {
        for (state, n) in [("requeued", requeued), ("failed", failed)] {
            self.reclaims_here
                .get_or_create(&StateLabels {
                    state: state.to_owned(),
                })
                .inc_by(n as u64);
        }
    }

    /// Counts an API request.
    pub fn record_http(&self, method: &str, route: &str, status: u16) {
        self.http
            .get_or_create(&HttpLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status: status.to_string(),
            })
            .inc();
    }

    /// Reads the database series and encodes everything.
    pub async fn render(&self, store: &Store) -> Result<String, sqlx::Error> {
        self.refresh(store).await?;
        let mut out = String::new();
        encode(&mut out, &self.registry).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        Ok(out)
    }

    async fn refresh(&self, store: &Store) -> Result<(), sqlx::Error> {
        let pool = store.pool();
        let rows = sqlx::query(
            "SELECT state, run_trigger, COUNT(*) AS n FROM runs GROUP BY state, run_trigger",
        )
        .fetch_all(pool)
        .await?;
        for state in RUN_STATES {
            for trigger in TRIGGERS {
                let n = rows
                    .iter()
                    .find(|r| {
                        r.try_get::<String, _>("state").is_ok_and(|s| s == state)
                            && r.try_get::<String, _>("run_trigger")
                                .is_ok_and(|t| t == trigger)
                    })
                    .map_or(Ok(0), |r| r.try_get::<i64, _>("n"))?;
                self.runs
                    .get_or_create(&RunLabels {
                        state: state.to_owned(),
                        trigger: trigger.to_owned(),
                    })
                    .set(n);
            }
        }
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM runs WHERE state = 'queued'",
        )
        .fetch_one(pool)
        .await?;
        let depth: i64 = row.try_get("n")?;
        let oldest: Option<i64> = row.try_get("oldest")?;
        self.queue_depth.set(depth);
        let now = store.clock().now().as_millisecond();
        self.oldest_queued_age
            .set(oldest.map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0));
        let row = sqlx::query("SELECT COUNT(*) AS n FROM run_events WHERE kind = 'interrupted'")
            .fetch_one(pool)
            .await?;
        self.lease_reclaims.set(row.try_get("n")?);
        let rows = sqlx::query(
            "SELECT kind, CAST(CASE WHEN read_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS is_read, \
             COUNT(*) AS n FROM notifications GROUP BY kind, \
             CAST(CASE WHEN read_at IS NULL THEN 0 ELSE 1 END AS BIGINT)",
        )
        .fetch_all(pool)
        .await?;
        for kind in ["run_failed", "run_overdue", "run_missed"] {
            for read in [0_i64, 1] {
                let n = rows
                    .iter()
                    .find(|r| {
                        r.try_get::<String, _>("kind").is_ok_and(|k| k == kind)
                            && r.try_get::<i64, _>("is_read").is_ok_and(|v| v == read)
                    })
                    .map_or(Ok(0), |r| r.try_get::<i64, _>("n"))?;
                self.notifications
                    .get_or_create(&NotificationLabels {
                        kind: kind.to_owned(),
                        read: (read == 1).to_string(),
                    })
                    .set(n);
            }
        }
        let row = sqlx::query(
            "SELECT \
               COALESCE(SUM(CASE WHEN sent_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS sent, \
               COALESCE(SUM(CASE WHEN sent_at IS NULL AND next_attempt_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS pending, \
               COALESCE(SUM(CASE WHEN sent_at IS NULL AND next_attempt_at IS NULL THEN 1 ELSE 0 END), 0) AS abandoned \
             FROM email_outbox",
        )
        .fetch_one(pool)
        .await?;
        for state in ["sent", "pending", "abandoned"] {
            self.outbox
                .get_or_create(&StateLabels {
                    state: state.to_owned(),
                })
                .set(row.try_get::<i64, _>(state)?);
        }
        Ok(())
    }
}
