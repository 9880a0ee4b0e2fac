//! Runs an integration end to end, with any connectors: loads the configuration (the
//! runtime's sections itself, each connector's section through its factory), resolves
//! credentials, builds the source and the target, plans, applies, and keeps session
//! reports and the deactivation ledger in a [`StateStore`] (the local state directory, or
//! a service's database). Shared by the CLI and the cloud service, so the binaries stay
//! thin; a [`Pairing`] is all a binary adds.

pub mod config;
pub mod connector;
pub mod credentials;
pub mod definition;
pub mod integration;
pub mod ledger;
pub mod schedule;
pub mod seats;
pub mod state;
pub mod store;

pub use config::{Config, ConfigDoc, ConfigError, ConfigErrors, Mode};
pub use connector::{
    BuildContext, Pairing, Secrets, SectionSecrets, SourceFactory, SourceSection, TargetFactory,
    TargetSection, build, build_with_secrets, load_section, resolve_secrets,
};
pub use integration::{
    Connectors, Integration, OpenConnectors, RunOptions, RuntimeError, exit, read_plan, write_plan,
};
pub use ledger::Ledger;
pub use schedule::Schedule;
pub use seats::SeatsReport;
pub use state::{StateDir, StateError};
pub use store::{RunGuard, StateStore};
