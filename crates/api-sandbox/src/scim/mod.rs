//! A generic SCIM 2.0 service provider (RFC 7643, RFC 7644): discovery, Users and Groups
//! with paging, filters and attribute selection, bearer or Basic authentication, a rate
//! limit, fault injection and request counters.
//!
//! It stands in for any SCIM application (Slack, Zoom, Okta-provisioned apps, ...) in the
//! tests of `scim-client` and of the `scim-oomnitza` connector. Users come from
//! [`crate::datagen`] (deterministic by seed), with the enterprise extension and a small
//! vendor extension ([`ACTIVITY_SCHEMA`]: `lastLogin`, `robot`), and groups with members.
//!
//! ```no_run
//! # async fn demo() -> Result<(), api_sandbox::SandboxError> {
//! use api_sandbox::DataSpec;
//! use api_sandbox::scim::{ScimConfig, ScimEmulator};
//!
//! let spec = DataSpec { users: 250, ..DataSpec::default() };
//! let scim = ScimEmulator::start_generated(ScimConfig::default(), &spec).await?;
//! // GET {base_url}/Users with `Authorization: Bearer {token}` ...
//! println!("SCIM at {} (token {})", scim.base_url(), scim.token());
//! let state = scim.state();
//! let someone = state.users()[0].id.clone();
//! state.set_active(&someone, false); // visible to the next request
//! scim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Routes
//!
//! Every route lives under [`BASE_PATH`] (`/scim/v2`), so clients must keep the base URL's
//! path. Fault rules name routes with it, e.g. `GET /scim/v2/Users`.
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /ServiceProviderConfig` | RFC 7643 §5 document: filter supported (`maxResults` = the page cap), patch, bulk, sort, etag, changePassword not |
//! | `GET /Schemas`, `GET /Schemas/{id}` | RFC 7643 §7 definitions of the attributes served (core User, enterprise User, the activity extension, Group) |
//! | `GET /ResourceTypes` | RFC 7643 §6: `User` (both extensions) and `Group` |
//! | `GET /Users`, `GET /Groups` | list responses with `startIndex`/`count` paging, `filter`, `attributes`, `excludedAttributes` |
//! | `GET /Users/{id}`, `GET /Groups/{id}` | one resource, with `attributes`/`excludedAttributes` |
//!
//! # Fidelity: what follows the RFC and what is assumed
//!
//! | Behaviour | Status |
//! |---|---|
//! | `Content-Type: application/scim+json` on every answer | RFC 7644 §3.1 |
//! | Errors `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","scimType"?,"detail"}`, `status` a string | RFC 7644 §3.12 |
//! | List response `schemas`, `totalResults`, `startIndex`, `itemsPerPage`, `Resources` | RFC 7644 §3.4.2 |
//! | 1-based `startIndex` (below 1 read as 1), `count` below 0 read as 0, `count` above the cap silently capped (default page size = the cap, 100) | RFC 7644 §3.4.2.4; the cap's value is an assumption |
//! | A non-integer `startIndex` or `count`: 400 `invalidValue` | assumption (RFC silent) |
//! | Filters: `eq ne co sw ew gt ge lt le pr`, `and` (binding tighter) / `or` / `not (...)`, parentheses, JSON string values with escapes, `true`/`false`/`null`/numbers; operators and attribute names case-insensitive; `caseExact` attributes (`id`, `externalId`, member and group ids) compared exactly, others ignoring case; a complex multi-valued attribute without sub-attribute compares its `value` | RFC 7644 §3.4.2.2, RFC 7643 §2.1 |
//! | Filterable attributes: `id externalId userName displayName active title emails[.value/.type/.primary] name.givenName/.familyName/.formatted roles[.value] groups[.value/.display] meta.created/.lastModified`, the enterprise attributes and `manager.value`, the activity extension; for groups `id externalId displayName members[.value/.display] meta.*`; anything else, value filters (`emails[type eq "work"]`) and syntax errors: 400 `invalidFilter` | assumption (a provider chooses what it supports) |
//! | `attributes` keeps only the named attributes plus `id` and `schemas`; `excludedAttributes` never removes those; sub-attributes (`name.givenName`) and URN-qualified names work; unknown names ignored | RFC 7644 §3.4.2.5, §3.9; ignoring unknown names an assumption |
//! | `sortBy`/`sortOrder` ignored (the configuration says `sort.supported: false`); listing order is insertion order, stable between requests | RFC 7644 §3.4.2.3 allows it |
//! | `meta.created`/`lastModified` RFC 3339 UTC; `meta.location` absolute; `meta.version` a weak ETag changing with every change (ETags not otherwise honoured) | RFC 7643 §3.1; ETag support is off |
//! | `groups` on a user is read-only and lists direct memberships with `$ref` and `type: "direct"`; group `members` carry `value`, `$ref`, `display`, `type: "User"` | RFC 7643 §4.1.2, §4.2 |
//! | Unknown id: 404 `Resource {id} not found`; unknown path: 404 | RFC 7644 §3.12 example |
//! | Credentials: `Authorization: Bearer <token>` (and HTTP Basic when configured); otherwise 401 SCIM error with `WWW-Authenticate` | RFC 7644 §2; body details an assumption |
//! | Discovery endpoints need the credential too unless `open_discovery` (RFC 7644 §4 lets providers choose) | assumption |
//! | Over the rate limit (fixed windows on the emulator clock): 429 SCIM error with `Retry-After` in seconds until the window ends; 401s consume no budget | assumption (RFC 7644 has no rate limits; 429 + `Retry-After` is what Azure AD, Okta and Slack document) |
//! | Read-only: no POST, PUT, PATCH, DELETE, `/Bulk`, `/.search` or `/Me` (405 or 404); tests change state through [`ScimState`] | scope choice |
//! | `userName` unique case-insensitively; generated `id`s are UUIDs (version 4 layout); about 10% of users have no `externalId` | RFC 7643 §4.1.1; the data is a sandbox choice |
//!
//! Every route passes through [`crate::faults::layer`]: counted by method, route template
//! and status, and subject to injected faults, which come before authentication (so a
//! fault's answer carries only the headers it names). `GET /scim/v2/Users` and
//! `GET /scim/v2/Groups` honour [`crate::faults::Fault::RepeatPage`] and
//! [`crate::faults::Fault::SkipPage`] (the answer's `startIndex` still names the requested
//! page, so a client sees duplicates or a gap, not an error). [`ScimState`] adds list
//! anomalies a real provider has been seen to produce: a `totalResults` that is off
//! ([`ScimState::set_total_offset`]) and a page served one resource short
//! ([`ScimState::set_short_page`]).

mod filter;
mod http;
mod resources;
mod state;

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use serde::{Deserialize, Serialize};

pub use resources::{ACTIVITY_SCHEMA, ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
pub use state::{RateLimit, ScimGroup, ScimState, ScimUser, from_people, generate};

use crate::SandboxError;
use crate::clock::{Clock, SystemClock};
use crate::datagen::DataSpec;
use crate::faults::{self, Instrumentation};
use crate::server::RunningServer;

/// The path every route lives under.
pub const BASE_PATH: &str = "/scim/v2";

/// Configuration of the SCIM emulator.
///
/// `Debug` leaves out the token and the password: they are sandbox values, but a
/// configuration printed next to real credentials should never show one.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ScimConfig {
    /// Port on 127.0.0.1; 0 lets the OS choose.
    pub port: u16,
    /// The bearer token accepted (a sandbox value).
    pub token: String,
    /// User name accepted with HTTP Basic; `None` refuses Basic.
    pub basic_user: Option<String>,
    /// Password accepted with HTTP Basic (a sandbox value).
    pub basic_password: String,
    /// Largest `count` honoured, and the page size when none is asked for.
    pub max_count: usize,
    /// A request budget per fixed window; `None`: unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Serve the discovery endpoints without credentials.
    pub open_discovery: bool,
    /// The clock for rate-limit windows and modification times.
    #[serde(skip, default = "default_clock")]
    pub clock: Arc<dyn Clock>,
}

fn default_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

impl Default for ScimConfig {
    fn default() -> Self {
        ScimConfig {
            port: 0,
            token: "sandbox-scim-token".to_owned(),
            basic_user: Some("sandbox-scim-admin".to_owned()),
            basic_password: "sandbox-scim-password".to_owned(),
            max_count: 100,
            rate_limit: None,
            open_discovery: false,
            clock: default_clock(),
        }
    }
}

impl fmt::Debug for ScimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimConfig")
            .field("port", &self.port)
            .field("token", &"[redacted]")
            .field("basic_user", &self.basic_user)
            .field("basic_password", &"[redacted]")
            .field("max_count", &self.max_count)
            .field("rate_limit", &self.rate_limit)
            .field("open_discovery", &self.open_discovery)
            .field("clock", &self.clock)
            .finish()
    }
}

/// A running SCIM emulator.
#[derive(Debug)]
pub struct ScimEmulator {
    server: RunningServer,
    config: ScimConfig,
    instrumentation: Instrumentation,
    state: ScimState,
}

impl ScimEmulator {
    /// Starts the emulator on loopback with the directory [`generate`] makes for `spec`.
    pub async fn start_generated(
        config: ScimConfig,
        spec: &DataSpec,
    ) -> Result<Self, SandboxError> {
        let (users, groups) = generate(spec);
        Self::start(config, users, groups).await
    }

    /// Starts the emulator on loopback with these users and groups.
    pub async fn start(
        config: ScimConfig,
        users: Vec<ScimUser>,
        groups: Vec<ScimGroup>,
    ) -> Result<Self, SandboxError> {
        let instrumentation = Instrumentation::default();
        let shared = Arc::new(state::Shared::new(
            Arc::clone(&config.clock),
            users,
            groups,
            config.max_count,
            config.rate_limit,
        ));
        let router = router(&config, Arc::clone(&shared), instrumentation.clone());
        let server = RunningServer::start(router, config.port, "scim").await?;
        let _ = shared.base.set(format!("{}{BASE_PATH}", server.url()));
        Ok(ScimEmulator {
            server,
            config,
            instrumentation,
            state: ScimState { shared },
        })
    }

    /// The SCIM base URL, `http://127.0.0.1:PORT/scim/v2` (`/Users` lives below it).
    pub fn base_url(&self) -> String {
        format!("{}{BASE_PATH}", self.server.url())
    }

    /// The accepted bearer token (a sandbox value, not a secret).
    pub fn token(&self) -> &str {
        &self.config.token
    }

    /// The accepted HTTP Basic user and password, when Basic is on (sandbox values).
    pub fn basic_credentials(&self) -> Option<(&str, &str)> {
        self.config
            .basic_user
            .as_deref()
            .map(|u| (u, self.config.basic_password.as_str()))
    }

    /// The configuration it started with (run-time changes go through [`ScimState`]).
    pub fn config(&self) -> &ScimConfig {
        &self.config
    }

    /// A handle on the state (cheap to clone).
    pub fn state(&self) -> ScimState {
        self.state.clone()
    }

    /// Injected faults.
    pub fn faults(&self) -> &faults::Faults {
        &self.instrumentation.faults
    }

    /// Request counters.
    pub fn counters(&self) -> &faults::Counters {
        &self.instrumentation.counters
    }

    /// Stops the emulator.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

fn router(config: &ScimConfig, shared: Arc<state::Shared>, inst: Instrumentation) -> Router {
    let auth = Arc::new(http::Auth {
        token: config.token.clone(),
        basic: config
            .basic_user
            .clone()
            .map(|u| (u, config.basic_password.clone())),
        open_discovery: config.open_discovery,
    });
    let app = http::App {
        shared: Arc::clone(&shared),
        basic: config.basic_user.is_some(),
    };
    let route = |path: &str| format!("{BASE_PATH}{path}");
    Router::new()
        .route(
            &route("/ServiceProviderConfig"),
            get(http::service_provider_config),
        )
        .route(&route("/Schemas"), get(http::schemas))
        .route(&route("/Schemas/{id}"), get(http::schema))
        .route(&route("/ResourceTypes"), get(http::resource_types))
        .route(&route("/Users"), get(http::list_users))
        .route(&route("/Users/{id}"), get(http::get_user))
        .route(&route("/Groups"), get(http::list_groups))
        .route(&route("/Groups/{id}"), get(http::get_group))
        // Authentication inside, fault injection and counting outside: 401s are counted.
        .route_layer(from_fn_with_state((auth, shared), http::gate))
        .route_layer(from_fn_with_state(inst, faults::layer))
        .fallback(http::not_found)
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_and_debug_hides_credentials() {
        let config = ScimConfig {
            token: "CANARY-scim-token-0b1d".to_owned(),
            basic_password: "CANARY-scim-password-77aa".to_owned(),
            rate_limit: Some(RateLimit {
                requests: 5,
                window_secs: 60,
            }),
            ..ScimConfig::default()
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("CANARY"), "{debug}");
        let json = serde_json::to_string(&config).unwrap();
        let back: ScimConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.token, config.token);
        assert_eq!(back.rate_limit, config.rate_limit);
        let partial: ScimConfig = serde_json::from_str(r#"{"max_count": 7}"#).unwrap();
        assert_eq!(partial.max_count, 7);
        assert_eq!(partial.token, "sandbox-scim-token");
    }
}
