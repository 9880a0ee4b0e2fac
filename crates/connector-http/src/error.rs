//! The one error type of every vendor client.
//!
//! [`Error`] is one pointer wide (a box holding the [`ErrorKind`] and the request it came
//! from), so `Result<T, Error<B>>` stays small. A cause is kept as a `#[source]` and never
//! formatted into the message as well: a report that walks the chain ([`Error::report`])
//! says each thing once. No token reaches it: requests are shown by method and path,
//! URLs are [`RedactedUrl`]s, request headers are never kept, and response text is
//! scrubbed of the client's secrets before it is stored.

use std::fmt;
use std::time::Duration;

use http::{Method, StatusCode};
use sync_engine::{ConnectorError, ErrorKind as EngineKind};

use crate::redact::RedactedUrl;

/// A vendor's parsed error body, carried as data in [`ErrorKind::Api`].
pub trait ApiBody: fmt::Display + fmt::Debug + Send + Sync + 'static {
    /// The vendor's name, for messages (`Quip`, `Oomnitza`).
    const VENDOR: &'static str;

    /// Parses an error body. Every occurrence of one of `secrets` is replaced before the
    /// text is kept (and before it is shortened, so no prefix of a secret survives).
    fn parse(bytes: &[u8], secrets: &[&str]) -> Self;

    /// True when there is nothing to show.
    fn is_empty(&self) -> bool;

    /// Whether messages show a request's query (secret values hidden, long ones shortened)
    /// after its path. Off by default: a query may carry people's data (filters by email).
    const SHOW_QUERY: bool = false;
}

/// The request an error came from: method, redacted URL and attempts made. Messages show
/// the method and the path (and the query where the vendor says so: [`ApiBody::SHOW_QUERY`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// HTTP method.
    pub method: Method,
    /// The URL, redacted.
    pub url: RedactedUrl,
    /// Attempts made (1 when it was not retried).
    pub attempts: u32,
}

impl RequestContext {
    /// The path, e.g. `/api/v3/users`.
    pub fn path(&self) -> &str {
        self.url.path()
    }
}

impl RequestContext {
    fn write(&self, f: &mut fmt::Formatter<'_>, query: bool) -> fmt::Result {
        if query {
            write!(f, "{} {}", self.method, self.url.path_and_query())?;
        } else {
            write!(f, "{} {}", self.method, self.path())?;
        }
        if self.attempts > 1 {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

/// `GET /api/v3/users (after 3 attempts)`: method, path and attempts, never the query.
impl fmt::Display for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, false)
    }
}

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind<B> {
    /// The vendor answered with an error status that is not retried, or still did after
    /// every attempt.
    Api {
        /// HTTP status.
        status: StatusCode,
        /// The vendor's error body.
        body: B,
    },
    /// An endpoint that is only assumed to exist answered 404.
    NotAvailable,
    /// The vendor answered with a redirect, which is never followed: the token and any
    /// request body would go to wherever it points.
    Redirect {
        /// HTTP status (301, 302, 303, 307, 308).
        status: StatusCode,
        /// Where the redirect pointed: scheme, host, port and path only.
        location: String,
    },
    /// A response body was larger than the configured limit; the rest was not read, and
    /// the request is not retried.
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
        /// The size the server declared in `Content-Length`, when it declared one.
        declared: Option<u64>,
    },
    /// A listing did not end the way one ends (a repeated page, cursor or record, more
    /// records than the server's own total, more pages than allowed). What was read is
    /// incomplete.
    Paging {
        /// What was wrong.
        reason: String,
    },
    /// Rate limits or retries could not be satisfied within the wait cap or the number
    /// of tolerated throttled responses.
    Throttled {
        /// Time waited against the cap so far.
        waited: Duration,
        /// Why the client stopped.
        reason: String,
        /// HTTP status of the last response, when one arrived.
        status: Option<StatusCode>,
    },
    /// An attempt timed out (and was not, or no longer, retried).
    Timeout {
        /// The per-attempt timeout.
        after: Duration,
        /// The HTTP client's error (URL stripped).
        source: reqwest::Error,
    },
    /// The connection failed or broke (and was not, or no longer, retried).
    Network {
        /// What happened, in a few words.
        description: &'static str,
        /// The HTTP client's error (URL stripped).
        source: reqwest::Error,
    },
    /// A response body did not decode; `path` names the failing JSON field.
    Decode {
        /// JSON path of the failing field (`.` for the document).
        path: String,
        /// The decoder's error (scrubbed of the client's secrets).
        source: serde_json::Error,
    },
    /// A per-item error reported inside a successful response.
    Item {
        /// Which item (e.g. `saas user 12`).
        item: String,
        /// The vendor's message.
        message: String,
    },
    /// The client or a request was misconfigured (bad URL, bad filter, too many keys).
    Config {
        /// What to fix.
        message: String,
    },
    /// The HTTP client could not be built.
    Client {
        /// The HTTP client's error.
        source: reqwest::Error,
    },
}

/// A failed call to a vendor API, or a client that could not be built.
pub struct Error<B> {
    inner: Box<Repr<B>>,
}

struct Repr<B> {
    kind: ErrorKind<B>,
    request: Option<RequestContext>,
}

impl<B: ApiBody> Error<B> {
    /// An error of `kind` without request context.
    pub fn new(kind: ErrorKind<B>) -> Self {
        Error {
            inner: Box::new(Repr {
                kind,
                request: None,
            }),
        }
    }

    /// A configuration error.
    pub fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config {
            message: message.into(),
        })
    }

    /// The same error, from `request`.
    #[must_use]
    pub fn with_request(mut self, request: RequestContext) -> Self {
        self.inner.request = Some(request);
        self
    }

    /// The same error, from a request of `method` to `url` after `attempts` attempts.
    #[must_use]
    pub fn at(self, method: Method, url: RedactedUrl, attempts: u32) -> Self {
        self.with_request(RequestContext {
            method,
            url,
            attempts,
        })
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind<B> {
        &self.inner.kind
    }

    /// The kind, by value.
    pub fn into_kind(self) -> ErrorKind<B> {
        self.inner.kind
    }

    /// The request, when the error came from one.
    pub fn request(&self) -> Option<&RequestContext> {
        self.inner.request.as_ref()
    }

    /// The HTTP status the vendor answered with, when the failure carries one.
    pub fn status(&self) -> Option<StatusCode> {
        match &self.inner.kind {
            ErrorKind::Api { status, .. } | ErrorKind::Redirect { status, .. } => Some(*status),
            ErrorKind::NotAvailable => Some(StatusCode::NOT_FOUND),
            ErrorKind::Throttled { status, .. } => *status,
            _ => None,
        }
    }

    /// The vendor's error body, for [`ErrorKind::Api`].
    pub fn api_body(&self) -> Option<&B> {
        match &self.inner.kind {
            ErrorKind::Api { body, .. } => Some(body),
            _ => None,
        }
    }

    /// True when the credentials were rejected (401 or 403).
    pub fn is_auth(&self) -> bool {
        matches!(&self.inner.kind, ErrorKind::Api { status, .. }
            if *status == StatusCode::UNAUTHORIZED || *status == StatusCode::FORBIDDEN)
    }

    /// True for a 404 answer.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// True for a 409 answer.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(StatusCode::CONFLICT)
    }

    /// True when the client gave up on rate limits or on the wait cap.
    pub fn is_throttled(&self) -> bool {
        matches!(&self.inner.kind, ErrorKind::Throttled { .. })
    }

    /// True when the failure may go away by itself: 429, 5xx, giving up on waiting,
    /// timeouts and network errors. For a request that is not idempotent this means "the
    /// server may or may not have applied it".
    pub fn is_transient(&self) -> bool {
        match &self.inner.kind {
            ErrorKind::Api { status, .. } => {
                *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
            }
            ErrorKind::Throttled { .. } | ErrorKind::Timeout { .. } | ErrorKind::Network { .. } => {
                true
            }
            _ => false,
        }
    }

    /// The engine's classification of this error.
    pub fn engine_kind(&self) -> EngineKind {
        match &self.inner.kind {
            ErrorKind::Api { status, .. } => match status.as_u16() {
                401 | 403 => EngineKind::Auth,
                429 => EngineKind::Throttled,
                s if s >= 500 => EngineKind::Transient,
                _ => EngineKind::Api,
            },
            ErrorKind::NotAvailable
            | ErrorKind::TooLarge { .. }
            | ErrorKind::Paging { .. }
            | ErrorKind::Item { .. } => EngineKind::Api,
            ErrorKind::Throttled { .. } => EngineKind::Throttled,
            ErrorKind::Timeout { .. } | ErrorKind::Network { .. } => EngineKind::Transient,
            ErrorKind::Decode { .. } => EngineKind::Decode,
            ErrorKind::Config { .. } | ErrorKind::Client { .. } | ErrorKind::Redirect { .. } => {
                EngineKind::Config
            }
        }
    }

    /// The message, then each cause once: for reports that have no error chain to walk
    /// (never contains a token).
    pub fn report(&self) -> String {
        let mut out = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            let text = s.to_string();
            if !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            source = s.source();
        }
        out
    }
}

/// `67108864` → `64 MiB`, for messages.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if n >= size && n.is_multiple_of(size) {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} bytes")
}

/// `409 Conflict`.
fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// What went wrong, without naming the vendor (an [`Error`] names it first).
impl<B: ApiBody> fmt::Display for ErrorKind<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Api { status, body } => {
                write!(f, "answered HTTP {}", status_text(*status))?;
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                Ok(())
            }
            ErrorKind::NotAvailable => f.write_str("not available on this site (HTTP 404)"),
            ErrorKind::Redirect { status, location } => write!(
                f,
                "answered {} redirecting to {location}; redirects are not followed, so no \
                 token or data was sent there (check the configured URL: use the address the \
                 redirect names only if you trust it)",
                status_text(*status)
            ),
            ErrorKind::TooLarge { limit, .. } => write!(
                f,
                "the response is larger than the limit of {limit} bytes ({}); the rest was not \
                 read (raise `[{}] max_response_bytes` only if this site really sends such \
                 answers)",
                human_bytes(*limit),
                B::VENDOR.to_ascii_lowercase()
            ),
            ErrorKind::Paging { reason } => {
                write!(f, "listing stopped: {reason}; the listing is incomplete")
            }
            ErrorKind::Throttled { waited, reason, .. } => write!(
                f,
                "gave up after waiting {}s in total on rate limits and retries ({reason})",
                waited.as_secs()
            ),
            ErrorKind::Timeout { after, .. } => {
                write!(f, "no answer: timed out after {}s", after.as_secs_f64())
            }
            ErrorKind::Network { description, .. } => write!(f, "not reached: {description}"),
            ErrorKind::Decode { path, .. } => {
                write!(f, "returned a body that does not decode at `{path}`")
            }
            ErrorKind::Item { item, message } => write!(f, "rejected {item}: {message}"),
            ErrorKind::Config { message } => write!(f, "client configuration: {message}"),
            ErrorKind::Client { .. } => f.write_str("the HTTP client could not be built"),
        }
    }
}

impl<B: ApiBody> std::error::Error for ErrorKind<B> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ErrorKind::Timeout { source, .. }
            | ErrorKind::Network { source, .. }
            | ErrorKind::Client { source } => Some(source),
            ErrorKind::Decode { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// `Quip GET /1/users/current: answered HTTP 401 Unauthorized: Invalid access_token`:
/// the vendor, the request, what went wrong.
impl<B: ApiBody> fmt::Display for Error<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", B::VENDOR)?;
        if let Some(r) = &self.inner.request {
            r.write(f, B::SHOW_QUERY)?;
            f.write_str(": ")?;
        }
        fmt::Display::fmt(&self.inner.kind, f)
    }
}

impl<B: ApiBody> fmt::Debug for Error<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("request", &self.inner.request)
            .finish()
    }
}

impl<B: ApiBody> std::error::Error for Error<B> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.inner.kind)
    }
}

impl<B: ApiBody> From<ErrorKind<B>> for Error<B> {
    fn from(kind: ErrorKind<B>) -> Self {
        Error::new(kind)
    }
}

/// The engine's error carries the whole report as its message and no source: a chain
/// that held this error too would say every cause twice.
impl<B: ApiBody> From<Error<B>> for ConnectorError {
    fn from(error: Error<B>) -> Self {
        ConnectorError::new(error.engine_kind(), error.report())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vendor body for tests: the text as given, scrubbed.
    #[derive(Debug)]
    struct Body(String);

    impl fmt::Display for Body {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl ApiBody for Body {
        const VENDOR: &'static str = "Acme";

        fn parse(bytes: &[u8], secrets: &[&str]) -> Self {
            let mut text = String::from_utf8_lossy(bytes).into_owned();
            for s in secrets {
                text = text.replace(s, "[redacted]");
            }
            Body(text)
        }

        fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
    }

    fn url(s: &str) -> RedactedUrl {
        RedactedUrl::new(url::Url::parse(s).unwrap())
    }

    #[test]
    fn display_names_request_and_maps_kinds() {
        let e = Error::new(ErrorKind::Api {
            status: StatusCode::CONFLICT,
            body: Body("dup".into()),
        })
        .at(Method::POST, url("https://h/api/v3/users?filter=x"), 1);
        assert_eq!(
            e.to_string(),
            "Acme POST /api/v3/users: answered HTTP 409 Conflict: dup"
        );
        assert!(e.is_conflict());
        assert!(!e.is_transient());
        assert_eq!(e.engine_kind(), EngineKind::Api);
        let e = Error::new(ErrorKind::Api {
            status: StatusCode::BAD_GATEWAY,
            body: Body(String::new()),
        })
        .at(Method::GET, url("https://h/api/v3/users"), 4);
        assert_eq!(
            e.to_string(),
            "Acme GET /api/v3/users (after 4 attempts): answered HTTP 502 Bad Gateway"
        );
        assert!(e.is_transient());
        let c: ConnectorError = e.into();
        assert_eq!(c.kind, EngineKind::Transient);
        let e = Error::<Body>::config("bad URL");
        assert_eq!(e.to_string(), "Acme client configuration: bad URL");
        let e = Error::<Body>::new(ErrorKind::Api {
            status: StatusCode::UNAUTHORIZED,
            body: Body("no".into()),
        });
        assert!(e.is_auth());
        assert_eq!(e.engine_kind(), EngineKind::Auth);
        let e = Error::<Body>::new(ErrorKind::Throttled {
            waited: Duration::from_secs(61),
            reason: "HTTP 429".into(),
            status: Some(StatusCode::TOO_MANY_REQUESTS),
        });
        assert!(e.is_throttled() && e.is_transient());
        assert_eq!(e.status(), Some(StatusCode::TOO_MANY_REQUESTS));
        assert_eq!(e.engine_kind(), EngineKind::Throttled);
        assert!(e.to_string().contains("gave up after waiting 61s"), "{e}");
    }

    #[test]
    fn a_cause_is_a_source_and_never_part_of_the_message() {
        let source = serde_json::from_str::<u32>("\"x\"").unwrap_err();
        let cause = source.to_string();
        let e = Error::<Body>::new(ErrorKind::Decode {
            path: "[1].id".into(),
            source,
        })
        .at(Method::GET, url("https://h/x"), 1);
        let message = e.to_string();
        assert!(message.contains("`[1].id`"), "{message}");
        assert!(!message.contains(&cause), "{message}");
        let source = std::error::Error::source(&e).expect("a source");
        assert_eq!(source.to_string(), cause);
        // The report says each thing once.
        assert_eq!(e.report(), format!("{message}: {cause}"));
        let c = ConnectorError::from(e);
        assert_eq!(c.kind, EngineKind::Decode);
        assert_eq!(c.message.matches(&cause).count(), 1, "{}", c.message);
        assert!(std::error::Error::source(&c).is_none());
    }

    #[test]
    fn error_is_one_pointer() {
        assert_eq!(
            std::mem::size_of::<Error<Body>>(),
            std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(64 << 20), "64 MiB");
        assert_eq!(human_bytes(3 << 10), "3 KiB");
        assert_eq!(human_bytes(1 << 30), "1 GiB");
        assert_eq!(human_bytes(1000), "1000 bytes");
    }
}
