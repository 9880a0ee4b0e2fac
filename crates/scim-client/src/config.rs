//! Client configuration: the base URL, the credential, timeouts, page size and limits, and
//! the retry policy.

use std::fmt;
use std::time::Duration;

use connector_http::WaitCaps;
use secrecy::SecretString;
use url::Url;

/// Resources asked for per page (`count`) unless configured: 100.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// The default cap on the pages of one listing: 10,000 (a million users at 100 a page).
pub const DEFAULT_MAX_PAGES: u64 = 10_000;

/// The default cap on one response body: 64 MiB (a page of 100 users is far below 1 MiB;
/// the limit only stops a broken or hostile server from exhausting memory).
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 << 20;

/// The credential every request carries. `Debug` never shows the secret.
#[derive(Clone)]
#[non_exhaustive]
pub enum Auth {
    /// `Authorization: Bearer <token>` (RFC 6750), what most SCIM services issue.
    Bearer(SecretString),
    /// HTTP Basic.
    Basic {
        /// The user name (not secret).
        user: String,
        /// The password.
        password: SecretString,
    },
}

impl Auth {
    /// A bearer token.
    pub fn bearer(token: impl Into<SecretString>) -> Self {
        Auth::Bearer(token.into())
    }

    /// HTTP Basic.
    pub fn basic(user: impl Into<String>, password: impl Into<SecretString>) -> Self {
        Auth::Basic {
            user: user.into(),
            password: password.into(),
        }
    }

    pub(crate) fn authorization(&self) -> connector_http::Authorization {
        match self {
            Auth::Bearer(t) => connector_http::Authorization::Bearer(t.clone()),
            Auth::Basic { user, password } => connector_http::Authorization::Basic {
                user: user.clone(),
                password: password.clone(),
            },
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer([redacted])"),
            Auth::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &"[redacted]")
                .finish(),
        }
    }
}

/// Retries, backoff and the cap on waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts per request for transient failures (5xx, timeouts, connection errors), the
    /// first one included.
    pub max_attempts: u32,
    /// Throttled (429) answers tolerated per request before giving up.
    pub max_throttled: u32,
    /// First backoff step (doubled per retry, jittered).
    pub base_delay: Duration,
    /// Largest backoff step.
    pub max_delay: Duration,
    /// Caps on the time spent waiting (`Retry-After`, backoff), over the run (the
    /// client's life: open one client per run) and per request; a wait that would pass
    /// one fails the request as throttled instead.
    pub wait_caps: WaitCaps,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            max_throttled: 20,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            wait_caps: WaitCaps::run(Duration::from_secs(15 * 60)),
        }
    }
}

impl RetryPolicy {
    /// Sets [`RetryPolicy::max_attempts`] (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Sets [`RetryPolicy::max_throttled`].
    #[must_use]
    pub fn max_throttled(mut self, n: u32) -> Self {
        self.max_throttled = n;
        self
    }

    /// Sets the backoff steps.
    #[must_use]
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.base_delay = base;
        self.max_delay = max.max(base);
        self
    }

    /// Sets [`RetryPolicy::wait_caps`].
    #[must_use]
    pub fn wait_caps(mut self, caps: WaitCaps) -> Self {
        self.wait_caps = caps;
        self
    }
}

/// How the client talks to one SCIM service provider.
#[derive(Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The SCIM base, e.g. `https://api.slack.com/scim/v2`; `/Users` is appended to its
    /// path. http(s), with a host, without user, password, query or fragment.
    pub base_url: Url,
    /// The credential.
    pub auth: Auth,
    /// Whole-request timeout of one attempt.
    pub timeout: Duration,
    /// Connect timeout of one attempt.
    pub connect_timeout: Duration,
    /// `User-Agent`.
    pub user_agent: String,
    /// `count` asked for per page (at least 1).
    pub page_size: u32,
    /// Most pages one listing may take (at least 1).
    pub max_pages: u64,
    /// Largest response body accepted; a larger one fails the request (not retried).
    pub max_response_bytes: u64,
    /// Retries and the wait cap.
    pub retry: RetryPolicy,
}

impl ClientConfig {
    /// A configuration with defaults: 30 s per attempt, 10 s to connect, pages of
    /// [`DEFAULT_PAGE_SIZE`], [`DEFAULT_MAX_PAGES`], [`DEFAULT_MAX_RESPONSE_BYTES`], and
    /// [`RetryPolicy::default`].
    pub fn new(base_url: Url, auth: Auth) -> Self {
        ClientConfig {
            base_url,
            auth,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("scim-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            page_size: DEFAULT_PAGE_SIZE,
            max_pages: DEFAULT_MAX_PAGES,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            retry: RetryPolicy::default(),
        }
    }

    /// Sets the per-attempt timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the connect timeout.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the user agent.
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Sets the page size (`count`, at least 1).
    #[must_use]
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Sets the most pages one listing may take (at least 1).
    #[must_use]
    pub fn max_pages(mut self, n: u64) -> Self {
        self.max_pages = n.max(1);
        self
    }

    /// Sets the largest response body accepted (at least 1 byte).
    #[must_use]
    pub fn max_response_bytes(mut self, n: u64) -> Self {
        self.max_response_bytes = n.max(1);
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field(
                "base_url",
                &connector_http::RedactedUrl::new(self.base_url.clone()),
            )
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("user_agent", &self.user_agent)
            .field("page_size", &self.page_size)
            .field("max_pages", &self.max_pages)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("retry", &self.retry)
            .finish()
    }
}
