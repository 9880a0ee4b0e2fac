//! The Quip emulator: Automation, Admin, SCIM 2.0, OAuth and Events APIs over one company.
//!
//! It follows Quip's documentation (`docs/quip-api.md` in the shared notes) and, where the
//! vendor is silent, the project's working assumptions (§11 of those notes), which the
//! clients share. Every route is counted and faultable ([`crate::faults`]); state is read
//! and changed through [`QuipState`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), api_sandbox::SandboxError> {
//! use api_sandbox::datagen::{self, DataSpec};
//! use api_sandbox::quip::{QuipConfig, QuipEmulator, QuipLimits};
//!
//! let spec = DataSpec { users: 1_000, ..DataSpec::default() };
//! let config = QuipConfig { limits: QuipLimits::unlimited(), ..QuipConfig::default() };
//! let quip =
//!     QuipEmulator::start(config, datagen::company_id(spec.seed), datagen::generate(&spec)).await?;
//! let state = quip.state();
//! let someone = state.people()[0].quip_id.clone();
//! state.set_disabled(&someone, true); // visible to the next request
//! // GET {base_url}/2/Users with `Authorization: Bearer {scim_token}` ...
//! # let _ = (quip.base_url(), quip.scim_token());
//! quip.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Routes
//!
//! | Area | Route |
//! |---|---|
//! | Automation | `GET /1/users/current`, `GET /1/users/{id_or_email}`, `GET /1/users/?ids=`, `POST /1/users/` (form `ids`), `GET /1/users/contacts` |
//! | OAuth | `POST /1/oauth/access_token` (refresh grant), `GET /1/oauth/verify_token` |
//! | Admin | `POST /1/admin/users/list`, `GET /1/admin/users/{id}`, `GET /1/admin/company/admin-roles` |
//! | Events | `GET /1/admin/events/1/cursor/realtime/create`, `GET /1/admin/events/1/events/realtime/get`, `GET /1/admin/events/1/cursor/create`, `GET /1/admin/events/1/events/get` |
//! | SCIM 2.0 | `GET /2/Users`, `GET /2/Users/{id}`, `DELETE /2/Users/{id}` |
//!
//! SCIM is served on the same base URL as the rest (Quip uses `https://scim.quip.com`).
//!
//! # Fidelity: confirmed behaviours and assumptions
//!
//! Sources are those of the shared `quip-api.md`: "Quip docs" = quip.com/dev documentation
//! and Quip's Postman collection; "quip-api" = Quip's GitHub repository. "Reported" sources
//! (third-party clients, user reports) count as assumptions here.
//!
//! | Behaviour | Status |
//! |---|---|
//! | `Authorization: Bearer <token>` on every call; form-encoded POST bodies | confirmed (python/quip.py, Quip docs) |
//! | 401 body `{"error":"Unauthorized","error_code":401,"error_description":"Invalid access_token"}` | assumption (reported: aws/amazon-q-developer-cli #3176; `error_code` type unconfirmed) |
//! | 401s carry no rate-limit headers and consume no budget (an unknown caller has none) | assumption |
//! | Non-admin token on an Admin route: 403 with the error JSON, counted against the Admin budget | assumption (§7: 403 expected) |
//! | SCIM needs its own token (default: the admin token); SCIM errors use the RFC 7644 error JSON | confirmed (Salesforce Help 000392638; RFC 7644 §3.12); error body on Quip assumption |
//! | `GET /1/users/current`: the token owner with `company_id` and folder ids | confirmed (Quip docs (mirror) §4.1) |
//! | The admin token belongs to the first enabled, non-robot admin; with none, a synthetic API user outside the directory | assumption |
//! | User object fields `id name emails company_id disabled is_robot created_usec affinity profile_picture_url chat_thread_id` | confirmed (Quip docs (mirror) §5); `id` and `emails` inside bulk values assumption |
//! | `GET /1/users/{id_or_email}` by id or email; email lookups only inside the company (the emulator holds one company) | confirmed (trials/test.sh, Quip docs (mirror)) |
//! | Unknown single user: 404 with the error JSON | assumption (§11) |
//! | `GET /1/users/{a,b}` (comma list in the path) is a bulk lookup | assumption (reported: go-quip) |
//! | Bulk lookup `GET /1/users/?ids=` and `POST /1/users/` (form `ids`), at most 1,000 keys, object keyed by the keys given, unknown keys map to an error string, HTTP 200 | confirmed (Quip docs (mirror), python/quip.py, nodejs/quip.js) |
//! | More than 1,000 keys: 400; the error string `"User not found"` | assumption |
//! | `GET /1/users/contacts`: a JSON array (here up to 25 enabled colleagues, by affinity) | confirmed array (python/quip.py); content assumption |
//! | `POST /1/admin/users/list` exists with form `company_id` | confirmed (trials/test.sh) |
//! | Admin list paging: `page` 0-based, `count` capped (default 100), `{"users","page","count","total_count","next_page"}`, `next_page: null` on the last page, `count` = page size in effect, stable (insertion) order, other company 403 | assumption (§11) |
//! | `GET /1/admin/users/{id}?company_id=` → `{"user","threads","contacts","companies"}` (`threads_meta=true` drops the last two) | confirmed (Quip docs (mirror) §4.5); exact keys assumption |
//! | Email instead of id on `/1/admin/users/{id}`: 400 "extra auth requires real user_id" | confirmed in 2018 (trials/test.sh); today assumption |
//! | `GET /1/admin/company/admin-roles` → `{"admin_roles":[{"id","name","user_ids"}]}`, Super Admin and Site Admin first | assumption (endpoint and shape unconfirmed; switch off with `admin_roles_endpoint = false`, then 404) |
//! | Role names Super Admin, Site Admin, custom roles | confirmed (Salesforce Help 000393323) |
//! | SCIM `GET /2/Users` lists every user; SCIM `id` = Quip user id | confirmed (Salesforce Help 000392638) |
//! | SCIM paging: 1-based `startIndex`, `count` capped (default 100), fewer items than asked possible, `totalResults`, `itemsPerPage`; `startIndex < 1` read as 1, negative `count` as 0 | assumption (RFC 7644 §3.4.2.4; §11) |
//! | SCIM filters `emails eq "x"` (also `emails.value`) and `userName eq "x"`: names, operator and values case-insensitive, value quoted per RFC; anything else 400 `invalidFilter` | assumption (reported: offboarding script; RFC 7644) |
//! | SCIM resource `id userName name{formatted,givenName,familyName} emails[{value,primary}] active meta{resourceType,created,lastModified}`, `Content-Type: application/scim+json` | assumption (RFC 7643/7644; Quip's population unconfirmed) |
//! | `DELETE /2/Users/{id}` disables the account (204); it stays listed with `active: false` | confirmed disable (Quip docs (SCIM)); route and 204 assumption (reported) |
//! | OAuth refresh `POST /1/oauth/access_token` (`grant_type=refresh_token`, `refresh_token`, `client_id`, `client_secret`) | confirmed (python/quip.py, trials/test.sh) |
//! | Token response `access_token refresh_token expires_in token_type scope`; refresh token reused; access tokens expire after `expires_in` (30 days) on the emulator clock; OAuth errors in Quip's error shape | assumption (reported: Java client) |
//! | `GET /1/oauth/verify_token`: 200 for a valid token (body `{"user_id","company_id"}`) | assumption (reported: Java client; body invented) |
//! | Events cursor endpoints `.../cursor/realtime/create` → `{"next_cursor"}`, `.../events/realtime/get` → `{"events","next_cursor"}`, `login` event type | confirmed (quip-api samples/events-api) |
//! | Without the add-on (`events_api = "not_found"` or `"forbidden"`): every Events route answers 404 or 403 with the error JSON | assumption (quip-api.md §7: 403 expected; a tenant without the route: 404) |
//! | `more_to_read`; batch `.../cursor/create?since_usec=&until_usec=` and `.../events/get`; page size 500 | assumption (batch variants reported) |
//! | Event fields `id`, `user_id`, `time_usec`, `ip_address` (kept in [`events::fields`]) | assumption |
//! | A realtime cursor sees only events recorded after it was created; batch cursors cover `since_usec <= time_usec < until_usec` (default until = now) in time order | assumption |
//! | Limits: Automation 50/min + 750/h per user, Admin 100/min + 1,500/h per user, 600/min per company, SCIM 600/min per company | confirmed (Quip docs) |
//! | Budgets are per user (a refreshed OAuth token shares its owner's); the company budget covers every non-SCIM route; SCIM has its own | confirmed per user (Quip docs); sharing details assumption |
//! | Headers `X-Ratelimit-Limit/-Remaining/-Reset`, `X-Company-RateLimit-*`, `X-Company-Retry-After`, `X-Scim-RateLimit-*`, `X-Scim-Retry-After`; resets in epoch seconds | confirmed (Quip docs) |
//! | Fixed windows aligned to the minute/hour; `X-Ratelimit-*` reports the window with the least remaining (ties: the later reset); SCIM routes send only `X-Scim-*` | assumption |
//! | Over budget: 503 `{"error_description":"Over Rate Limit"}` with the reset of the blocking window | confirmed (quip-api #44, commit 80b6873) |
//! | Or (`throttle_style = "status_429"`): 429 with `X-Ratelimit-Reset: 0` (`X-Scim-RateLimit-Reset: 0` on SCIM), same body | assumption (reported: sonnenkern/quip-export PR #45) |
//! | Throttled requests consume no budget | assumption (§11) |
//! | Unknown routes: 404 with the error JSON | assumption |
//!
//! Fault-injected answers ([`crate::faults::Fault::Status`]) come before authentication and
//! rate limiting, so they carry only the headers the fault names. Paging faults
//! ([`crate::faults::Fault::RepeatPage`], [`crate::faults::Fault::SkipPage`]) are applied
//! by the admin list, SCIM list and both events `get` routes: the page field of the
//! answer still names the requested page (or the cursor moves past it), so a client sees
//! duplicates or a gap, not an error.

mod admin;
mod automation;
mod config;
mod error;
pub mod events;
mod gate;
mod json;
mod params;
mod ratelimit;
mod scim;
mod state;

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::SandboxError;
use crate::datagen::Person;
use crate::faults::{self, Instrumentation};
use crate::server::RunningServer;

pub use config::{EventsApi, QuipConfig, QuipLimits, QuipOAuthConfig, ThrottleStyle};
pub use events::QuipEvent;
pub use state::QuipState;

use error::ApiError;
use state::Shared;

/// A running Quip emulator.
#[derive(Debug)]
pub struct QuipEmulator {
    server: RunningServer,
    config: QuipConfig,
    instrumentation: Instrumentation,
    state: QuipState,
}

impl QuipEmulator {
    /// Starts the emulator on loopback with these people in company `company_id`.
    ///
    /// Seeds one `login` event per person at `last_login_usec`, plus
    /// `config.older_logins_per_person` earlier ones.
    pub async fn start(
        config: QuipConfig,
        company_id: String,
        people: Vec<Person>,
    ) -> Result<Self, SandboxError> {
        let instrumentation = Instrumentation::default();
        let shared = Arc::new(Shared::new(
            &config,
            company_id,
            people,
            instrumentation.counters.clone(),
        ));
        let router = router(Arc::clone(&shared), instrumentation.clone());
        let server = RunningServer::start(router, config.port, "quip").await?;
        Ok(QuipEmulator {
            server,
            config,
            instrumentation,
            state: QuipState { shared },
        })
    }

    /// Base URL of the API (Automation, Admin, Events; SCIM is served here too).
    pub fn base_url(&self) -> String {
        self.server.url()
    }

    /// Base URL of SCIM (the same server; `/2/Users` lives under it).
    pub fn scim_base_url(&self) -> String {
        self.server.url()
    }

    /// The admin's bearer token (a sandbox value, not a secret).
    pub fn token(&self) -> &str {
        &self.config.token
    }

    /// The non-admin member's token, if configured (Automation API only).
    pub fn non_admin_token(&self) -> Option<&str> {
        self.config.non_admin_token.as_deref()
    }

    /// The SCIM bearer token.
    pub fn scim_token(&self) -> &str {
        self.config
            .scim_token
            .as_deref()
            .unwrap_or(&self.config.token)
    }

    /// The company id every Admin and Events call needs.
    pub fn company_id(&self) -> &str {
        self.state.company_id()
    }

    /// The configuration the emulator started with (run-time changes go through
    /// [`QuipState`] and are not reflected here).
    pub fn config(&self) -> &QuipConfig {
        &self.config
    }

    /// A handle on the state: read and change people, events, limits.
    pub fn state(&self) -> QuipState {
        self.state.clone()
    }

    /// Injected faults.
    pub fn faults(&self) -> &crate::faults::Faults {
        &self.instrumentation.faults
    }

    /// Request counters.
    pub fn counters(&self) -> &crate::faults::Counters {
        &self.instrumentation.counters
    }

    /// Stops the emulator.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The answer for routes this tenant does not have.
pub(crate) fn no_such_endpoint() -> ApiError {
    ApiError::not_found("No such endpoint")
}

async fn fallback() -> Response {
    no_such_endpoint().into_response()
}

fn router(shared: Arc<Shared>, instrumentation: Instrumentation) -> Router {
    let gated = Router::new()
        .route("/1/users/current", get(automation::current))
        .route("/1/users/contacts", get(automation::contacts))
        .route(
            "/1/users/",
            get(automation::bulk_get).post(automation::bulk_post),
        )
        .route("/1/users/{id_or_email}", get(automation::user))
        .route("/1/oauth/verify_token", get(automation::verify_token))
        .route("/1/admin/users/list", post(admin::list))
        .route("/1/admin/users/{id}", get(admin::user))
        .route("/1/admin/company/admin-roles", get(admin::roles))
        .route(
            "/1/admin/events/1/cursor/realtime/create",
            get(events::realtime_create),
        )
        .route(
            "/1/admin/events/1/events/realtime/get",
            get(events::realtime_get),
        )
        .route("/1/admin/events/1/cursor/create", get(events::batch_create))
        .route("/1/admin/events/1/events/get", get(events::batch_get))
        .route("/2/Users", get(scim::list))
        .route("/2/Users/{id}", get(scim::get).delete(scim::delete))
        .route_layer(from_fn_with_state(Arc::clone(&shared), gate::gate));
    Router::new()
        // Authenticated by client credentials in the body, not by a bearer token.
        .route("/1/oauth/access_token", post(automation::access_token))
        .merge(gated)
        .route_layer(from_fn_with_state(instrumentation, faults::layer))
        .fallback(fallback)
        .with_state(shared)
}
