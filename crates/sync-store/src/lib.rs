//! The cloud service's database: SQLite by default (one file, created on first start, WAL,
//! busy timeout), PostgreSQL by `postgres://` URL for several processes; the same queries
//! and the same embedded schema on both.
//!
//! - Owners and hashed API tokens ([`Store::create_token`], [`Store::authenticate`]).
//! - Credentials sealed under the master key: the store implements credential-store's
//!   [`CredentialDatabase`](credential_store::CredentialDatabase), so a
//!   [`DatabaseProvider`](credential_store::DatabaseProvider) over it seals and opens
//!   them; [`Store::rotate_master_key`] re-wraps them under a new key.
//! - Integrations with optimistic concurrency, status and contacts; schedules in IANA time
//!   zones ([`ScheduleSpec`]) and a scheduler tick that creates each slot's run exactly once
//!   across processes ([`Store::tick`]).
//! - The run queue: RUN NOW ([`Store::run_now`]), claims with fenced leases
//!   ([`Store::claim`], [`Store::heartbeat`], [`Store::finish`]), reclaim of expired
//!   leases with an attempt limit ([`Store::reclaim_expired`]).
//! - sync-runtime's [`StateStore`](sync_runtime::StateStore) for a claimed run
//!   ([`Store::run_state`]): run lock = lease, ledger with write-ahead intents, sessions.
//! - Notifications, in-app and by email through an outbox ([`Store::notifications`],
//!   [`Store::deliver_outbox`], [`SmtpMailer`]); [`Store::sweep`] does one pass of all the
//!   background work.
//!
//! Times come from an injectable [`Clock`]. The schema, the queue and the assumptions are
//! described in the project's `docs/store.md`.
//!
//! # Example
//!
//! ```
//! use sync_store::{ClaimFilter, IntegrationStatus, NewIntegration, Store};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), sync_store::StoreError> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("cloud.db");
//! let store = Store::open(path.to_str().unwrap()).await?;
//! let owner = store.ensure_owner("it-ops").await?;
//! let integration = store
//!     .create_integration(&owner.id, &NewIntegration::new("Directory users", "{}"))
//!     .await?;
//! store
//!     .set_status(&owner.id, &integration.id, IntegrationStatus::Launched, None)
//!     .await?;
//!
//! // RUN NOW twice: one run.
//! let (run, created) = store.run_now(&owner.id, &integration.id).await?;
//! let (again, created_again) = store.run_now(&owner.id, &integration.id).await?;
//! assert!(created && !created_again && run.id == again.id);
//!
//! // A worker claims it, and finishes it with the session report.
//! let lease = store.claim("worker-1", &ClaimFilter::cloud()).await?.expect("a run");
//! let mut report = sync_engine::SessionReport::new("Directory users", chrono::Utc::now());
//! report.finish(false);
//! let done = store.finish(&lease, &report).await?;
//! assert_eq!(done.state, sync_store::RunState::Succeeded);
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! None: both backends are always built.

mod clock;
mod credentials;
mod db;
mod error;
mod integrations;
mod mail;
mod model;
mod notify;
mod owners;
mod queue;
mod schedule;
mod state;
mod sweeper;

pub use clock::{Clock, SystemClock, TestClock};
pub use db::{Backend, Store, StoreOptions};
pub use error::{ErrorKind, Result, StoreError};
pub use mail::{SmtpConfig, SmtpMailer, SmtpSecurity};
pub use model::{
    Installation, Integration, IntegrationStatus, IntegrationUpdate, NewIntegration, Notification,
    NotificationKind, Owner, Run, RunCounts, RunState, SettingsFormat, TokenInfo, Trigger,
};
pub use notify::{Delivery, Email, MailError, Mailer, OutboxEntry};
pub use owners::TOKEN_PREFIX;
pub use queue::{ClaimFilter, Lease, Page, Reclaimed};
pub use schedule::{Every, Schedule, ScheduleSpec};
pub use state::{LeaseGuard, LeasedState};
pub use sweeper::SweepReport;
