//! A typed SCIM 2.0 client (RFC 7643, RFC 7644) for any SCIM service provider.
//!
//! It reads a provider's users and groups for a source connector: discovery
//! (`/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`), `/Users` and `/Groups` as
//! checked page streams, single resources by id, filters built with correct quoting, and
//! attribute selection. It sends through `connector_http` (timeouts, retries with jittered
//! backoff, `Retry-After`, the wait cap, counters, the body cap, redirect refusal) and adds
//! SCIM's media type, credential and error body.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use scim_client::{Auth, ClientConfig, Filter, ScimClient, ScimErrorExt, FailureKind};
//! use secrecy::SecretString;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let base = url::Url::parse("https://api.slack.com/scim/v2")?;
//! let token = SecretString::from(std::env::var("SCIM_TOKEN")?);
//! let client = ScimClient::new(ClientConfig::new(base, Auth::Bearer(token)).page_size(100))?;
//!
//! let spc = client.discovery().service_provider_config().await?;
//! println!("filters supported: {}", spc.supports_filter());
//!
//! // Every user, or an error: an incomplete roster is never returned as complete.
//! let users = client.users().list().all().await?;
//! for user in &users {
//!     let department = user
//!         .attribute("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department");
//!     println!("{:?} {:?} {department:?}", user.user_name, user.primary_email());
//! }
//!
//! // A filtered stream; values are quoted and escaped for you.
//! let filter = Filter::eq("active", true).and(Filter::sw("emails.value", "ops@"));
//! let mut pages = client.users().list().filter(&filter).attributes(["userName"]).pages();
//! while let Some(page) = pages.try_next().await? {
//!     println!("{} of {:?}", page.resources.len(), page.total_results);
//! }
//!
//! match client.users().get("2819c223").send().await {
//!     Err(e) if e.failure() == FailureKind::NotFound => println!("gone"),
//!     other => println!("{:?}", other.map(|u| u.id)),
//! }
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! - **Discovery** — [`Discovery::service_provider_config`], [`Discovery::schemas`] and
//!   [`Discovery::resource_types`] (a list response or a bare array).
//! - **Listings** — [`ListRequest::pages`], [`ListRequest::items`], [`ListRequest::all`]
//!   with `startIndex`/`count` paging and the completeness checks described on
//!   [`ListRequest`]: a short, repeated, missing or misplaced page, a `totalResults` that
//!   changes or disagrees with what arrived, and the page limit each end the listing with
//!   [`FailureKind::Incomplete`].
//! - **Filters** — [`Filter`] (`eq ne co sw ew gt ge lt le pr`, `and`, `or`, `not`) writes
//!   values as JSON strings (`userName eq "a\"b"`) and checks attribute paths before
//!   anything is sent; [`ListRequest::attributes`] and
//!   [`ListRequest::excluded_attributes`].
//! - **Models** — [`User`] (core attributes, the enterprise extension, any other
//!   attribute in `extra`, [`User::attribute`] for configurable paths such as
//!   `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`), [`Group`],
//!   [`ListResponse`], the discovery documents. Every field but `id` is optional.
//! - **Errors** — one [`Error`] (`connector_http`'s, one pointer wide) carrying the decoded
//!   SCIM error ([`ScimErrorBody`], [`ScimError`], [`ScimType`]); [`ScimErrorExt::failure`]
//!   says what it means ([`FailureKind`]: auth, throttled, transient, not found, invalid
//!   filter, incomplete, ...). 429 waits for `Retry-After` (or backs off) and 500, 502,
//!   503, 504, timeouts and connection errors are retried, all within the wait cap.
//! - **Secrets** — [`Auth`] holds `secrecy` types; `Debug`, errors and logs never show
//!   them (response text is scrubbed; header values are marked sensitive).
//!
//! # Assumptions
//!
//! Where RFC 7643/7644 leave a choice to the provider, or providers are known to differ:
//!
//! - The base URL is the SCIM root (`.../scim/v2`); endpoints are appended to its path.
//! - `Accept: application/scim+json, application/json;q=0.9`; an answer whose
//!   `Content-Type` is neither (nor another `+json` type) is a decode error, a missing one
//!   is tolerated.
//! - `totalResults` is required on every page (as the RFC says) and must not change
//!   during a listing; the page echoes the `startIndex` asked for when it sends one.
//! - A server may cap `count`: the first page's size, when it is not the last page, is the
//!   page size in effect. Any later page of another size before `totalResults` is reached
//!   is an error rather than a guess.
//! - 429 is throttling (RFC 7644 names no rate limits; providers document 429 with
//!   `Retry-After`); 503 with `Retry-After` is honoured as a transient failure.
//! - `status` in an error body may be a string (RFC) or a number; `active` and `primary`
//!   may arrive as strings; `null` arrays read as empty; an absent `active` reads as
//!   active ([`User::is_active`]).
//! - Attribute names are matched as the RFC spells them when decoding; other spellings end
//!   up in `extra` and [`User::attribute`] matches names case-insensitively.
//! - Dates in `meta` are kept as text and parsed on demand (RFC 3339).

mod client;
mod config;
mod error;
mod filter;
mod list;
mod models;
mod transport;

pub use client::{Discovery, ScimClient};
pub use config::{
    Auth, ClientConfig, DEFAULT_MAX_PAGES, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_PAGE_SIZE,
    RetryPolicy,
};
pub use connector_http::{Clock, ManualClock, RedactedUrl, SystemClock, WaitCaps};
pub use error::{
    ERROR_SCHEMA, Error, ErrorKind, FailureKind, RequestContext, ScimError, ScimErrorBody,
    ScimErrorExt, ScimType,
};
pub use filter::{CompValue, Filter, Op};
pub use list::{GetRequest, ListRequest, Resource, Resources};
pub use models::{
    AuthenticationScheme, BulkSupport, ENTERPRISE_USER_SCHEMA, Email, EnterpriseUser,
    FilterSupport, GROUP_SCHEMA, Group, LIST_RESPONSE_SCHEMA, ListResponse, Manager, Meta,
    MultiValue, Name, ResourceRef, ResourceType, Role, Schema, SchemaAttribute, SchemaExtension,
    ServiceProviderConfig, Supported, USER_SCHEMA, User, attribute,
};
