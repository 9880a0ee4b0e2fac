//! Runs an integration end to end: loads the configuration, resolves credentials, builds the
//! Quip source and the Oomnitza target, plans, applies, and keeps session reports and the
//! deactivation ledger in a local state directory. Shared by the CLI and the cloud service,
//! so the binaries stay thin.
//!
//! The vendor-neutral part ([`Integration`], [`StateStore`] with its local implementation
//! [`StateDir`], [`schedule`]) works with any `sync_engine` [`Source`](sync_engine::Source)
//! and [`Target`](sync_engine::Target).

pub mod config;
pub mod connectors;
pub mod credentials;
pub mod definition;
pub mod integration;
pub mod ledger;
pub mod schedule;
pub mod state;
pub mod store;

pub use config::{Config, ConfigError, Mode};
pub use integration::{Integration, RunOptions, RuntimeError, read_plan, write_plan};
pub use ledger::Ledger;
pub use schedule::Schedule;
pub use state::{StateDir, StateError};
pub use store::{RunGuard, StateStore};
