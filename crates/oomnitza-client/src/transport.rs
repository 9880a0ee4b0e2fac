//! Sending requests: authentication, bounded concurrency, retries with jittered backoff,
//! request statistics, error decoding and paging.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use http::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use sync_engine::ApiStats;
use tokio::sync::Semaphore;
use url::Url;

use crate::api::list::ListItem;
use crate::config::{Auth, ClientConfig, RetryPolicy};
use crate::error::{ApiErrors, Error, ErrorKind};

/// The header carrying the raw API token.
pub(crate) const AUTHORIZATION2: HeaderName = HeaderName::from_static("authorization2");
/// The header that allows writing fields marked non-editable.
pub(crate) const IGNORE_META: HeaderName =
    HeaderName::from_static("oomnitza-ignore-meta-restriction");

/// Whether a request may be sent again after a failure that the server might have acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Reads, patches, deletes, upserts: sending twice leaves the same state.
    Idempotent,
    /// Creates: only re-sent when the server surely did not process the first attempt
    /// (429, or a connection that never opened). Callers look the record up otherwise.
    NonIdempotent,
}

/// One request, reusable across attempts.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: Method,
    segments: Vec<String>,
    pub(crate) query: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    ignore_meta: bool,
    idempotency: Idempotency,
}

impl Request {
    /// A request for the path made of `segments` (each percent-encoded on its own).
    pub(crate) fn new<S: AsRef<str>>(method: Method, segments: &[S]) -> Self {
        let idempotency = if method == Method::POST {
            Idempotency::NonIdempotent
        } else {
            Idempotency::Idempotent
        };
        Request {
            method,
            segments: segments.iter().map(|s| s.as_ref().to_owned()).collect(),
            query: Vec::new(),
            body: None,
            ignore_meta: false,
            idempotency,
        }
    }

    pub(crate) fn get<S: AsRef<str>>(segments: &[S]) -> Self {
        Request::new(Method::GET, segments)
    }

    /// Adds a query parameter.
    pub(crate) fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    /// Sets a JSON body.
    pub(crate) fn json<B: serde::Serialize + ?Sized>(mut self, body: &B) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            Error::new(ErrorKind::InvalidInput(format!(
                "could not serialise the request body: {e}"
            )))
        })?;
        self.body = Some(bytes);
        Ok(self)
    }

    /// Sends `Oomnitza-Ignore-Meta-Restriction: 1` when `on`.
    pub(crate) fn ignore_meta(mut self, on: bool) -> Self {
        self.ignore_meta = on;
        self
    }

    /// Overrides the idempotency derived from the method.
    pub(crate) fn idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = idempotency;
        self
    }

    /// `/a/b/c`, for messages and logs (never the query, which may hold user data).
    pub(crate) fn path(&self) -> String {
        let mut p = String::new();
        for s in &self.segments {
            p.push('/');
            p.push_str(s);
        }
        p
    }
}

#[derive(Debug, Default)]
struct Stats {
    calls: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    wait_micros: AtomicU64,
}

/// The shared state behind every handler of one client.
pub(crate) struct Transport {
    http: reqwest::Client,
    base: Url,
    auth: Auth,
    retry: RetryPolicy,
    limiter: Semaphore,
    stats: Stats,
    page_size: u32,
    max_response_bytes: u64,
    max_pages: u32,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base", &self.base.as_str())
            .field("auth", &self.auth)
            .field("retry", &self.retry)
            .field("page_size", &self.page_size)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("max_pages", &self.max_pages)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub(crate) fn new(config: ClientConfig) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            // Never follow a redirect: reqwest strips `Authorization` on a cross-host hop but
            // not `Authorization2`, so a redirecting base URL would receive the token (and a
            // 307 on a write would resend people's data there). A 3xx is an error instead.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::new(ErrorKind::Client(e)))?;
        Ok(Transport {
            http,
            base: config.base_url,
            auth: config.auth,
            retry: config.retry,
            limiter: Semaphore::new(config.concurrency.max(1)),
            stats: Stats::default(),
            page_size: config.page_size.clamp(1, crate::config::MAX_PAGE_SIZE),
            max_response_bytes: config.max_response_bytes.max(1),
            max_pages: config.max_pages.max(1),
        })
    }

    pub(crate) fn page_size(&self) -> u32 {
        self.page_size
    }

    pub(crate) fn base_url(&self) -> &Url {
        &self.base
    }

    pub(crate) fn stats(&self) -> ApiStats {
        ApiStats {
            calls: self.stats.calls.load(Ordering::Relaxed),
            throttled: self.stats.throttled.load(Ordering::Relaxed),
            retries: self.stats.retries.load(Ordering::Relaxed),
            rate_limit_wait: Duration::from_micros(self.stats.wait_micros.load(Ordering::Relaxed)),
        }
    }

    fn secret(&self) -> &SecretString {
        match &self.auth {
            Auth::Token(t) => t,
            Auth::Basic { password, .. } => password,
        }
    }

    fn url(&self, req: &Request) -> Result<Url, Error> {
        let mut url = self.base.clone();
        {
            let mut segs = url.path_segments_mut().map_err(|()| {
                Error::new(ErrorKind::InvalidInput(
                    "the Oomnitza base URL cannot have paths".to_owned(),
                ))
            })?;
            segs.pop_if_empty();
            for s in &req.segments {
                segs.push(s);
            }
        }
        if !req.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &req.query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    async fn attempt(
        &self,
        req: &Request,
        url: &Url,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>), Failure> {
        let _permit = self.limiter.acquire().await;
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let mut builder = self
            .http
            .request(req.method.clone(), url.clone())
            .header(http::header::ACCEPT, "application/json");
        builder = match &self.auth {
            Auth::Token(token) => {
                let value = HeaderValue::from_str(token.expose_secret());
                match value {
                    Ok(mut v) => {
                        v.set_sensitive(true);
                        builder.header(AUTHORIZATION2, v)
                    }
                    // A token with characters a header cannot carry is sent as nothing:
                    // the server answers 401, and the token is never echoed.
                    Err(_) => builder,
                }
            }
            Auth::Basic { user, password } => {
                builder.basic_auth(user, Some(password.expose_secret()))
            }
        };
        if req.ignore_meta {
            builder = builder.header(IGNORE_META, "1");
        }
        if let Some(body) = &req.body {
            builder = builder
                .header(CONTENT_TYPE, "application/json; charset=utf-8")
                .body(body.clone());
        }
        let response = builder.send().await.map_err(Failure::Http)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_body(response, self.max_response_bytes).await?;
        Ok((status, headers, body))
    }

    /// Sends `req`, retrying transient failures; returns the body of a 2xx response.
    pub(crate) async fn send(&self, req: &Request) -> Result<Vec<u8>, Error> {
        self.send_full(req).await.map(|(_, body)| body)
    }

    /// [`Transport::send`], with the response headers.
    pub(crate) async fn send_full(&self, req: &Request) -> Result<(HeaderMap, Vec<u8>), Error> {
        let url = self.url(req)?;
        let path = req.path();
        let mut attempt = 0u32;
        let mut waited = Duration::ZERO;
        loop {
            attempt += 1;
            let result = self.attempt(req, &url).await;
            let (err, retryable, throttled, retry_after) = match result {
                Ok((status, headers, body)) if status.is_success() => {
                    tracing::debug!(method = %req.method, path = %path, status = status.as_u16(), attempt, "oomnitza request");
                    return Ok((headers, body));
                }
                Err(Failure::TooLarge { declared }) => {
                    // Not retried: the same answer would come again, and reading it is the
                    // harm the limit prevents.
                    tracing::warn!(method = %req.method, path = %path, limit = self.max_response_bytes, declared, "Oomnitza's response exceeds the size limit; stopped reading it");
                    return Err(Error::new(ErrorKind::TooLarge {
                        limit: self.max_response_bytes,
                        declared,
                    })
                    .with_request(req.method.clone(), &path, attempt));
                }
                Ok((status, headers, _)) if status.is_redirection() => {
                    let location = location(&headers, &url);
                    tracing::warn!(method = %req.method, path = %path, status = status.as_u16(), location = %location, "Oomnitza answered with a redirect; not following it");
                    return Err(
                        Error::new(ErrorKind::Redirect { status, location }).with_request(
                            req.method.clone(),
                            &path,
                            attempt,
                        ),
                    );
                }
                Ok((status, headers, body)) => {
                    let errors = ApiErrors::parse(&body).scrub(self.secret().expose_secret());
                    let throttled = status == StatusCode::TOO_MANY_REQUESTS;
                    if throttled {
                        self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                    }
                    let transient = matches!(status.as_u16(), 500 | 502 | 503 | 504);
                    let retryable =
                        throttled || (transient && req.idempotency == Idempotency::Idempotent);
                    let retry_after = if throttled || status == StatusCode::SERVICE_UNAVAILABLE {
                        retry_after(&headers)
                    } else {
                        None
                    };
                    tracing::debug!(method = %req.method, path = %path, status = status.as_u16(), attempt, "oomnitza request failed");
                    (
                        Error::new(ErrorKind::Api { status, errors }),
                        retryable,
                        throttled,
                        retry_after,
                    )
                }
                Err(Failure::Http(e)) => {
                    let idempotent = req.idempotency == Idempotency::Idempotent;
                    tracing::debug!(method = %req.method, path = %path, attempt, timeout = e.is_timeout(), connect = e.is_connect(), "oomnitza request did not complete");
                    if e.is_timeout() {
                        (Error::new(ErrorKind::Timeout(e)), idempotent, false, None)
                    } else if e.is_connect() {
                        // The connection never opened: the server cannot have seen the
                        // request, so even a create may be sent again.
                        (Error::new(ErrorKind::Network(e)), true, false, None)
                    } else {
                        (Error::new(ErrorKind::Network(e)), idempotent, false, None)
                    }
                }
            };
            if !retryable || attempt > self.retry.max_retries {
                return Err(err.with_request(req.method.clone(), &path, attempt));
            }
            let delay = retry_after
                .filter(|d| !d.is_zero())
                .unwrap_or_else(|| self.retry.backoff(attempt, rand::random::<f64>()));
            if waited + delay > self.retry.max_total_wait {
                tracing::warn!(method = %req.method, path = %path, attempt, "giving up: the retry wait cap is reached");
                return Err(err.with_request(req.method.clone(), &path, attempt));
            }
            waited += delay;
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            if throttled {
                self.stats
                    .wait_micros
                    .fetch_add(delay.as_micros() as u64, Ordering::Relaxed);
            }
            tracing::info!(method = %req.method, path = %path, attempt, delay_ms = delay.as_millis() as u64, "retrying oomnitza request");
            tokio::time::sleep(delay).await;
        }
    }

    /// Sends `req` and decodes a JSON response.
    pub(crate) async fn json<T: DeserializeOwned>(&self, req: &Request) -> Result<T, Error> {
        let body = self.send(req).await?;
        decode(&body).map_err(|e| e.with_request(req.method.clone(), &req.path(), 1))
    }

    /// Sends `req` and ignores the response body.
    pub(crate) async fn execute(&self, req: &Request) -> Result<(), Error> {
        self.send(req).await.map(drop)
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

/// The `Location` of a redirect for messages: scheme, host, port and path only (a query
/// or user-info part could carry someone's secret).
fn location(headers: &HeaderMap, request_url: &Url) -> String {
    let Some(raw) = headers.get(http::header::LOCATION) else {
        return "(no Location header)".to_owned();
    };
    let raw = String::from_utf8_lossy(raw.as_bytes());
    match request_url.join(&raw) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => "(an unreadable Location header)".to_owned(),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by Oomnitza as far as known).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Decodes JSON, naming the failing field path.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        Error::new(ErrorKind::Decode {
            path,
            source: e.into_inner(),
        })
    })
}

/// Where a listing is, for the paging guards.
#[derive(Debug, Default)]
struct Paging {
    skip: u64,
    pages: u32,
    received: u64,
    /// The smallest `X-Total-Count` seen (a hint: it may be absent or change while paging).
    total_hint: Option<u64>,
    /// Ids of the records received so far.
    seen: HashSet<String>,
}

/// `X-Total-Count`, when present and a number.
fn total_count(headers: &HeaderMap) -> Option<u64> {
    headers
        .get("x-total-count")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Pages through a list endpoint with `limit`/`skip`, stopping on a short or empty page.
///
/// Guards against a server that never ends a listing (the error ends the stream and the
/// listing is incomplete): a page repeating a record id already seen (a server ignoring
/// `skip`), more records than `X-Total-Count` plus one page, or more than the client's
/// `max_pages` pages.
pub(crate) fn pages<T>(
    transport: Arc<Transport>,
    request: Request,
    page_size: u32,
) -> BoxStream<'static, Result<Vec<T>, Error>>
where
    T: DeserializeOwned + ListItem + Send + 'static,
{
    let page_size = page_size.clamp(1, crate::config::MAX_PAGE_SIZE);
    stream::try_unfold(Some(Paging::default()), move |state| {
        let transport = Arc::clone(&transport);
        let request = request.clone();
        async move {
            let Some(mut st) = state else {
                return Ok(None);
            };
            let path = request.path();
            let stop = |reason: String| {
                tracing::warn!(path = %path, %reason, "Oomnitza listing stopped");
                Err(Error::new(ErrorKind::Paging { reason }).with_request(Method::GET, &path, 1))
            };
            let skip = st.skip;
            let req = request
                .query("limit", page_size.to_string())
                .query("skip", skip.to_string());
            let (headers, body) = transport.send_full(&req).await?;
            let page: Vec<T> = decode(&body).map_err(|e| e.with_request(Method::GET, &path, 1))?;
            st.pages += 1;
            if page.is_empty() {
                return Ok(None);
            }
            if let Some(total) = total_count(&headers) {
                st.total_hint = Some(st.total_hint.map_or(total, |t| t.min(total)));
            }
            let n = page.len() as u64;
            st.received += n;
            let mut repeated = 0usize;
            let mut example = None;
            for item in &page {
                if let Some(id) = item.listing_id()
                    && !st.seen.insert(id.to_owned())
                {
                    repeated += 1;
                    example.get_or_insert_with(|| id.to_owned());
                }
            }
            if let Some(id) = example {
                return stop(format!(
                    "the page at skip={skip} repeats {repeated} record(s) already received \
                     (e.g. id {id}): the server seems to ignore `skip`, or the records moved \
                     while they were paged"
                ));
            }
            if let Some(total) = st.total_hint
                && st.received > total.saturating_add(u64::from(page_size))
            {
                return stop(format!(
                    "{} records received in {} page(s), more than X-Total-Count ({total}) plus \
                     one page",
                    st.received, st.pages
                ));
            }
            if n < u64::from(page_size) {
                return Ok(Some((page, None)));
            }
            if st.pages >= transport.max_pages {
                return stop(format!(
                    "{} full page(s) ({} records) and still no last page: over the limit of {} \
                     pages per listing (`[oomnitza] max_pages`)",
                    st.pages, st.received, transport.max_pages
                ));
            }
            st.skip += n;
            Ok(Some((page, Some(st))))
        }
    })
    .boxed()
}

/// Flattens a page stream into an item stream.
pub(crate) fn items<T: Send + 'static>(
    pages: BoxStream<'static, Result<Vec<T>, Error>>,
) -> BoxStream<'static, Result<T, Error>> {
    pages
        .map_ok(|page| stream::iter(page.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
}
