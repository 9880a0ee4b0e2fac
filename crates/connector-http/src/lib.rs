//! The HTTP layer every vendor client builds on.
//!
//! One send path ([`HttpClient::send`]) holds what does not depend on the vendor:
//! per-attempt timeouts, which failures are transient and which requests are safe to
//! repeat ([`Idempotency`]), jittered exponential [`backoff`], `Retry-After` in seconds or
//! as an HTTP-date ([`retry_after`]), a cap on the total wait ([`WaitCaps`],
//! per run or per request), request and wait counters ([`sync_engine::ApiStats`]), an
//! injectable [`Clock`], a cap on response bodies, redirects refused (a redirect would
//! forward the credential), and URLs and headers that are safe to show ([`RedactedUrl`],
//! [`RedactedHeaders`]). A vendor plugs in through [`Vendor`]: its credential, its error
//! body ([`ApiBody`]), proactive pacing and the reading of its rate-limit headers. Errors
//! are one [`Error`] type: a box holding an [`ErrorKind`] and the [`RequestContext`], a
//! cause kept as a source and never repeated in the message. Listings are streams of
//! [`Page`]s ([`paginate`]) with a [`PageGuard`] against servers that never end them.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use connector_http::{
//!     ApiBody, Authorization, HttpClient, RedactedUrl, Request, RetryPolicy, Settings,
//!     SystemClock, Vendor, WaitCaps,
//! };
//! use secrecy::SecretString;
//!
//! /// The vendor's error body: its text, scrubbed.
//! #[derive(Debug)]
//! struct AcmeBody(String);
//!
//! impl std::fmt::Display for AcmeBody {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
//!         f.write_str(&self.0)
//!     }
//! }
//!
//! impl ApiBody for AcmeBody {
//!     const VENDOR: &'static str = "Acme";
//!     fn parse(bytes: &[u8], secrets: &[&str]) -> Self {
//!         let text = String::from_utf8_lossy(bytes).into_owned();
//!         AcmeBody(secrets.iter().fold(text, |t, s| t.replace(s, "[redacted]")))
//!     }
//!     fn is_empty(&self) -> bool {
//!         self.0.is_empty()
//!     }
//! }
//!
//! /// The vendor: its credential, default throttling rules.
//! struct Acme(Authorization);
//!
//! impl Vendor for Acme {
//!     type Tag = ();
//!     type Body = AcmeBody;
//!     fn authorize(&self, _: (), b: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
//!         self.0.apply(b)
//!     }
//!     fn secrets(&self) -> Vec<SecretString> {
//!         vec![self.0.secret().clone()]
//!     }
//! }
//!
//! # async fn demo() -> Result<(), connector_http::Error<AcmeBody>> {
//! let retry = RetryPolicy::new(
//!     5,
//!     30,
//!     (Duration::from_millis(500), Duration::from_secs(30)),
//!     WaitCaps::request(Duration::from_secs(120)),
//! );
//! let settings = Settings::new(
//!     (Duration::from_secs(30), Duration::from_secs(10)),
//!     "acme-sync/1",
//!     64 << 20,
//!     retry,
//! );
//! let vendor = Acme(Authorization::Bearer(SecretString::from("token")));
//! let client = HttpClient::new(settings, vendor, Arc::new(SystemClock))?;
//! let base = url::Url::parse("https://api.acme.example").expect("a URL");
//! let url = RedactedUrl::join(&base, &["v1", "users"], &[("limit", "100")]);
//! let users: serde_json::Value = client.send(&Request::get((), url)).await?.json()?;
//! println!("{users} ({} calls)", client.stats().calls);
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! No optional features. TLS is rustls (through reqwest).

mod backoff;
mod client;
mod clock;
mod error;
mod paging;
mod redact;

pub use backoff::{backoff, backoff_ceiling, jitter, retry_after};
pub use client::{
    Authorization, Body, HttpClient, Idempotency, Request, Response, RetryPolicy, Settings, Vendor,
    Verdict, Wait, WaitCaps, decode_json, default_verdict,
};
pub use clock::{Clock, ManualClock, SystemClock, from_epoch_secs};
pub use error::{ApiBody, Error, ErrorKind, RequestContext, human_bytes};
pub use paging::{Page, PageGuard, Repeats, items, paginate};
pub use redact::{PathAndQuery, RedactedHeaders, RedactedUrl, redirect_location};
