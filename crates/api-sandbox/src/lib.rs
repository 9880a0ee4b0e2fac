//! Stateful emulators of the Quip and Oomnitza APIs and of a generic SCIM 2.0 service
//! provider, for tests, the demo and benchmarks.
//!
//! No live Quip or Oomnitza tenant is reachable from our machines, so every client, the
//! engine, the CLI, the demo and the benchmarks meet these emulators instead. They follow
//! the vendor documentation (see "Fidelity" below), not what our own clients send.
//!
//! ```no_run
//! # async fn demo() -> Result<(), api_sandbox::SandboxError> {
//! use api_sandbox::{Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! println!("Quip at {} (token {})", sandbox.quip.base_url(), sandbox.quip.token());
//! println!("Oomnitza at {} (token {})", sandbox.oomnitza.base_url(), sandbox.oomnitza.token());
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Fidelity
//!
//! Each emulator's module docs ([`quip`], [`oomnitza`], [`scim`]) have the full table, route by
//! route. In short:
//!
//! | Behaviour | Status |
//! |---|---|
//! | Quip: Bearer auth, form-encoded POSTs, `/1/users/current`, single and bulk (≤1,000, keyed, error strings) user lookups | confirmed (Quip docs, official clients) |
//! | Quip: rate limits 50/min + 750/h (Automation), 100/min + 1,500/h (Admin), 600/min per company and for SCIM; `X-Ratelimit-*`, `X-Company-*`, `X-Scim-*` headers; 503 "Over Rate Limit" | confirmed (Quip docs, quip-api #44) |
//! | Quip: 429 with `X-Ratelimit-Reset: 0` as an alternative throttle style | assumption (reported) |
//! | Quip: SCIM `/2/Users` lists all users, `id` = Quip id | confirmed; paging caps, filters and resource shape are assumptions (RFC 7644) |
//! | Quip: Admin `users/list` paging shape, admin-roles endpoint, event field names, error bodies of 401/404 | assumptions (shared notes §11) |
//! | Oomnitza: `Authorization2` raw token or Basic, REST v3 paths, bare-array lists with `limit`/`skip`/`sortby`/`filter`, SaaS, seats, roles, bulk portions and run logs | confirmed (Oomnitza OpenAPI, help centre, connector code) |
//! | SCIM: discovery, `/Users` and `/Groups` paging, filters, attribute selection, error bodies, `application/scim+json` | RFC 7643/7644 |
//! | SCIM: page cap 100, filterable attributes, 429 with `Retry-After`, discovery behind the credential | assumptions (see [`scim`]) |
//! | Oomnitza: default limit 100 capped at 1,000; error bodies; 409 on unique fields; `suspended` as the inactive flag; `last_visit` set through seat assignment; filter quoting | assumptions (shared notes §13) |
//!
//! Every assumption is shared with the clients and listed in `docs/api-notes.md`, so a live
//! tenant that proves one wrong is fixed in one place on each side.
//!
//! # Shared machinery
//!
//! - [`datagen`]: deterministic realistic people (seed, size, disabled, robots, several
//!   emails, non-ASCII names, admins, last logins).
//! - [`faults`]: per-route fault injection (statuses, latency, hangs, malformed and truncated
//!   bodies, repeated or skipped pages) and request counters by route and status.
//! - [`clock`]: the real clock or a scaled one, for rate-limit windows in tests.

pub mod clock;
pub mod datagen;
pub mod faults;
pub mod oomnitza;
pub mod quip;
pub mod scim;
pub mod scripted;
pub mod server;

use serde::{Deserialize, Serialize};

pub use clock::{Clock, ScaledClock, SystemClock};
pub use datagen::{DataSpec, Person};
pub use faults::{Counters, Fault, FaultRule, Faults, PageFault, RequestCount};
pub use oomnitza::{CustomField, OomnitzaConfig, OomnitzaEmulator, OomnitzaState, SaasSpend};
pub use quip::{EventsApi, QuipConfig, QuipEmulator, QuipLimits, QuipState, ThrottleStyle};
pub use scim::{ScimConfig, ScimEmulator, ScimState};

/// Errors starting the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A port could not be bound.
    #[error("could not listen on 127.0.0.1:{port} for the {name} emulator: {source}")]
    Bind {
        /// Which emulator.
        name: &'static str,
        /// The port asked for (0 = any).
        port: u16,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Configuration of both emulators and the data they start with.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SandboxConfig {
    /// The Quip emulator.
    pub quip: QuipConfig,
    /// The Oomnitza emulator.
    pub oomnitza: OomnitzaConfig,
    /// The people Quip starts with.
    pub data: DataSpec,
}

/// Both emulators, running.
#[derive(Debug)]
pub struct Sandbox {
    /// The Quip emulator.
    pub quip: QuipEmulator,
    /// The Oomnitza emulator.
    pub oomnitza: OomnitzaEmulator,
}

impl Sandbox {
    /// Generates the data and starts both emulators on loopback.
    pub async fn start(config: SandboxConfig) -> Result<Self, SandboxError> {
        let people = datagen::generate(&config.data);
        let company_id = datagen::company_id(config.data.seed);
        let quip = QuipEmulator::start(config.quip, company_id, people).await?;
        let oomnitza = OomnitzaEmulator::start(config.oomnitza).await?;
        Ok(Sandbox { quip, oomnitza })
    }

    /// Stops both emulators.
    pub async fn shutdown(self) {
        self.quip.shutdown().await;
        self.oomnitza.shutdown().await;
    }
}
