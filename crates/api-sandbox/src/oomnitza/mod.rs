//! The Oomnitza emulator: REST v3 People, SaaS applications, SaaS users and roles, field
//! metadata, and the connector portion (bulk) API, with fault injection and counters.
//!
//! It follows the vendor documentation summarised in `oomnitza-api.md` (sources: the
//! vendor's OpenAPI spec "OAS", help-centre articles "ZD", Oomnitza's own connector "OC")
//! and, where the vendor is silent, the project's shared working assumptions (§13 of that
//! file). Every behaviour below is labelled with where it comes from.
//!
//! ```no_run
//! # async fn demo() -> Result<(), api_sandbox::SandboxError> {
//! use api_sandbox::oomnitza::{OomnitzaConfig, OomnitzaEmulator};
//!
//! let oomnitza = OomnitzaEmulator::start(OomnitzaConfig::default()).await?;
//! // Requests carry `Authorization2: <token>`; tests also read and change state directly:
//! let state = oomnitza.state();
//! state.add_person(serde_json::json!({"username": "jane", "email": "jane@acme.example"}))
//!     .expect("a valid person");
//! assert_eq!(state.people_count(), 1);
//! oomnitza.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Behaviours
//!
//! | Behaviour | Source |
//! |---|---|
//! | `Authorization2: <raw token>` authenticates | confirmed (OAS, ZD-REST, OC) |
//! | HTTP Basic `Authorization: Basic …` authenticates (configured user/password) | confirmed (OAS) |
//! | `Authorization: Bearer …` is refused | assumption (undocumented, §3) |
//! | 401 body `{"errors":["Authentication failure"]}` | assumption (§13 error shape) |
//! | `GET/POST /api/v3/users`, `GET/PATCH/DELETE /api/v3/users/{ident}`; no PUT | confirmed (OAS) |
//! | Lists return a bare JSON array; details one object | confirmed (OAS) |
//! | `limit`, `skip`, `sortby` (`field asc\|desc`), `filter`, `fields` | confirmed (OAS, ZD-REST) |
//! | `limit` defaults to 100 and is silently capped at 1000; `limit=0` or non-numbers → 400 | assumption (§13) |
//! | `X-Total-Count` header on lists (number of matches) | reported (CA); a hint only |
//! | Filter `field eq 'v'`, parenthesised clauses joined with `and`, `gt` | confirmed (OC) |
//! | Filter `ne`, `lt`, `or`; `''` escapes a quote; numbers and `true`/`false`/`null` bare; literals converted to the field's type; `eq ''` matches empty and null; comparisons case-sensitive | assumption |
//! | Unknown filter/sort field or bad syntax → 400 `{"errors":["filter: …"]}` | assumption (§13) |
//! | `ident` is a `user_id` or a `username` | assumption (§13; CA passes usernames) |
//! | `user_id` is a 32-hex string, `uid` an integer; they differ on purpose | assumption (types from OAS) |
//! | `POST /users` → 200 with the record; `PATCH` → 200 record; `DELETE` → 200 removed record | assumption (§13; OAS says 200 with detail) |
//! | Server-managed fields (`uid`, `user_id`, dates, `created_by`, `changed_by`, `version`, `last_login_date`) cannot be written: 400 unless the value is unchanged | assumption |
//! | `suspended` defaults to `false`; `full_name` is derived from first and last name unless written | assumption |
//! | `version` increases and `change_date`/`changed_by` move only when a value changes | assumption |
//! | Unknown body field → 400 `{"errors":{"field":["unknown field"]}}`; wrong type → 400 per field | assumption (§13) |
//! | Text fields hold at most 256 characters (Short Text) | confirmed (ZD-CF) |
//! | Dates accept Unix seconds or ISO 8601 (offsets ignored); served as Unix seconds | confirmed (ZD-REST, OAS) for input; output form assumption |
//! | `unique: "1"` fields enforced on create and update; duplicate → 409 `{"errors":{"f":["'v' already exists"]}}`; empty/null never collide; exact (case-sensitive) match | unique flag confirmed (ZD-CF); status and body assumption (§13) |
//! | `username` is unique and mandatory | assumption |
//! | `editable: "0"` fields need `Oomnitza-Ignore-Meta-Restriction: 1` on REST writes (else 400); connectors (bulk) may write them | header confirmed (OAS, ZD-REST); need for it assumption (§4) |
//! | `GET /api/v3/users/meta` keyed by `external_id` with `uid`, `internal_id`, `label`, `belongs_to`, `data_type`, `editable`, `optional`, `unique`, … | keys confirmed (OAS); path and `"1"`/`"0"` strings assumption (§13) |
//! | Custom field `quip_user_id` ("Quip User Id", unique, not editable) exists by default | assumption (§13; configurable) |
//! | Built-in fields have readable bulk ids (`USER`, `EMAIL`, `PERMISSIONS_ID`, …); custom fields 32-hex ids | confirmed (ZD-MAP, OC) |
//! | `GET/POST /api/v3/saas`, `GET /api/v3/saas/{id}`; POST → 201 `{"saas_id":"4"}` (string) | confirmed (OAS) |
//! | Find an app with `filter=saas_name eq 'Quip'`; names may repeat | assumption |
//! | Apps `Slack`, `Zoom`, `Box` exist at start (so a new app gets id 4) | sandbox choice (configurable) |
//! | `GET /api/v3/saas/{id}/users`, `GET /api/v3/saas_users` return `SaaS assigned User` objects | confirmed (OAS) |
//! | Seats also carry `saas_user_id`, `saas_id`, `status` (`active`/`inactive`); `roles` is one object or null | assumption (§13) |
//! | `roles` (comma-separated ids/labels) and `last_visit` (at or after, Unix seconds or ISO) query filters; `text` searches names, email, external id | parameters confirmed (OAS); semantics assumption |
//! | `POST /api/v3/saas/{id}/users` `[{"user_id","assign","last_visit"?}]`: `assign:true` creates an active seat or updates `last_visit`; `assign:false` removes it; 200 with per-item `{"user_id","saas_user_id","error"}` | body confirmed (OAS); `last_visit` write, status and response assumption |
//! | Assigning never reactivates an inactive seat; only `activate` does | assumption |
//! | `POST /api/v3/saas/{id}/users/{user_id}` `{"user_external_id"}` → `{"user_external_id","errors":[]}`, problems inside the 200 | confirmed (OAS) |
//! | `PATCH /api/v3/saas_users/activate\|deactivate` `{"saas_user_ids":[…]}` → 200 per-item `{"saas_user_id","error":null\|"not found"}` | confirmed (OAS); error text assumption |
//! | `GET/POST /api/v3/saas/{id}/roles`; POST → 201 with the role; `role_external_id` defaults to the label; duplicate id → 409 | endpoints confirmed (OAS); the rest assumption |
//! | `POST /roles/users` `{"users":[user_id…],"roles":[role_id…]}` (arrays of strings) assigns one role to seats without another role; `PATCH` `{"users":"<one user_id>","roles":[{"role_external_id","role_external_label"}]}` overwrites one person's roles (empty list clears; a role value the application lacks is created); `DELETE` unassigns (204); per-item results `{"user_id","error"}` | bodies and role creation on PATCH confirmed (OAS); one-role model, role strings as ids, and results assumption |
//! | Request bodies of the SaaS operations follow the OAS schemas (types, required fields, one id versus an array); a violation → 400 `{"errors":{"field":["…"]}}` (see `schema.rs`) | schemas confirmed (OAS); status and shape assumption (§13) |
//! | `POST /api/v3/saas` requires `saas_name`, `linked`, `link_key`, `source`, `ignored`; the server fills `hash`, dates and actors | required list confirmed (OAS); server-managed fields assumption |
//! | Deleting a person removes their seats | assumption |
//! | `POST /api/v3/bulk` payload (`sync_field` list, upper-case `records`, `portion`, `insert_only`/`update_only`, `error`, `test_run`, `connector_name`/`connector_id`) | confirmed (OC) |
//! | Server-side upsert: the first `sync_field` (in order) with a value that matches a person wins; otherwise a new person | confirmed (OC, ZD); tie rules assumption |
//! | Bulk ids: `USER`→`username`, `EMAIL`, `FIRST_NAME`, `LAST_NAME`, any metadata `internal_id` (so `PERMISSIONS_ID`→`role`); lower-case `external_id`s accepted too | §13 mapping; lower-case ids assumption |
//! | `insert_only`+`update_only` both true → 400; strings `"true"`/`"false"` accepted | exclusivity confirmed (OC); status assumption |
//! | Bulk unique conflicts and bad values fail the record (kept in the portion), not the request | assumption |
//! | `test_run: true` computes outcomes without writing | assumption |
//! | Records' `SAAS` object (`selected_saas_id`, `sync_key`) assigns a seat | confirmed (OC managed mode); effect assumption |
//! | Upload response `{"portion","records","added","updated","unchanged","skipped","failed"}` (OC ignores it) | assumption |
//! | Uploads to a canceled or finalized portion → 400 | assumption |
//! | `GET /api/v3/bulk/{portion}` → 200 `{"canceled":false,…}` even before the first upload | confirmed (OC) |
//! | `POST /api/v3/bulk/{portion}/finalize` closes it and writes one run log; repeating returns the same log | finalize confirmed (OC); idempotence assumption |
//! | `GET /api/v3/connector_run_logs/{connector}` run logs `{portion_id, start_time, end_time, connector, status, test_run, added/updated/skipped_records_count, error_logs_count, …}` | confirmed (OAS); `status` values and `unchanged_records_count` assumption |
//! | `GET /api/v3/connector_run_logs/connectors/{portion}` `objects`/`logs` details | shape confirmed (OAS); ident = portion id assumption |
//! | `GET /api/v2/mappings` → `{}` (the connector's auth check) | confirmed (OC) |
//! | Unknown path → 404 `{"errors":["not found"]}`; unknown object → 404 `{"errors":["not found"]}` | assumption (§13 shape) |
//!
//! Every route passes through [`crate::faults::layer`]: it is counted by method, route
//! template and status, and can be hit by injected faults. The list handlers
//! (`/api/v3/users`, `/api/v3/saas`, both SaaS users lists, run logs) honour repeated and
//! skipped pages.

mod bulk;
mod fields;
mod filter;
mod http;
mod saas;
mod schema;
mod state;

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, patch, post};
use serde::{Deserialize, Serialize};

pub use bulk::{Outcome, Portion, PortionError, RecordOutcome, RunLog};
pub use fields::{CustomField, DataType};
pub use saas::{SaasRole, SaasSeat, SeatStatus};
pub use state::{OomnitzaState, StateError};

use crate::SandboxError;
use crate::clock::{Clock, SystemClock};
use crate::faults::Instrumentation;
use crate::server::RunningServer;

/// Configuration of the Oomnitza emulator.
///
/// `Debug` leaves out the token and the password: they are sandbox values, but a
/// configuration printed next to real credentials should never show one.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OomnitzaConfig {
    /// Port on 127.0.0.1; 0 lets the OS choose.
    pub port: u16,
    /// The API token the emulator accepts in `Authorization2` (a sandbox value).
    pub token: String,
    /// User name accepted with HTTP Basic.
    pub basic_user: String,
    /// Password accepted with HTTP Basic (a sandbox value).
    pub basic_password: String,
    /// Name recorded in `created_by`/`changed_by` for token requests.
    pub api_user: String,
    /// Custom People fields. Default: `quip_user_id` (unique, not editable); remove it or
    /// make it non-unique to exercise clients' checks.
    pub custom_fields: Vec<CustomField>,
    /// SaaS applications that exist at start.
    pub saas_apps: Vec<String>,
    /// The contract an admin entered for applications of these names: an application
    /// created with one of the names (at start or through the API) carries its
    /// `annual_spend` and `total_licenses`. Default: `Quip`, 36,000 a year for 300
    /// licences (120 per seat).
    pub saas_spend: Vec<SaasSpend>,
    /// `limit` when a list request gives none.
    pub default_limit: usize,
    /// Largest `limit` honoured; larger values are silently capped.
    pub max_limit: usize,
}

impl Default for OomnitzaConfig {
    fn default() -> Self {
        OomnitzaConfig {
            port: 0,
            token: "sandbox-oomnitza-token".to_owned(),
            basic_user: "sandbox-admin".to_owned(),
            basic_password: "sandbox-password".to_owned(),
            api_user: "api-token-user".to_owned(),
            custom_fields: vec![CustomField::quip_user_id()],
            saas_apps: vec!["Slack".to_owned(), "Zoom".to_owned(), "Box".to_owned()],
            saas_spend: vec![SaasSpend {
                saas_name: "Quip".to_owned(),
                annual_spend: 36_000.0,
                total_licenses: 300,
            }],
            default_limit: 100,
            max_limit: 1000,
        }
    }
}

/// What an application costs, as an admin records it in Oomnitza.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaasSpend {
    /// The application's name (compared without case).
    pub saas_name: String,
    /// Yearly spend.
    pub annual_spend: f64,
    /// Licences bought.
    pub total_licenses: u64,
}

impl std::fmt::Debug for OomnitzaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OomnitzaConfig")
            .field("port", &self.port)
            .field("token", &"[redacted]")
            .field("basic_user", &self.basic_user)
            .field("basic_password", &"[redacted]")
            .field("api_user", &self.api_user)
            .field("custom_fields", &self.custom_fields)
            .field("saas_apps", &self.saas_apps)
            .field("saas_spend", &self.saas_spend)
            .field("default_limit", &self.default_limit)
            .field("max_limit", &self.max_limit)
            .finish()
    }
}

impl OomnitzaConfig {
    /// Without the default `quip_user_id` field (to test a missing unique field).
    #[must_use]
    pub fn without_quip_user_id(mut self) -> Self {
        self.custom_fields
            .retain(|f| f.external_id != "quip_user_id");
        self
    }

    /// With `quip_user_id` present but not unique.
    #[must_use]
    pub fn with_non_unique_quip_user_id(mut self) -> Self {
        for field in &mut self.custom_fields {
            if field.external_id == "quip_user_id" {
                field.unique = false;
            }
        }
        self
    }
}

/// A running Oomnitza emulator.
#[derive(Debug)]
pub struct OomnitzaEmulator {
    server: RunningServer,
    config: OomnitzaConfig,
    instrumentation: Instrumentation,
    state: OomnitzaState,
}

impl OomnitzaEmulator {
    /// Starts the emulator on loopback with the machine's clock.
    pub async fn start(config: OomnitzaConfig) -> Result<Self, SandboxError> {
        Self::start_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Starts the emulator with `clock` for creation/change dates and run-log times.
    pub async fn start_with_clock(
        config: OomnitzaConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SandboxError> {
        let instrumentation = Instrumentation::default();
        let state = OomnitzaState::new(state::Inner::new(
            clock,
            &config.custom_fields,
            &config.saas_spend,
            &config.saas_apps,
        ));
        let router = router(&config, state.clone(), instrumentation.clone());
        let server = RunningServer::start(router, config.port, "oomnitza").await?;
        Ok(OomnitzaEmulator {
            server,
            config,
            instrumentation,
            state,
        })
    }

    /// Base URL (`/api/v3/...` lives below it).
    pub fn base_url(&self) -> String {
        self.server.url()
    }

    /// The accepted `Authorization2` token (a sandbox value, not a secret).
    pub fn token(&self) -> &str {
        &self.config.token
    }

    /// The accepted HTTP Basic user and password (sandbox values).
    pub fn basic_credentials(&self) -> (&str, &str) {
        (&self.config.basic_user, &self.config.basic_password)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &OomnitzaConfig {
        &self.config
    }

    /// A handle on the state (cheap to clone).
    pub fn state(&self) -> OomnitzaState {
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

fn router(config: &OomnitzaConfig, state: OomnitzaState, inst: Instrumentation) -> Router {
    let auth = Arc::new(http::AuthConfig {
        token: config.token.clone(),
        basic_user: config.basic_user.clone(),
        basic_password: config.basic_password.clone(),
        api_user: config.api_user.clone(),
    });
    let app = http::AppState {
        state,
        limits: http::Limits {
            default: config.default_limit.max(1),
            max: config.max_limit.max(1),
        },
    };
    Router::new()
        .route(
            "/api/v3/users",
            get(http::list_users).post(http::create_user),
        )
        .route("/api/v3/users/meta", get(http::users_meta))
        .route(
            "/api/v3/users/{ident}",
            get(http::get_user)
                .patch(http::patch_user)
                .delete(http::delete_user),
        )
        .route("/api/v3/saas", get(saas::list_apps).post(saas::create_app))
        .route("/api/v3/saas/{ident}", get(saas::get_app))
        .route(
            "/api/v3/saas/{ident}/users",
            get(saas::list_app_users).post(saas::assign_users),
        )
        .route(
            "/api/v3/saas/{ident}/users/{user_id}",
            post(saas::set_external_id),
        )
        .route(
            "/api/v3/saas/{ident}/roles",
            get(saas::list_roles).post(saas::create_role),
        )
        .route(
            "/api/v3/saas/{ident}/roles/users",
            post(saas::assign_roles)
                .patch(saas::overwrite_roles)
                .delete(saas::unassign_roles),
        )
        .route("/api/v3/saas_users", get(saas::list_saas_users))
        .route("/api/v3/saas_users/activate", patch(saas::activate))
        .route("/api/v3/saas_users/deactivate", patch(saas::deactivate))
        .route("/api/v3/bulk", post(bulk::upload))
        .route("/api/v3/bulk/{portion}", get(bulk::portion_info))
        .route("/api/v3/bulk/{portion}/finalize", post(bulk::finalize))
        .route(
            "/api/v3/connector_run_logs/{connector}",
            get(bulk::run_logs),
        )
        .route(
            "/api/v3/connector_run_logs/connectors/{ident}",
            get(bulk::run_log_details),
        )
        .route("/api/v2/mappings", get(http::mappings))
        // Authentication inside, fault injection and counting outside: 401s are counted.
        .route_layer(from_fn_with_state(auth, http::auth_layer))
        .route_layer(from_fn_with_state(inst, crate::faults::layer))
        .fallback(http::not_found)
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_and_debug_hides_credentials() {
        let config = OomnitzaConfig {
            token: "CANARY-oomnitza-token-7f3a".to_owned(),
            basic_password: "CANARY-password-91be".to_owned(),
            ..OomnitzaConfig::default().with_non_unique_quip_user_id()
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("CANARY"), "{debug}");
        let json = serde_json::to_string(&config).unwrap();
        let back: OomnitzaConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.token, config.token);
        assert_eq!(back.custom_fields, config.custom_fields);
        assert!(!back.custom_fields[0].unique);
        let partial: OomnitzaConfig =
            serde_json::from_str(r#"{"max_limit": 50, "custom_fields": [{"external_id": "x"}]}"#)
                .unwrap();
        assert_eq!(partial.max_limit, 50);
        assert_eq!(partial.default_limit, 100);
        assert_eq!(partial.custom_fields[0].data_type, DataType::String);
        assert!(
            OomnitzaConfig::default()
                .without_quip_user_id()
                .custom_fields
                .is_empty()
        );
    }
}
