//! Where an integration keeps what its next run relies on: the run lock (one run per
//! integration at a time, sync-safety S13), the [`Ledger`] with its write-ahead intents
//! (S5, S15) and the session reports. [`StateDir`](crate::StateDir) keeps them in a local
//! directory; a service keeps them in its database by implementing the same trait, and
//! [`Integration`](crate::Integration) works with either.

use async_trait::async_trait;
use sync_engine::SessionReport;

use crate::ledger::Ledger;
use crate::state::StateError;

/// A held run lock: released when dropped, and by the store when its holder dies (a
/// process exit for a lock file, a lease that runs out for a database).
pub trait RunGuard: Send + Sync + std::fmt::Debug {}

/// The state of integrations, wherever it is kept.
///
/// Every `save_*` is durable when it returns `Ok`: a crash (or power loss) afterwards keeps
/// what was saved. [`Integration::run`](crate::Integration::run) relies on this to record
/// intents before the writes they describe.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Where the state lives, for messages: "state directory /var/lib/…".
    fn describe(&self) -> String;

    /// Takes the run lock of `integration`; [`StateError::Locked`] names the holder when
    /// another run has it.
    async fn lock(&self, integration: &str) -> Result<Box<dyn RunGuard>, StateError>;

    /// The ledger of `integration` (empty when it has none yet), with any intents a killed
    /// run left unconfirmed.
    async fn ledger(&self, integration: &str) -> Result<Ledger, StateError>;

    /// Stores the ledger of `integration`, durably.
    async fn save_ledger(&self, integration: &str, ledger: &Ledger) -> Result<(), StateError>;

    /// Stores a session report (dry and failed runs included), durably.
    async fn save_session(&self, report: &SessionReport) -> Result<(), StateError>;

    /// Every stored session, newest first.
    async fn sessions(&self) -> Result<Vec<SessionReport>, StateError>;

    /// One session by id (a unique prefix of the id is enough).
    async fn session(&self, id: &str) -> Result<SessionReport, StateError>;
}
