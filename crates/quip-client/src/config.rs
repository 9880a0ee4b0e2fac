//! Client configuration: hosts, credentials, timeouts and the retry/pacing policy.

use std::fmt;
use std::time::Duration;

use connector_http::WaitCaps;
use secrecy::SecretString;

/// Default API host of standard (non-VPC) Quip sites.
pub const DEFAULT_BASE_URL: &str = "https://platform.quip.com";
/// Default SCIM host.
pub const DEFAULT_SCIM_URL: &str = "https://scim.quip.com";

/// The default cap on one response body: 64 MiB (a page of 1,000 users is well under
/// 2 MiB; the limit only stops a hostile or broken server from exhausting memory).
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// The default cap on the pages of one listing or Events cursor: 10,000.
///
/// Quip serves at most 100 users a page (the assumed server cap, quip-api.md §11), so this
/// is a million users, beyond the largest Quip sites; Events pages are read the same way.
pub const DEFAULT_MAX_PAGES: u64 = 10_000;

/// How the client talks to Quip.
///
/// Hosts are configuration and never derived from a site name: VPC sites have their own
/// platform host (`https://platform.acme.onquip.com`), and `platform-<site>` hosts do not
/// exist (quip-api.md §2, §9).
#[derive(Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Automation/Admin/Events/OAuth host, e.g. `https://platform.quip.com`.
    pub base_url: String,
    /// SCIM host, e.g. `https://scim.quip.com`.
    pub scim_url: String,
    /// Access token sent as `Authorization: Bearer` (personal token, API key or OAuth token).
    /// Sent verbatim; its format is never validated (quip-api.md §3).
    pub token: SecretString,
    /// SCIM token (admin-issued); the API token is used for SCIM when absent.
    pub scim_token: Option<SecretString>,
    /// Whole-request timeout of one attempt (connect, send, read the body).
    pub timeout: Duration,
    /// Connect timeout of one attempt.
    pub connect_timeout: Duration,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Retry, backoff and pacing policy.
    pub retry: RetryPolicy,
    /// Largest response body accepted; a larger one fails the request (not retried) without
    /// reading the rest.
    pub max_response_bytes: u64,
    /// Most pages one listing (SCIM, Admin) or Events cursor may take.
    pub max_pages: u64,
}

impl ClientConfig {
    /// A configuration for the standard hosts with `token` and default policy.
    pub fn new(token: SecretString) -> Self {
        ClientConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            scim_url: DEFAULT_SCIM_URL.to_owned(),
            token,
            scim_token: None,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("quip-oomnitza/", env!("CARGO_PKG_VERSION")).to_owned(),
            retry: RetryPolicy::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_pages: DEFAULT_MAX_PAGES,
        }
    }

    /// Sets the API host.
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Sets the SCIM host.
    #[must_use]
    pub fn scim_url(mut self, url: impl Into<String>) -> Self {
        self.scim_url = url.into();
        self
    }

    /// Sets the SCIM token.
    #[must_use]
    pub fn scim_token(mut self, token: SecretString) -> Self {
        self.scim_token = Some(token);
        self
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

    /// Sets the retry policy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the largest response body accepted (at least 1 byte).
    #[must_use]
    pub fn max_response_bytes(mut self, n: u64) -> Self {
        self.max_response_bytes = n.max(1);
        self
    }

    /// Sets the most pages one listing or Events cursor may take (at least 1).
    #[must_use]
    pub fn max_pages(mut self, n: u64) -> Self {
        self.max_pages = n.max(1);
        self
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens are SecretString (redacted Debug) but are left out entirely to be safe.
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("scim_url", &self.scim_url)
            .field("token", &"[redacted]")
            .field(
                "scim_token",
                &self.scim_token.as_ref().map(|_| "[redacted]"),
            )
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("user_agent", &self.user_agent)
            .field("retry", &self.retry)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("max_pages", &self.max_pages)
            .finish()
    }
}

/// Retries, backoff and rate-limit pacing, shared by every API area.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts per request for transient failures (5xx, connection errors, timeouts),
    /// the first attempt included. Throttled attempts do not count against it.
    pub max_attempts: u32,
    /// Throttled responses tolerated per request before giving up (the wait cap usually
    /// stops earlier).
    pub max_throttled: u32,
    /// First backoff delay after a transient failure.
    pub base_delay: Duration,
    /// Largest backoff delay.
    pub max_delay: Duration,
    /// Caps on the time spent waiting (pacing, throttling and backoff), over the run (the
    /// client's life) and per request. A wait that would exceed one fails the request
    /// with a `Throttled` error instead.
    pub wait_caps: WaitCaps,
    /// Wait after a throttled response whose reset header is 0, missing or in the past
    /// (Quip's 429 carries `X-Ratelimit-Reset: 0`; quip-api.md §6).
    pub throttle_fallback: Duration,
    /// Added to every wait derived from a reset header (resets are whole seconds).
    pub slack: Duration,
    /// Proactive pacing: when a rate-limit window reports this many requests remaining or
    /// fewer, the next request waits for that window's reset.
    pub pace_reserve: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            max_throttled: 30,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            // An exhausted hourly window costs up to an hour; allow that plus some slack.
            wait_caps: WaitCaps::run(Duration::from_secs(65 * 60)),
            throttle_fallback: Duration::from_secs(61),
            slack: Duration::from_secs(1),
            pace_reserve: 0,
        }
    }
}

impl RetryPolicy {
    /// Sets [`RetryPolicy::max_attempts`].
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

    /// Sets [`RetryPolicy::base_delay`].
    #[must_use]
    pub fn base_delay(mut self, d: Duration) -> Self {
        self.base_delay = d;
        self
    }

    /// Sets [`RetryPolicy::max_delay`].
    #[must_use]
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// Sets [`RetryPolicy::wait_caps`].
    #[must_use]
    pub fn wait_caps(mut self, caps: WaitCaps) -> Self {
        self.wait_caps = caps;
        self
    }

    /// Sets [`RetryPolicy::throttle_fallback`].
    #[must_use]
    pub fn throttle_fallback(mut self, d: Duration) -> Self {
        self.throttle_fallback = d;
        self
    }

    /// Sets [`RetryPolicy::slack`].
    #[must_use]
    pub fn slack(mut self, d: Duration) -> Self {
        self.slack = d;
        self
    }

    /// Sets [`RetryPolicy::pace_reserve`].
    #[must_use]
    pub fn pace_reserve(mut self, n: u64) -> Self {
        self.pace_reserve = n;
        self
    }
}
