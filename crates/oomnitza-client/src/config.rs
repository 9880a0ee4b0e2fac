//! Client configuration: where the tenant is, how to authenticate, timeouts, concurrency,
//! retries and page size.

use std::fmt;
use std::time::Duration;

use connector_http::WaitCaps;
use secrecy::SecretString;
use url::Url;

use crate::error::Error;

/// The largest page the client asks for.
///
/// Working assumption (`oomnitza-api.md` §13): the server silently caps `limit` at 1000, and a
/// page shorter than the limit actually applied ends a listing. Asking for more than the cap
/// would make a full 1000-record page look short, so the client never asks for more.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// The default cap on one response body: 64 MiB.
///
/// A page of 1,000 People with a few dozen custom fields is well under 2 MiB; 64 MiB leaves
/// room for very wide records while keeping a hostile or broken server from exhausting
/// memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// The default cap on the pages of one listing: 1,000.
///
/// At 1,000 records a page that is a million People or seats, far beyond the largest
/// tenants; Oomnitza's own connector treats more than 1,000 pages as runaway pagination.
pub const DEFAULT_MAX_PAGES: u32 = 1000;

/// How the client authenticates.
///
/// `Debug` never shows the secret (it is a [`SecretString`]).
#[derive(Clone)]
pub enum Auth {
    /// An Oomnitza API token, sent raw (no `Bearer`) as the `Authorization2` header.
    Token(SecretString),
    /// HTTP Basic with an Oomnitza user name and password.
    Basic {
        /// The user name (not secret).
        user: String,
        /// The password.
        password: SecretString,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Token(_) => f.write_str("Auth::Token([REDACTED])"),
            Auth::Basic { user, .. } => f
                .debug_struct("Auth::Basic")
                .field("user", user)
                .field("password", &"[REDACTED]")
                .finish(),
        }
    }
}

impl Auth {
    /// An API token sent as `Authorization2`.
    pub fn token(token: impl Into<String>) -> Self {
        Auth::Token(SecretString::from(token.into()))
    }

    /// HTTP Basic credentials.
    pub fn basic(user: impl Into<String>, password: impl Into<String>) -> Self {
        Auth::Basic {
            user: user.into(),
            password: SecretString::from(password.into()),
        }
    }
}

/// When and how often to retry a request that failed for a transient reason.
///
/// Retried: 429, 500, 502, 503, 504, timeouts and connection failures, with exponential
/// backoff and equal jitter ([`connector_http::backoff`]; a 429/503 `Retry-After` in
/// seconds or as an HTTP-date takes precedence). A
/// non-idempotent create is only re-sent when the server cannot have processed it (429 or
/// a connection that never opened); other failures go back to the caller, which looks the
/// record up before sending it again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retries).
    pub max_retries: u32,
    /// Backoff before the first retry; doubled for every further retry.
    pub base_delay: Duration,
    /// Upper bound of one backoff.
    pub max_delay: Duration,
    /// Caps on waiting between attempts, per request and over the run (the client's
    /// life); when the next wait would exceed one the request fails instead of hanging.
    pub wait_caps: WaitCaps,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // Oomnitza's own connector retries up to 10 times with factor 0.5 s; we retry
        // fewer times but cap the total, so a dead tenant fails a run in about a minute.
        RetryPolicy {
            max_retries: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            wait_caps: WaitCaps {
                run: Some(Duration::from_secs(30 * 60)),
                request: Some(Duration::from_secs(120)),
            },
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// Sets the number of retries.
    #[must_use]
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets the first backoff and the per-wait cap.
    #[must_use]
    pub fn with_delays(mut self, base: Duration, max: Duration) -> Self {
        self.base_delay = base;
        self.max_delay = max;
        self
    }

    /// Sets the caps on waiting.
    #[must_use]
    pub fn with_wait_caps(mut self, caps: WaitCaps) -> Self {
        self.wait_caps = caps;
        self
    }
}

/// Everything the client needs to talk to one Oomnitza tenant.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The tenant, e.g. `https://acme.oomnitza.com` (the `/api/v3/...` paths go below it).
    pub base_url: Url,
    /// How to authenticate.
    pub auth: Auth,
    /// Timeout of one attempt, from sending to the last byte of the body.
    pub timeout: Duration,
    /// Timeout of opening a connection.
    pub connect_timeout: Duration,
    /// Requests in flight at once, across all handlers of this client.
    pub concurrency: usize,
    /// Retry policy for transient failures.
    pub retry: RetryPolicy,
    /// Records per page when listing (clamped to `1..=1000`, see [`MAX_PAGE_SIZE`]).
    pub page_size: u32,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Largest response body accepted; a larger one fails the request (not retried)
    /// without reading the rest.
    pub max_response_bytes: u64,
    /// Most pages one listing may take; one more fails the listing.
    pub max_pages: u32,
}

impl ClientConfig {
    /// A configuration with defaults: 30 s timeout, 10 s connect timeout, 8 requests in
    /// flight, the default [`RetryPolicy`], pages of 1000, bodies up to
    /// [`DEFAULT_MAX_RESPONSE_BYTES`], listings up to [`DEFAULT_MAX_PAGES`] pages.
    ///
    /// Fails when the URL does not parse, is not http(s), or carries a user name or
    /// password (credentials belong in [`Auth`], never in a URL that may be logged).
    pub fn new(base_url: &str, auth: Auth) -> Result<Self, Error> {
        let mut url = Url::parse(base_url)
            .map_err(|e| Error::config(format!("the Oomnitza base URL does not parse: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::config(format!(
                "the Oomnitza base URL must be http or https, not {}",
                url.scheme()
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::config(
                "the Oomnitza base URL must not contain a user name or password; use Auth::Basic"
                    .to_owned(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::config(
                "the Oomnitza base URL must not contain a query or fragment".to_owned(),
            ));
        }
        // Paths are appended below the base: make sure it ends with a slash.
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(ClientConfig {
            base_url: url,
            auth,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            concurrency: 8,
            retry: RetryPolicy::default(),
            page_size: MAX_PAGE_SIZE,
            user_agent: concat!("quip-oomnitza/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_pages: DEFAULT_MAX_PAGES,
        })
    }

    /// Sets the per-attempt timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the connect timeout.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how many requests may be in flight at once (at least 1).
    #[must_use]
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the page size (clamped to `1..=1000`).
    #[must_use]
    pub fn with_page_size(mut self, n: u32) -> Self {
        self.page_size = n.clamp(1, MAX_PAGE_SIZE);
        self
    }

    /// Sets the largest response body accepted (at least 1 byte).
    #[must_use]
    pub fn with_max_response_bytes(mut self, n: u64) -> Self {
        self.max_response_bytes = n.max(1);
        self
    }

    /// Sets the most pages one listing may take (at least 1).
    #[must_use]
    pub fn with_max_pages(mut self, n: u32) -> Self {
        self.max_pages = n.max(1);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_gets_trailing_slash_and_rejects_userinfo() {
        let c = ClientConfig::new("https://acme.oomnitza.com", Auth::token("t")).unwrap();
        assert_eq!(c.base_url.as_str(), "https://acme.oomnitza.com/");
        let c = ClientConfig::new("http://127.0.0.1:99/prefix", Auth::token("t")).unwrap();
        assert_eq!(c.base_url.as_str(), "http://127.0.0.1:99/prefix/");
        let e = ClientConfig::new("https://u:p@acme.oomnitza.com", Auth::token("t")).unwrap_err();
        assert!(e.to_string().contains("must not contain a user name"));
        assert!(!e.to_string().contains("u:p"));
        assert!(ClientConfig::new("ftp://x", Auth::token("t")).is_err());
        assert!(ClientConfig::new("not a url", Auth::token("t")).is_err());
    }

    #[test]
    fn page_size_is_clamped() {
        let c = ClientConfig::new("https://a.oomnitza.com", Auth::token("t")).unwrap();
        assert_eq!(c.clone().with_page_size(5000).page_size, 1000);
        assert_eq!(c.with_page_size(0).page_size, 1);
    }

    #[test]
    fn auth_debug_redacts() {
        let a = Auth::token("CANARY-abc");
        assert!(!format!("{a:?}").contains("CANARY"));
        let b = Auth::basic("admin", "CANARY-pw");
        let d = format!("{b:?}");
        assert!(d.contains("admin") && !d.contains("CANARY"));
    }
}
