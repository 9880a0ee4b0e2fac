//! The one send path every API area uses: authentication, pacing, throttling, retries,
//! counters and decoding.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use sync_engine::ApiStats;

use crate::clock::Clock;
use crate::config::{ClientConfig, RetryPolicy};
use crate::error::{ApiErrorBody, Endpoint, ErrorKind, QuipError};
use crate::ratelimit::{ApiClass, Pacer, RateLimitHeaders, backoff, throttle_wait};
use crate::redact::RedactedUrl;

/// Which credential a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// The API token.
    Api,
    /// The SCIM token (the API token when none is configured).
    Scim,
    /// No `Authorization` header (OAuth token endpoint: the body carries the client secret).
    None,
}

/// A form body whose `Debug` never shows values (they may be secrets).
pub(crate) struct Form(pub(crate) Vec<(&'static str, String)>);

impl fmt::Debug for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| format!("{k}=***")))
            .finish()
    }
}

/// One request, before it is sent.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) class: ApiClass,
    pub(crate) method: Method,
    pub(crate) url: RedactedUrl,
    pub(crate) form: Option<Form>,
    pub(crate) auth: Auth,
    /// Safe to repeat after a timeout or 5xx (reads are; a token refresh is not).
    pub(crate) idempotent: bool,
    /// The endpoint is only assumed to exist: a 404 becomes [`ErrorKind::NotAvailable`].
    pub(crate) unconfirmed: bool,
}

impl Request {
    pub(crate) fn get(class: ApiClass, url: RedactedUrl) -> Self {
        Request {
            class,
            method: Method::GET,
            url,
            form: None,
            auth: if class == ApiClass::Scim {
                Auth::Scim
            } else {
                Auth::Api
            },
            idempotent: true,
            unconfirmed: false,
        }
    }

    pub(crate) fn post_form(
        class: ApiClass,
        url: RedactedUrl,
        form: Vec<(&'static str, String)>,
    ) -> Self {
        Request {
            method: Method::POST,
            form: Some(Form(form)),
            ..Request::get(class, url)
        }
    }

    pub(crate) fn endpoint(&self) -> Endpoint {
        Endpoint {
            method: self.method.clone(),
            url: self.url.clone(),
        }
    }
}

/// A successful response.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) endpoint: Endpoint,
    pub(crate) body: Vec<u8>,
    /// The client's tokens, to scrub from decode errors (which may quote a value).
    secrets: Vec<SecretString>,
}

impl Response {
    /// Decodes the body, naming the failing field path on error.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, QuipError> {
        self.decode(&self.body)
    }

    /// Decodes `bytes` (part of this response) as `T`, naming the failing field path.
    pub(crate) fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, QuipError> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let mut source = e.into_inner();
            let message = source.to_string();
            if self
                .secrets
                .iter()
                .any(|s| !s.expose_secret().is_empty() && message.contains(s.expose_secret()))
            {
                let mut scrubbed = message;
                for s in &self.secrets {
                    scrubbed = scrubbed.replace(s.expose_secret(), "[redacted]");
                }
                source = <serde_json::Error as serde::de::Error>::custom(scrubbed);
            }
            QuipError::new(ErrorKind::Decode {
                endpoint: self.endpoint.clone(),
                path,
                source,
            })
        })
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    stats: ApiStats,
    backoff_wait: Duration,
    /// Everything waited since the run started (pacing, throttling, backoff).
    run_waited: Duration,
}

/// What kind of wait, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WaitKind {
    Pacing,
    Throttled,
    Backoff,
}

/// The shared HTTP machinery of a [`crate::QuipClient`].
pub(crate) struct Transport {
    http: reqwest::Client,
    pub(crate) base_url: url::Url,
    pub(crate) scim_url: url::Url,
    token: RwLock<SecretString>,
    scim_token: Option<SecretString>,
    pub(crate) policy: RetryPolicy,
    timeout: Duration,
    max_response_bytes: u64,
    /// Most pages one listing or Events cursor may take.
    pub(crate) max_pages: u64,
    pub(crate) clock: Arc<dyn Clock>,
    pacer: Mutex<Pacer>,
    counters: Mutex<Counters>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("base_url", &RedactedUrl::new(self.base_url.clone()))
            .field("scim_url", &RedactedUrl::new(self.scim_url.clone()))
            .field("token", &"[redacted]")
            .field("policy", &self.policy)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

fn parse_base(name: &str, raw: &str) -> Result<url::Url, QuipError> {
    let url = url::Url::parse(raw.trim())
        .map_err(|e| QuipError::config(format!("{name} is not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(QuipError::config(format!(
            "{name} must be an http(s) URL with a host, got {}",
            RedactedUrl::new(url)
        )));
    }
    Ok(url)
}

impl Transport {
    pub(crate) fn new(config: ClientConfig, clock: Arc<dyn Clock>) -> Result<Self, QuipError> {
        let base_url = parse_base("base_url", &config.base_url)?;
        let scim_url = parse_base("scim_url", &config.scim_url)?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            // Quip never redirects API calls; a redirect would forward the bearer token.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                QuipError::config(format!("cannot build the HTTP client: {}", e.without_url()))
            })?;
        Ok(Transport {
            http,
            base_url,
            scim_url,
            token: RwLock::new(config.token),
            scim_token: config.scim_token,
            policy: config.retry,
            timeout: config.timeout,
            max_response_bytes: config.max_response_bytes.max(1),
            max_pages: config.max_pages.max(1),
            clock,
            pacer: Mutex::new(Pacer::default()),
            counters: Mutex::new(Counters::default()),
        })
    }

    /// A URL under `base` with `segments` appended (percent-encoded) and `query` pairs.
    pub(crate) fn url(base: &url::Url, segments: &[&str], query: &[(&str, &str)]) -> RedactedUrl {
        let mut url = base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        RedactedUrl::new(url)
    }

    pub(crate) fn set_token(&self, token: SecretString) {
        *self.token.write().unwrap_or_else(PoisonError::into_inner) = token;
    }

    fn secrets(&self) -> Vec<SecretString> {
        let mut s = vec![
            self.token
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        ];
        if let Some(t) = &self.scim_token {
            s.push(t.clone());
        }
        s
    }

    fn auth_header(&self, auth: Auth) -> Result<Option<HeaderValue>, QuipError> {
        let value = match auth {
            Auth::None => return Ok(None),
            Auth::Scim if self.scim_token.is_some() => {
                let t = self
                    .scim_token
                    .as_ref()
                    .map(ExposeSecret::expose_secret)
                    .unwrap_or_default();
                HeaderValue::from_str(&format!("Bearer {t}"))
            }
            Auth::Api | Auth::Scim => {
                let t = self.token.read().unwrap_or_else(PoisonError::into_inner);
                HeaderValue::from_str(&format!("Bearer {}", t.expose_secret()))
            }
        };
        let mut value = value.map_err(|_| {
            QuipError::config("the Quip token contains characters not allowed in an HTTP header")
        })?;
        value.set_sensitive(true);
        Ok(Some(value))
    }

    pub(crate) fn stats(&self) -> ApiStats {
        self.counters().stats
    }

    pub(crate) fn backoff_wait(&self) -> Duration {
        self.counters().backoff_wait
    }

    pub(crate) fn run_waited(&self) -> Duration {
        self.counters().run_waited
    }

    /// Starts a new run: the wait cap counts from zero again (traffic counters keep going).
    pub(crate) fn begin_run(&self) {
        self.counters().run_waited = Duration::ZERO;
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits `duration` through the clock unless that would exceed the run's wait cap.
    async fn wait(
        &self,
        endpoint: &Endpoint,
        duration: Duration,
        kind: WaitKind,
        reason: &str,
    ) -> Result<(), QuipError> {
        if duration.is_zero() {
            return Ok(());
        }
        let waited = self.run_waited();
        if waited + duration > self.policy.wait_cap {
            tracing::warn!(
                endpoint = %endpoint,
                waited_s = waited.as_secs(),
                needed_s = duration.as_secs(),
                cap_s = self.policy.wait_cap.as_secs(),
                "Quip wait cap reached; giving up"
            );
            return Err(QuipError::new(ErrorKind::Throttled {
                endpoint: endpoint.clone(),
                waited,
                reason: format!(
                    "{reason}: the next wait of {}s would exceed the wait cap of {}s",
                    duration.as_secs_f64().ceil() as u64,
                    self.policy.wait_cap.as_secs()
                ),
            }));
        }
        let wait_ms = duration.as_millis() as u64;
        match kind {
            WaitKind::Pacing => {
                tracing::debug!(endpoint = %endpoint, wait_ms, reason, "pacing Quip requests");
            }
            WaitKind::Throttled => {
                tracing::warn!(endpoint = %endpoint, wait_ms, reason, "Quip throttled the request; waiting");
            }
            WaitKind::Backoff => {
                tracing::warn!(endpoint = %endpoint, wait_ms, reason, "transient Quip failure; backing off");
            }
        }
        self.clock.sleep(duration).await;
        let mut c = self.counters();
        c.run_waited += duration;
        if kind == WaitKind::Backoff {
            c.backoff_wait += duration;
        } else {
            c.stats.rate_limit_wait += duration;
        }
        Ok(())
    }

    /// Sends `req` until it succeeds, fails for good, or the wait cap is reached.
    pub(crate) async fn send(&self, req: Request) -> Result<Response, QuipError> {
        let endpoint = req.endpoint();
        let auth = self.auth_header(req.auth)?;
        let mut failures: u32 = 0;
        let mut throttled: u32 = 0;
        loop {
            let pace = {
                let mut pacer = self.pacer.lock().unwrap_or_else(PoisonError::into_inner);
                pacer.wait_before(
                    req.class,
                    self.clock.now(),
                    self.policy.pace_reserve,
                    self.policy.slack,
                )
            };
            if let Some(pace) = pace {
                self.wait(&endpoint, pace.duration, WaitKind::Pacing, &pace.reason)
                    .await?;
            }

            let attempt = failures + throttled + 1;
            let outcome = self.attempt(&req, auth.as_ref()).await;
            {
                let mut c = self.counters();
                c.stats.calls += 1;
                if attempt > 1 {
                    c.stats.retries += 1;
                }
            }
            let (status, headers, body) = match outcome {
                Ok(parts) => parts,
                Err(Failure::TooLarge { declared }) => {
                    // Not retried: the same answer would come again, and reading it is the
                    // harm the limit prevents.
                    tracing::warn!(endpoint = %endpoint, limit = self.max_response_bytes, declared, "Quip's response exceeds the size limit; stopped reading it");
                    return Err(QuipError::new(ErrorKind::TooLarge {
                        endpoint,
                        limit: self.max_response_bytes,
                        declared,
                    }));
                }
                Err(Failure::Http(error)) => {
                    failures += 1;
                    let retryable = req.idempotent || error.is_connect();
                    let description = self.describe(&error);
                    tracing::debug!(endpoint = %endpoint, attempt, error = %description, "Quip request failed");
                    if !retryable || failures >= self.policy.max_attempts {
                        return Err(QuipError::new(ErrorKind::Transient {
                            endpoint,
                            attempts: attempt,
                            status: None,
                            description,
                            source: Some(error.without_url()),
                        }));
                    }
                    let delay = backoff(&self.policy, failures, rand::rng().random::<f64>());
                    self.wait(&endpoint, delay, WaitKind::Backoff, &description)
                        .await?;
                    continue;
                }
            };

            let limits = RateLimitHeaders::parse(&headers);
            let now = self.clock.now();
            self.pacer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .observe(req.class, &limits, now);
            tracing::debug!(endpoint = %endpoint, attempt, status, "Quip response");

            if (200..300).contains(&status) {
                return Ok(Response {
                    endpoint,
                    body,
                    secrets: self.secrets(),
                });
            }

            if (300..400).contains(&status) {
                let location = redirect_location(&headers, req.url.expose());
                tracing::warn!(endpoint = %endpoint, status, location = %location, "Quip answered with a redirect; not following it");
                return Err(QuipError::new(ErrorKind::Redirect {
                    endpoint,
                    status,
                    location,
                }));
            }

            let secrets = self.secrets();
            let secrets: Vec<&str> = secrets.iter().map(ExposeSecret::expose_secret).collect();
            let error_body = ApiErrorBody::parse(&body, &secrets);
            let over_rate_limit = status == 503
                && error_body
                    .message()
                    .is_some_and(|m| m.to_ascii_lowercase().contains("over rate limit"));
            if status == 429 || over_rate_limit {
                throttled += 1;
                self.counters().stats.throttled += 1;
                if throttled > self.policy.max_throttled {
                    return Err(QuipError::new(ErrorKind::Throttled {
                        endpoint,
                        waited: self.run_waited(),
                        reason: format!("{throttled} throttled responses (HTTP {status}) in a row"),
                    }));
                }
                let wait = throttle_wait(req.class, &limits, now, &self.policy);
                let reason = format!("HTTP {status}{error_body}");
                self.wait(&endpoint, wait, WaitKind::Throttled, &reason)
                    .await?;
                continue;
            }

            if status >= 500 && req.idempotent {
                failures += 1;
                let description = format!("HTTP {status}{error_body}");
                if failures >= self.policy.max_attempts {
                    return Err(QuipError::new(ErrorKind::Transient {
                        endpoint,
                        attempts: attempt,
                        status: Some(status),
                        description,
                        source: None,
                    }));
                }
                let delay = backoff(&self.policy, failures, rand::rng().random::<f64>());
                self.wait(&endpoint, delay, WaitKind::Backoff, &description)
                    .await?;
                continue;
            }

            if status == 404 && req.unconfirmed {
                return Err(QuipError::new(ErrorKind::NotAvailable { endpoint }));
            }
            tracing::debug!(endpoint = %endpoint, status, error = %error_body, "Quip answered with an error");
            return Err(QuipError::new(ErrorKind::Api {
                endpoint,
                status,
                body: error_body,
            }));
        }
    }

    /// One attempt: send, then read the whole body up to the size limit (a body cut short
    /// is a failed attempt).
    async fn attempt(
        &self,
        req: &Request,
        auth: Option<&HeaderValue>,
    ) -> Result<(u16, HeaderMap, Vec<u8>), Failure> {
        let mut builder = self
            .http
            .request(req.method.clone(), req.url.expose().clone());
        if let Some(auth) = auth {
            builder = builder.header(http::header::AUTHORIZATION, auth.clone());
        }
        if let Some(form) = &req.form {
            builder = builder.form(&form.0);
        }
        let response = builder.send().await.map_err(Failure::Http)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = read_body(response, self.max_response_bytes).await?;
        Ok((status, headers, body))
    }

    /// Fails early when a token cannot be sent at all.
    pub(crate) fn check_auth(&self) -> Result<(), QuipError> {
        self.auth_header(Auth::Api)?;
        self.auth_header(Auth::Scim)?;
        Ok(())
    }
}

/// Why an attempt produced no response to look at.
enum Failure {
    /// The request could not be sent, or the body could not be read.
    Http(reqwest::Error),
    /// The body is larger than the limit (`declared`: its `Content-Length`, when sent).
    TooLarge { declared: Option<u64> },
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

/// The `Location` of a redirect, resolved against the request URL and shown redacted.
fn redirect_location(headers: &HeaderMap, request_url: &url::Url) -> String {
    let Some(raw) = headers.get(http::header::LOCATION) else {
        return "(no Location header)".to_owned();
    };
    let raw = String::from_utf8_lossy(raw.as_bytes());
    match request_url.join(&raw) {
        Ok(url) => RedactedUrl::new(url).to_string(),
        Err(_) => "(an unreadable Location header)".to_owned(),
    }
}

impl Transport {
    /// A short, secret-free description of a network failure.
    fn describe(&self, error: &reqwest::Error) -> String {
        if error.is_timeout() {
            format!("timed out after {}s", self.timeout.as_secs_f64())
        } else if error.is_connect() {
            "could not connect".to_owned()
        } else if error.is_body() || error.is_decode() {
            "the response body was cut short".to_owned()
        } else if error.is_request() {
            "the request could not be sent".to_owned()
        } else {
            "network error".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_a_base_path_and_encode_segments() {
        let base = url::Url::parse("https://proxy.example/quip/?x=1").unwrap();
        let u = Transport::url(&base, &["1", "users", "jane doe@acme.com"], &[]);
        assert_eq!(
            u.expose().as_str(),
            "https://proxy.example/quip/1/users/jane%20doe@acme.com"
        );
        let base = url::Url::parse("https://platform.quip.com").unwrap();
        let u = Transport::url(&base, &["1", "users", ""], &[("ids", "A,b@c")]);
        assert_eq!(
            u.expose().as_str(),
            "https://platform.quip.com/1/users/?ids=A%2Cb%40c"
        );
    }

    #[test]
    fn bad_base_urls_are_config_errors() {
        for bad in ["not a url", "ftp://host/", "file:///tmp"] {
            let e = parse_base("base_url", bad).unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::Config { .. }), "{bad}: {e}");
        }
    }
}
