//! Oomnitza API client and the Oomnitza sync target.
//!
//! Two layers:
//!
//! - [`OomnitzaClient`]: a typed REST v3 client with one handler per API area —
//!   [`users()`](OomnitzaClient::users) (People, paged listing as a stream, safe
//!   [`Filter`]s, get/create/patch/delete, field metadata),
//!   [`saas()`](OomnitzaClient::saas) (applications),
//!   [`saas_users()`](OomnitzaClient::saas_users) (seats: assign, external ids,
//!   activate/deactivate with per-item results), [`roles()`](OomnitzaClient::roles) and
//!   [`bulk()`](OomnitzaClient::bulk) (connector portions and run logs). Every request has
//!   a timeout, runs under a concurrency limit and is retried on 429/5xx/timeouts with
//!   jittered exponential backoff and a cap on the total wait — except creates, which are
//!   never re-sent blindly: after a failure with unknown effect the record is looked up
//!   by its unique key first.
//! - [`OomnitzaTarget`]: implements [`sync_engine::Target`] for the `users` and
//!   `saas_users` collections, with two write strategies ([`WriteStrategy::Rest`],
//!   [`WriteStrategy::Bulk`]).
//!
//! The API token is a [`secrecy::SecretString`] sent raw as `Authorization2` (the header
//! value is marked sensitive); it never appears in `Debug`, `Display`, errors or logs.
//!
//! ```no_run
//! use oomnitza_client::{Auth, ClientConfig, Filter, OomnitzaClient, OomnitzaTarget, TargetConfig};
//! use futures::TryStreamExt;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ClientConfig::new("https://acme.oomnitza.com", Auth::token("…"))?;
//! let client = OomnitzaClient::new(config)?;
//!
//! // Every person carrying a Quip id, 1000 per request.
//! let owned: Vec<_> = client
//!     .users()
//!     .list()
//!     .filter(Filter::new().ne("quip_user_id", ""))
//!     .stream()
//!     .try_collect()
//!     .await?;
//! println!("{} people carry a Quip id", owned.len());
//!
//! // The sync target the engine drives.
//! let target = OomnitzaTarget::new(client, TargetConfig::new("Quip", "quip_user_id", "quip-oomnitza"));
//! # let _ = target;
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! No optional features. TLS is rustls (through reqwest); there is no OpenSSL.
//!
//! # Assumptions
//!
//! Where Oomnitza's behaviour is unconfirmed the crate follows the project's working
//! assumptions (`oomnitza-api.md` §13), each isolated in one place and documented in
//! `docs/api-notes.md` (## Oomnitza): filter quoting (see [`filter`]), paging stops on a
//! short page with `limit` ≤ 1000 ([`MAX_PAGE_SIZE`]), `suspended` as the People
//! deactivation flag ([`PeopleDeactivation`]), the bulk field ids ([`bulk_field_id`]), and
//! `last_visit` sent with seat assignments ([`SeatAssignment`]).

pub mod api;
mod client;
pub mod config;
pub mod error;
pub mod filter;
pub mod models;
mod settings;
pub mod target;
mod transport;

pub use api::bulk::bulk_field_id;
pub use client::OomnitzaClient;
pub use config::{
    Auth, ClientConfig, DEFAULT_MAX_PAGES, DEFAULT_MAX_RESPONSE_BYTES, MAX_PAGE_SIZE, RetryPolicy,
};
pub use connector_http::WaitCaps;
pub use error::{ApiErrors, Error, ErrorKind, RequestContext};
pub use filter::{Filter, FilterOp, FilterValue};
pub use models::{
    AssignResult, BulkUpload, FieldMeta, ItemResult, NewSaasApp, PortionDetails, PortionInfo,
    RoleAssignment, RoleOverwrite, RoleRef, RoleUserResult, RunLog, SaasApp, SaasRole, SaasUser,
    SeatAssignment, User, UsersMeta,
};
pub use settings::{OomnitzaDefaults, OomnitzaSection};
pub use target::{BulkRunSummary, OomnitzaTarget, PeopleDeactivation, TargetConfig, WriteStrategy};
