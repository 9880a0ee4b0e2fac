//! A rate-limit-aware client for Quip's user APIs, and the Quip source connector.
//!
//! Quip has no single "list every user" call on its Automation API and tight limits
//! (Automation 50/min and 750/h per user, Admin 100/min and 1,500/h, 600/min per company,
//! SCIM 600/min). This crate lists users through SCIM or the Admin API, enriches them with
//! bulk lookups of 1,000, and reads roles and last logins, while pacing itself from
//! Quip's rate-limit headers so a long listing never hits the wall. Facts and assumptions:
//! `docs/api-notes.md` (section "Quip") and the project's `quip-api.md`.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use quip_client::{ClientConfig, QuipClient, QuipSource, QuipSourceConfig, Listing};
//! use secrecy::SecretString;
//! use sync_engine::{NoProgress, Source};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ClientConfig::new(SecretString::from(std::env::var("QUIP_TOKEN")?))
//!     .base_url("https://platform.acme.onquip.com");
//! let client = QuipClient::new(config)?;
//!
//! // The API areas, one handler each; paged lists are streams.
//! let me = client.users().current().await?;
//! let company = me.company_id.clone().unwrap_or_default();
//! let users: Vec<_> = client.admin().list_users(&company).collect().await?;
//! println!("{} users, {} API calls", users.len(), client.stats().calls);
//!
//! // The engine's source connector.
//! let source = QuipSource::new(client, QuipSourceConfig::new(Listing::Scim));
//! let snapshot = source.read(&NoProgress).await?;
//! println!("complete: {}", snapshot.completeness.is_complete());
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! - **API areas** — [`QuipClient::users`] (current user, one user, bulk lookup with
//!   per-entry errors, contacts), [`QuipClient::admin`] (list users as a stream, user
//!   information, admin roles), [`QuipClient::scim`] (list as a stream, find by email),
//!   [`QuipClient::events`] (cursors, `login` events folded to the newest per user),
//!   [`QuipClient::oauth`] (refresh, verify). Typed models tolerate unknown fields and
//!   treat every field except `id` as optional.
//! - **One send path** — `Authorization: Bearer` (marked sensitive), form-encoded POST
//!   bodies, proactive pacing from `X-Ratelimit-*`, `X-Company-RateLimit-*`,
//!   `X-Scim-RateLimit-*` and retry-after headers; 429 and 503 "Over Rate Limit" wait for
//!   the reset (61 s when it is 0 or missing); other 5xx, timeouts and connection errors
//!   back off with jitter; other 4xx are final; a cap on total waiting per run; counters
//!   ([`sync_engine::ApiStats`]). Time goes through an injectable [`Clock`]. The send path
//!   itself (retries, backoff, the wait cap, counters, body cap, redirect refusal) is
//!   `connector_http`'s; this crate adds Quip's hosts, tokens, pacing and throttling rules.
//! - **Errors** — one [`QuipError`] (`connector_http`'s error, boxed [`ErrorKind`] and
//!   request context) keeping the HTTP status and Quip's [`ApiErrorBody`], naming the JSON
//!   path of decode failures, never holding a token; converts into
//!   [`sync_engine::ConnectorError`].
//! - **Source** — [`QuipSource`] implements [`sync_engine::Source`] (`quip`), offering the
//!   fields of [`quip_fields`]; a page that fails for good makes the read incomplete.

mod admin;
mod client;
mod config;
mod error;
mod events;
mod models;
mod oauth;
mod ratelimit;
mod scim;
mod settings;
mod source;
mod transport;
mod users;

pub use admin::{AdminHandler, AdminListUsers};
pub use client::QuipClient;
pub use config::{
    ClientConfig, DEFAULT_BASE_URL, DEFAULT_MAX_PAGES, DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_SCIM_URL, RetryPolicy,
};
pub use connector_http::{Clock, RedactedUrl, SystemClock, WaitCaps};
pub use error::{ApiErrorBody, ErrorKind, QuipError};
pub use events::{CursorKind, EventFieldNames, EventsHandler, OpenCursor, fold_logins};
pub use models::{
    AdminRole, AdminRoles, AdminUserInfo, AdminUserPage, BulkEntry, BulkLookup, Event, EventCursor,
    EventPage, ScimEmail, ScimListResponse, ScimMeta, ScimName, ScimUser, TokenResponse, User,
};
pub use oauth::{OAuthHandler, RefreshRequest, TokenInfo};
pub use ratelimit::{ApiClass, RateLimitHeaders, Window};
pub use scim::{ScimHandler, ScimListUsers};
pub use settings::QuipSection;
pub use source::{
    EventsConfig, LAST_ACTIVITY_FIELDS, Listing, QuipSource, QuipSourceConfig, ROLE_FIELDS,
    RoleSource, quip_fields,
};
pub use users::{BULK_LIMIT, UsersHandler};
