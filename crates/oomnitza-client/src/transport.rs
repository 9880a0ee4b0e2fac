//! Oomnitza's part of the send path: its credential (`Authorization2` or Basic), its
//! paths, and `limit`/`skip` paging. Retries, backoff, `Retry-After`, the wait cap,
//! counters, the concurrency limit, the body cap and redirect refusal are
//! `connector_http`'s.

use std::sync::Arc;

use connector_http::{
    Authorization, HttpClient, Page, PageGuard, RedactedUrl, RequestContext, Settings, SystemClock,
    Vendor, decode_json, paginate,
};
use futures::stream::BoxStream;
use http::Method;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use sync_engine::ApiStats;
use url::Url;

pub(crate) use connector_http::Idempotency;
pub(crate) use connector_http::items;

use crate::api::list::ListItem;
use crate::config::{Auth, ClientConfig};
use crate::error::{ApiErrors, Error, ErrorKind};

/// The header carrying the raw API token.
pub(crate) const AUTHORIZATION2: HeaderName = HeaderName::from_static("authorization2");
/// The header that allows writing fields marked non-editable.
pub(crate) const IGNORE_META: HeaderName =
    HeaderName::from_static("oomnitza-ignore-meta-restriction");

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
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::config(format!("could not serialise the request body: {e}")))?;
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
}

/// Oomnitza's hooks: the credential. Throttling and transient statuses are the shared
/// defaults (429 with `Retry-After`; 500, 502, 503, 504).
struct Oomnitza {
    auth: Authorization,
}

impl std::fmt::Debug for Oomnitza {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oomnitza")
            .field("auth", &self.auth)
            .finish()
    }
}

impl Vendor for Oomnitza {
    type Tag = ();
    type Body = ApiErrors;

    fn authorize(&self, (): (), builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        self.auth.apply(builder)
    }

    fn secrets(&self) -> Vec<SecretString> {
        vec![self.auth.secret().clone()]
    }
}

/// The shared state behind every handler of one client.
pub(crate) struct Transport {
    http: HttpClient<Oomnitza>,
    base: Url,
    page_size: u32,
    max_pages: u32,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base", &self.base.as_str())
            .field("http", &self.http)
            .field("page_size", &self.page_size)
            .field("max_pages", &self.max_pages)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub(crate) fn new(config: ClientConfig) -> Result<Self, Error> {
        let p = &config.retry;
        // One budget of attempts for every cause, and a cap per request (Oomnitza has no
        // reset headers to pace by).
        let retry = connector_http::RetryPolicy::new(
            p.max_retries.saturating_add(1),
            p.max_retries,
            (p.base_delay, p.max_delay),
            p.wait_caps,
        )
        .shared_budget();
        let settings = Settings::new(
            (config.timeout, config.connect_timeout),
            config.user_agent.clone(),
            config.max_response_bytes,
            retry,
        )
        .concurrency(config.concurrency);
        let auth = match config.auth {
            Auth::Token(token) => Authorization::Header(AUTHORIZATION2, token),
            Auth::Basic { user, password } => Authorization::Basic { user, password },
        };
        Ok(Transport {
            http: HttpClient::new(settings, Oomnitza { auth }, Arc::new(SystemClock))?,
            base: config.base_url,
            page_size: config.page_size.clamp(1, crate::config::MAX_PAGE_SIZE),
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
        self.http.stats()
    }

    fn url(&self, req: &Request) -> RedactedUrl {
        let segments: Vec<&str> = req.segments.iter().map(String::as_str).collect();
        let query: Vec<(&str, &str)> = req.query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        RedactedUrl::join(&self.base, &segments, &query)
    }

    /// The request, for errors that come after its answer.
    pub(crate) fn context(&self, req: &Request) -> RequestContext {
        RequestContext {
            method: req.method.clone(),
            url: self.url(req),
            attempts: 1,
        }
    }

    /// Sends `req`, retrying transient failures; returns the body of a 2xx response.
    pub(crate) async fn send(&self, req: &Request) -> Result<Vec<u8>, Error> {
        self.send_full(req).await.map(|(_, body)| body)
    }

    /// [`Transport::send`], with the response headers.
    pub(crate) async fn send_full(&self, req: &Request) -> Result<(HeaderMap, Vec<u8>), Error> {
        let mut request = connector_http::Request::new((), req.method.clone(), self.url(req))
            .header(
                http::header::ACCEPT,
                HeaderValue::from_static("application/json"),
            )
            .idempotency(req.idempotency);
        if req.ignore_meta {
            request = request.header(IGNORE_META, HeaderValue::from_static("1"));
        }
        if let Some(body) = &req.body {
            request = request.json_bytes(body.clone());
        }
        let response = self.http.send(&request).await?;
        Ok((response.headers, response.body))
    }

    /// Decodes a body `req` answered, naming the failing field path.
    pub(crate) fn decode<T: DeserializeOwned>(
        &self,
        req: &Request,
        body: &[u8],
    ) -> Result<T, Error> {
        decode_json(body, &self.http.vendor().secrets())
            .map_err(|e: Error| e.with_request(self.context(req)))
    }

    /// Sends `req` and decodes a JSON response.
    pub(crate) async fn json<T: DeserializeOwned>(&self, req: &Request) -> Result<T, Error> {
        let body = self.send(req).await?;
        self.decode(req, &body)
    }

    /// Sends `req` and ignores the response body.
    pub(crate) async fn execute(&self, req: &Request) -> Result<(), Error> {
        self.send(req).await.map(drop)
    }
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
    let guard = PageGuard::new(u64::from(transport.max_pages));
    paginate((guard, 0u64), move |(mut guard, skip)| {
        let transport = Arc::clone(&transport);
        let request = request.clone();
        async move {
            let req = request
                .query("limit", page_size.to_string())
                .query("skip", skip.to_string());
            let stop = |reason: String| {
                let context = transport.context(&req);
                tracing::warn!(path = %context.path(), %reason, "Oomnitza listing stopped");
                Err(Error::new(ErrorKind::Paging { reason }).with_request(context))
            };
            let (headers, body) = transport.send_full(&req).await?;
            let page: Vec<T> = transport.decode(&req, &body)?;
            if page.is_empty() {
                return Ok(Page::last(page));
            }
            let ids = page.iter().map(ListItem::listing_id);
            if let Some(repeats) = guard.page(ids, total_count(&headers)) {
                return stop(format!(
                    "the page at skip={skip} repeats {} record(s) already received \
                     (e.g. id {}): the server seems to ignore `skip`, or the records moved \
                     while they were paged",
                    repeats.count, repeats.example
                ));
            }
            if let Some(total) = guard.over_total(u64::from(page_size)) {
                return stop(format!(
                    "{} records received in {} page(s), more than X-Total-Count ({total}) plus \
                     one page",
                    guard.received(),
                    guard.pages()
                ));
            }
            let n = page.len() as u64;
            if n < u64::from(page_size) {
                return Ok(Page::last(page));
            }
            if guard.at_page_limit() {
                return stop(guard.limit_message("records", "[oomnitza] max_pages"));
            }
            Ok(Page::then(page, (guard, skip + n)))
        }
    })
}
