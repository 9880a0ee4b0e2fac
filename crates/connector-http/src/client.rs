//! The one send path: authentication, pacing, throttling, retries, the wait cap,
//! counters, the body cap and redirect refusal.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use sync_engine::ApiStats;
use tokio::sync::Semaphore;

use crate::backoff::{backoff, jitter, retry_after};
use crate::clock::Clock;
use crate::error::{ApiBody, Error, ErrorKind, RequestContext};
use crate::redact::{RedactedUrl, redirect_location};

/// Caps on waiting (pacing, throttling and backoff). A wait that would exceed a cap fails
/// the request with [`ErrorKind::Throttled`] instead. A client lives for one run (the
/// runtime opens connectors afresh for each), so `run` caps everything it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WaitCaps {
    /// Everything this client waited, over all its requests: a long listing cannot wait
    /// more than this in total. `None`: no cap.
    pub run: Option<Duration>,
    /// What one request waited between its attempts. `None`: no cap.
    pub request: Option<Duration>,
}

impl WaitCaps {
    /// At most `run` of waiting over the client's life (its run), no cap per request.
    pub fn run(run: Duration) -> Self {
        WaitCaps {
            run: Some(run),
            request: None,
        }
    }

    /// At most `request` of waiting per request, no cap for the run.
    pub fn request(request: Duration) -> Self {
        WaitCaps {
            run: None,
            request: Some(request),
        }
    }
}

/// Retries, backoff and the wait cap.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts per request for transient failures (5xx, timeouts, connection errors),
    /// the first one included.
    pub max_attempts: u32,
    /// Throttled responses tolerated per request before giving up.
    pub max_throttled: u32,
    /// Throttled responses count against `max_attempts` too (and `max_throttled` is not
    /// used): one budget of attempts for every cause.
    pub shared_budget: bool,
    /// First backoff step; doubled for every further retry.
    pub base_delay: Duration,
    /// Largest backoff step.
    pub max_delay: Duration,
    /// Caps on the time spent waiting.
    pub wait_caps: WaitCaps,
}

impl RetryPolicy {
    /// A policy: `max_attempts` attempts, `max_throttled` throttled responses, backoff from
    /// `base_delay` to `max_delay`, waiting at most `wait_caps`.
    pub fn new(
        max_attempts: u32,
        max_throttled: u32,
        (base_delay, max_delay): (Duration, Duration),
        wait_caps: WaitCaps,
    ) -> Self {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
            max_throttled,
            shared_budget: false,
            base_delay,
            max_delay,
            wait_caps,
        }
    }

    /// Throttled responses count against `max_attempts`.
    #[must_use]
    pub fn shared_budget(mut self) -> Self {
        self.shared_budget = true;
        self
    }
}

/// How the HTTP client is built and how it sends.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// Whole-request timeout of one attempt (connect, send, read the body).
    pub timeout: Duration,
    /// Connect timeout of one attempt.
    pub connect_timeout: Duration,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Largest response body accepted; a larger one fails the request (not retried)
    /// without reading the rest.
    pub max_response_bytes: u64,
    /// Requests in flight at once (unlimited when `None`).
    pub concurrency: Option<usize>,
    /// Retries, backoff and the wait cap.
    pub retry: RetryPolicy,
}

impl Settings {
    /// Settings with these timeouts, user agent, body cap and retry policy; no
    /// concurrency limit.
    pub fn new(
        (timeout, connect_timeout): (Duration, Duration),
        user_agent: impl Into<String>,
        max_response_bytes: u64,
        retry: RetryPolicy,
    ) -> Self {
        Settings {
            timeout,
            connect_timeout,
            user_agent: user_agent.into(),
            max_response_bytes: max_response_bytes.max(1),
            concurrency: None,
            retry,
        }
    }

    /// At most `n` requests in flight (at least 1).
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = Some(n.max(1));
        self
    }
}

/// The credential a request carries. `Debug` never shows the secret; header values are
/// marked sensitive, so the HTTP stack never logs them.
#[derive(Clone)]
pub enum Authorization {
    /// `Authorization: Bearer <token>`.
    Bearer(SecretString),
    /// `<name>: <token>`, the token sent raw.
    Header(HeaderName, SecretString),
    /// HTTP Basic.
    Basic {
        /// The user name (not secret).
        user: String,
        /// The password.
        password: SecretString,
    },
}

impl Authorization {
    /// The secret, for scrubbing response text.
    pub fn secret(&self) -> &SecretString {
        match self {
            Authorization::Bearer(s) | Authorization::Header(_, s) => s,
            Authorization::Basic { password, .. } => password,
        }
    }

    /// False when the secret holds characters an HTTP header cannot carry.
    pub fn is_valid(&self) -> bool {
        match self {
            Authorization::Basic { .. } => true,
            _ => self.header().is_some(),
        }
    }

    fn header(&self) -> Option<(HeaderName, HeaderValue)> {
        let (name, value) = match self {
            Authorization::Bearer(t) => (
                http::header::AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {}", t.expose_secret())),
            ),
            Authorization::Header(name, t) => {
                (name.clone(), HeaderValue::from_str(t.expose_secret()))
            }
            Authorization::Basic { .. } => return None,
        };
        let mut value = value.ok()?;
        value.set_sensitive(true);
        Some((name, value))
    }

    /// Puts the credential on `builder`. A token with characters a header cannot carry is
    /// sent as nothing: the server answers 401, and the token is never echoed.
    pub fn apply(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Authorization::Basic { user, password } => {
                builder.basic_auth(user, Some(password.expose_secret()))
            }
            _ => match self.header() {
                Some((name, value)) => builder.header(name, value),
                None => builder,
            },
        }
    }
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Authorization::Bearer(_) => f.write_str("Bearer([REDACTED])"),
            Authorization::Header(name, _) => write!(f, "Header({name}: [REDACTED])"),
            Authorization::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &"[REDACTED]")
                .finish(),
        }
    }
}

/// Whether a request may be sent again after a failure the server might have acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, patches, deletes, upserts: sending twice leaves the same state.
    Idempotent,
    /// Creates, token refreshes: only re-sent when the server surely did not process the
    /// first attempt (a throttled answer, or a connection that never opened).
    NonIdempotent,
}

/// A request body.
#[derive(Clone)]
pub enum Body {
    /// No body.
    Empty,
    /// Form-encoded pairs; `Debug` never shows the values (they may be secrets).
    Form(Vec<(&'static str, String)>),
    /// A JSON document.
    Json(Vec<u8>),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Form(pairs) => f
                .debug_list()
                .entries(pairs.iter().map(|(k, _)| format!("{k}=***")))
                .finish(),
            Body::Json(bytes) => write!(f, "Json({} bytes)", bytes.len()),
        }
    }
}

/// One request, reusable across attempts. `tag` is the vendor's label for it (Quip: which
/// API it belongs to, for pacing and the credential).
#[derive(Debug, Clone)]
pub struct Request<T> {
    /// The vendor's label.
    pub tag: T,
    /// HTTP method.
    pub method: Method,
    /// The URL.
    pub url: RedactedUrl,
    /// The body.
    pub body: Body,
    /// Extra headers (never secrets: the credential comes from the vendor's hook).
    pub headers: HeaderMap,
    /// Safe to repeat after a failure the server may have acted on.
    pub idempotency: Idempotency,
}

impl<T> Request<T> {
    /// A request; `POST` is not idempotent, every other method is.
    pub fn new(tag: T, method: Method, url: RedactedUrl) -> Self {
        let idempotency = if method == Method::POST {
            Idempotency::NonIdempotent
        } else {
            Idempotency::Idempotent
        };
        Request {
            tag,
            method,
            url,
            body: Body::Empty,
            headers: HeaderMap::new(),
            idempotency,
        }
    }

    /// A `GET`.
    pub fn get(tag: T, url: RedactedUrl) -> Self {
        Request::new(tag, Method::GET, url)
    }

    /// Sets a form-encoded body.
    #[must_use]
    pub fn form(mut self, pairs: Vec<(&'static str, String)>) -> Self {
        self.body = Body::Form(pairs);
        self
    }

    /// Sets a JSON body.
    #[must_use]
    pub fn json_bytes(mut self, bytes: Vec<u8>) -> Self {
        self.body = Body::Json(bytes);
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Overrides the idempotency derived from the method.
    #[must_use]
    pub fn idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = idempotency;
        self
    }
}

/// A wait before the next attempt, with a reason for logs and errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    /// How long.
    pub duration: Duration,
    /// Why, e.g. "per-company window (600) exhausted".
    pub reason: String,
}

/// What an error response means for the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The vendor said "slow down": wait (`None`: the backoff) and try again, whatever the
    /// idempotency (a throttled request was not processed).
    Throttled {
        /// How long, when the response says.
        wait: Option<Duration>,
    },
    /// The failure may go away: retried when the request is idempotent.
    Transient {
        /// `Retry-After`, when the response carries one.
        retry_after: Option<Duration>,
    },
    /// Not retried.
    Final,
}

/// The classification most APIs want: 429 is throttling (its `Retry-After` honoured when
/// above zero), 500, 502, 503 and 504 are transient (503's `Retry-After` honoured), every
/// other status is final.
pub fn default_verdict(status: StatusCode, headers: &HeaderMap, now: SystemTime) -> Verdict {
    match status.as_u16() {
        429 => Verdict::Throttled {
            wait: retry_after(headers, now).filter(|d| !d.is_zero()),
        },
        503 => Verdict::Transient {
            retry_after: retry_after(headers, now),
        },
        500 | 502 | 504 => Verdict::Transient { retry_after: None },
        _ => Verdict::Final,
    }
}

/// What a vendor client adds to the shared send path.
pub trait Vendor: Send + Sync + 'static {
    /// The vendor's label of a request.
    type Tag: Copy + Send + Sync + fmt::Debug + 'static;
    /// The vendor's parsed error body.
    type Body: ApiBody;

    /// Puts the credential for a request labelled `tag` on `builder`.
    fn authorize(
        &self,
        tag: Self::Tag,
        builder: reqwest::RequestBuilder,
    ) -> reqwest::RequestBuilder;

    /// Every secret the client sends, to scrub from response text kept in errors.
    fn secrets(&self) -> Vec<SecretString>;

    /// A wait before the next attempt of a request labelled `tag`, to stay under the
    /// vendor's rate limits (proactive pacing). None by default.
    fn pace(&self, tag: Self::Tag, now: SystemTime) -> Option<Wait> {
        let _ = (tag, now);
        None
    }

    /// Sees the headers of every response (rate-limit windows). Nothing by default.
    fn observe(&self, tag: Self::Tag, headers: &HeaderMap, now: SystemTime) {
        let _ = (tag, headers, now);
    }

    /// What an error response (not 2xx, not 3xx) means; [`default_verdict`] by default.
    fn classify(
        &self,
        tag: Self::Tag,
        status: StatusCode,
        headers: &HeaderMap,
        body: &Self::Body,
        now: SystemTime,
    ) -> Verdict {
        let _ = (tag, body);
        default_verdict(status, headers, now)
    }
}

/// A successful response.
pub struct Response<B> {
    /// HTTP status (2xx).
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Vec<u8>,
    context: RequestContext,
    /// The client's secrets, to scrub from decode errors (which may quote a value).
    secrets: Vec<SecretString>,
    vendor: PhantomData<fn() -> B>,
}

impl<B> fmt::Debug for Response<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("request", &self.context)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl<B: ApiBody> Response<B> {
    /// The request this answers.
    pub fn context(&self) -> &RequestContext {
        &self.context
    }

    /// Decodes the body, naming the failing field path on error.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error<B>> {
        self.decode(&self.body)
    }

    /// Decodes `bytes` (part of this response) as `T`, naming the failing field path; a
    /// secret the decoder's message would quote is replaced.
    pub fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, Error<B>> {
        decode_json(bytes, &self.secrets).map_err(|e| e.with_request(self.context.clone()))
    }
}

/// Decodes JSON, naming the failing field path on error ([`ErrorKind::Decode`]); a secret
/// the decoder's message would quote is replaced by `[redacted]`.
pub fn decode_json<T: DeserializeOwned, B: ApiBody>(
    bytes: &[u8],
    secrets: &[SecretString],
) -> Result<T, Error<B>> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let mut source = e.into_inner();
        let message = source.to_string();
        let secrets = secrets
            .iter()
            .map(ExposeSecret::expose_secret)
            .filter(|s| !s.is_empty());
        if secrets.clone().any(|s| message.contains(s)) {
            let scrubbed = secrets.fold(message, |m, s| m.replace(s, "[redacted]"));
            source = <serde_json::Error as serde::de::Error>::custom(scrubbed);
        }
        Error::new(ErrorKind::Decode { path, source })
    })
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    stats: ApiStats,
    backoff_wait: Duration,
    /// Everything waited (pacing, throttling, backoff).
    run_waited: Duration,
}

/// What kind of wait, for the counters and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WaitKind {
    Pacing,
    Throttled,
    Backoff,
}

/// Why an attempt produced no response to look at.
enum Failure {
    /// The request could not be sent, or the body could not be read.
    Http(reqwest::Error),
    /// The body is larger than the limit (`declared`: its `Content-Length`, when sent).
    TooLarge { declared: Option<u64> },
}

/// Where one request is in its retries.
struct Progress<'r, T> {
    request: &'r Request<T>,
    attempts: u32,
    failures: u32,
    throttled: u32,
    waited: Duration,
}

impl<T> Progress<'_, T> {
    fn context(&self) -> RequestContext {
        RequestContext {
            method: self.request.method.clone(),
            url: self.request.url.clone(),
            attempts: self.attempts.max(1),
        }
    }
}

/// The HTTP machinery of one vendor client: connections, the vendor's hooks, the clock,
/// counters and the concurrency limit. Share it behind an `Arc`.
pub struct HttpClient<V: Vendor> {
    http: reqwest::Client,
    vendor: V,
    settings: Settings,
    clock: Arc<dyn Clock>,
    limiter: Option<Semaphore>,
    counters: Mutex<Counters>,
}

impl<V: Vendor + fmt::Debug> fmt::Debug for HttpClient<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("vendor", &self.vendor)
            .field("settings", &self.settings)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl<V: Vendor> HttpClient<V> {
    /// A client that never follows redirects (a redirect would forward the credential and
    /// the body to wherever it points) and sleeps on `clock`.
    pub fn new(
        settings: Settings,
        vendor: V,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error<V::Body>> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .user_agent(settings.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::new(ErrorKind::Client { source: e }))?;
        Ok(HttpClient {
            http,
            limiter: settings.concurrency.map(Semaphore::new),
            vendor,
            settings,
            clock,
            counters: Mutex::new(Counters::default()),
        })
    }

    /// The vendor's hooks and state.
    pub fn vendor(&self) -> &V {
        &self.vendor
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The clock every wait goes through.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Traffic so far: every attempt, throttled responses, retries, rate-limit wait
    /// (pacing and throttling; backoff is counted apart).
    pub fn stats(&self) -> ApiStats {
        self.counters().stats
    }

    /// Time spent in backoff after transient failures.
    pub fn backoff_wait(&self) -> Duration {
        self.counters().backoff_wait
    }

    /// Everything this client waited (its run): what [`WaitCaps::run`] caps.
    pub fn run_waited(&self) -> Duration {
        self.counters().run_waited
    }

    fn counters(&self) -> MutexGuard<'_, Counters> {
        // Plain numbers, consistent even if a holder panicked.
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `request` until it succeeds, fails for good, or the wait cap is reached.
    pub async fn send(
        &self,
        request: &Request<V::Tag>,
    ) -> Result<Response<V::Body>, Error<V::Body>> {
        let vendor = <V::Body as ApiBody>::VENDOR;
        let mut p = Progress {
            request,
            attempts: 0,
            failures: 0,
            throttled: 0,
            waited: Duration::ZERO,
        };
        loop {
            if let Some(pace) = self.vendor.pace(request.tag, self.clock.now()) {
                self.wait(&mut p, pace.duration, WaitKind::Pacing, &pace.reason, None)
                    .await?;
            }
            p.attempts += 1;
            let outcome = self.attempt(request).await;
            {
                let mut c = self.counters();
                c.stats.calls += 1;
                if p.attempts > 1 {
                    c.stats.retries += 1;
                }
            }
            let (status, headers, body) = match outcome {
                Ok(parts) => parts,
                Err(Failure::TooLarge { declared }) => {
                    // Not retried: the same answer would come again, and reading it is the
                    // harm the limit prevents.
                    let limit = self.settings.max_response_bytes;
                    tracing::warn!(request = %p.context(), limit, declared, "{vendor}'s response exceeds the size limit; stopped reading it");
                    return Err(Error::new(ErrorKind::TooLarge { limit, declared })
                        .with_request(p.context()));
                }
                Err(Failure::Http(error)) => {
                    p.failures += 1;
                    // A connection that never opened cannot have been processed.
                    let retryable =
                        request.idempotency == Idempotency::Idempotent || error.is_connect();
                    let description = describe(&error);
                    tracing::debug!(request = %p.context(), error = description, "{vendor} request did not complete");
                    let error = error.without_url();
                    let kind = if error.is_timeout() {
                        ErrorKind::Timeout {
                            after: self.settings.timeout,
                            source: error,
                        }
                    } else {
                        ErrorKind::Network {
                            description,
                            source: error,
                        }
                    };
                    if !retryable || self.out_of_attempts(&p) {
                        return Err(Error::new(kind).with_request(p.context()));
                    }
                    let delay = self.backoff(&p);
                    self.wait(&mut p, delay, WaitKind::Backoff, description, None)
                        .await?;
                    continue;
                }
            };

            let now = self.clock.now();
            self.vendor.observe(request.tag, &headers, now);
            tracing::debug!(request = %p.context(), status = status.as_u16(), "{vendor} response");
            if status.is_success() {
                return Ok(Response {
                    status,
                    headers,
                    body,
                    context: p.context(),
                    secrets: self.vendor.secrets(),
                    vendor: PhantomData,
                });
            }
            if status.is_redirection() {
                let location = redirect_location(&headers, request.url.expose());
                tracing::warn!(request = %p.context(), status = status.as_u16(), location = %location, "{vendor} answered with a redirect; not following it");
                return Err(
                    Error::new(ErrorKind::Redirect { status, location }).with_request(p.context())
                );
            }

            let secrets = self.vendor.secrets();
            let secrets: Vec<&str> = secrets.iter().map(ExposeSecret::expose_secret).collect();
            let error_body = <V::Body as ApiBody>::parse(&body, &secrets);
            let reason = if error_body.is_empty() {
                format!("HTTP {}", status.as_u16())
            } else {
                format!("HTTP {}: {error_body}", status.as_u16())
            };
            match self
                .vendor
                .classify(request.tag, status, &headers, &error_body, now)
            {
                Verdict::Throttled { wait } => {
                    p.throttled += 1;
                    self.counters().stats.throttled += 1;
                    let exhausted = if self.settings.retry.shared_budget {
                        self.out_of_attempts(&p)
                    } else {
                        p.throttled > self.settings.retry.max_throttled
                    };
                    if exhausted {
                        return Err(Error::new(ErrorKind::Throttled {
                            waited: p.waited,
                            reason: format!(
                                "{} throttled responses (HTTP {}) in a row",
                                p.throttled,
                                status.as_u16()
                            ),
                            status: Some(status),
                        })
                        .with_request(p.context()));
                    }
                    let delay = wait.unwrap_or_else(|| self.backoff(&p));
                    self.wait(&mut p, delay, WaitKind::Throttled, &reason, Some(status))
                        .await?;
                }
                Verdict::Transient { retry_after }
                    if request.idempotency == Idempotency::Idempotent =>
                {
                    p.failures += 1;
                    if self.out_of_attempts(&p) {
                        return Err(Error::new(ErrorKind::Api {
                            status,
                            body: error_body,
                        })
                        .with_request(p.context()));
                    }
                    let delay = retry_after
                        .filter(|d| !d.is_zero())
                        .unwrap_or_else(|| self.backoff(&p));
                    self.wait(&mut p, delay, WaitKind::Backoff, &reason, Some(status))
                        .await?;
                }
                Verdict::Transient { .. } | Verdict::Final => {
                    tracing::debug!(request = %p.context(), status = status.as_u16(), error = %error_body, "{vendor} answered with an error");
                    return Err(Error::new(ErrorKind::Api {
                        status,
                        body: error_body,
                    })
                    .with_request(p.context()));
                }
            }
        }
    }

    fn out_of_attempts<T>(&self, p: &Progress<'_, T>) -> bool {
        let used = if self.settings.retry.shared_budget {
            p.failures + p.throttled
        } else {
            p.failures
        };
        used >= self.settings.retry.max_attempts
    }

    fn backoff<T>(&self, p: &Progress<'_, T>) -> Duration {
        let retry = if self.settings.retry.shared_budget {
            p.failures + p.throttled
        } else {
            p.failures.max(p.throttled)
        };
        let policy = &self.settings.retry;
        backoff(policy.base_delay, policy.max_delay, retry, jitter())
    }

    /// The first cap that waiting `duration` more would exceed: `(scope, waited so far,
    /// cap)`.
    fn exceeded<T>(
        &self,
        p: &Progress<'_, T>,
        duration: Duration,
    ) -> Option<(&'static str, Duration, Duration)> {
        let caps = self.settings.retry.wait_caps;
        [
            ("run's", self.run_waited(), caps.run),
            ("request's", p.waited, caps.request),
        ]
        .into_iter()
        .find_map(|(scope, waited, cap)| {
            cap.filter(|cap| waited + duration > *cap)
                .map(|cap| (scope, waited, cap))
        })
    }

    /// Waits `duration` on the clock, unless that would exceed the wait cap.
    async fn wait<T>(
        &self,
        p: &mut Progress<'_, T>,
        duration: Duration,
        kind: WaitKind,
        reason: &str,
        status: Option<StatusCode>,
    ) -> Result<(), Error<V::Body>> {
        if duration.is_zero() {
            return Ok(());
        }
        let vendor = <V::Body as ApiBody>::VENDOR;
        if let Some((scope, waited, cap)) = self.exceeded(p, duration) {
            tracing::warn!(
                request = %p.context(),
                waited_s = waited.as_secs(),
                needed_s = duration.as_secs(),
                cap_s = cap.as_secs(),
                "{vendor} {scope} wait cap reached; giving up"
            );
            return Err(Error::new(ErrorKind::Throttled {
                waited,
                reason: format!(
                    "{reason}: the next wait of {}s would exceed the {scope} wait cap of {}s",
                    duration.as_secs_f64().ceil() as u64,
                    cap.as_secs()
                ),
                status,
            })
            .with_request(p.context()));
        }
        let wait_ms = duration.as_millis() as u64;
        match kind {
            WaitKind::Pacing => {
                tracing::debug!(request = %p.context(), wait_ms, reason, "pacing {vendor} requests");
            }
            WaitKind::Throttled => {
                tracing::warn!(request = %p.context(), wait_ms, reason, "{vendor} throttled the request; waiting");
            }
            WaitKind::Backoff => {
                tracing::warn!(request = %p.context(), wait_ms, reason, "transient {vendor} failure; backing off");
            }
        }
        self.clock.sleep(duration).await;
        p.waited += duration;
        let mut c = self.counters();
        c.run_waited += duration;
        if kind == WaitKind::Backoff {
            c.backoff_wait += duration;
        } else {
            c.stats.rate_limit_wait += duration;
        }
        Ok(())
    }

    /// One attempt: send, then read the whole body up to the size limit (a body cut short
    /// is a failed attempt).
    async fn attempt(
        &self,
        request: &Request<V::Tag>,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>), Failure> {
        let _permit = match &self.limiter {
            Some(limiter) => limiter.acquire().await.ok(),
            None => None,
        };
        let mut builder = self
            .http
            .request(request.method.clone(), request.url.expose().clone())
            .headers(request.headers.clone());
        builder = self.vendor.authorize(request.tag, builder);
        builder = match &request.body {
            Body::Empty => builder,
            Body::Form(pairs) => builder.form(pairs),
            Body::Json(bytes) => builder
                .header(CONTENT_TYPE, "application/json; charset=utf-8")
                .body(bytes.clone()),
        };
        let response = builder.send().await.map_err(Failure::Http)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_body(response, self.settings.max_response_bytes).await?;
        Ok((status, headers, body))
    }
}

/// Reads a body chunk by chunk, giving up as soon as it would exceed `limit` bytes: a
/// declared `Content-Length` above the limit fails before a byte is read, and a body without
/// one (or lying about it) fails at the first chunk past the limit. The rest is never read;
/// dropping the response closes the connection.
async fn read_body(mut response: reqwest::Response, limit: u64) -> Result<Vec<u8>, Failure> {
    let declared = response.content_length();
    if declared.is_some_and(|n| n > limit) {
        return Err(Failure::TooLarge { declared });
    }
    // Never trust the declared size for the allocation beyond a first megabyte.
    let initial = declared.map_or(0, |n| usize::try_from(n.min(1 << 20)).unwrap_or(0));
    let mut body = Vec::with_capacity(initial);
    while let Some(chunk) = response.chunk().await.map_err(Failure::Http)? {
        if (body.len() as u64).saturating_add(chunk.len() as u64) > limit {
            return Err(Failure::TooLarge { declared });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A short, secret-free description of a network failure.
fn describe(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "the response body was cut short"
    } else if error.is_request() {
        "the request could not be sent"
    } else {
        "network error"
    }
}
