//! The crate's one error type.
//!
//! [`Error`] is a small struct (a boxed [`ErrorKind`] plus the request it came from), so
//! `Result<T, Error>` stays one pointer wide. The API token never appears in it: requests
//! are described by method and path only, and response bodies are scrubbed of the token
//! before they are kept.

use std::collections::BTreeMap;
use std::fmt;

use http::{Method, StatusCode};
use serde_json::Value as Json;
use sync_engine::{ConnectorError, ErrorKind as EngineErrorKind};

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Oomnitza answered with a non-success status (after any retries).
    #[error("Oomnitza answered {status}{}", fmt_errors(errors))]
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The parsed `{"errors": …}` body (or the raw text when it was not JSON).
        errors: ApiErrors,
    },
    /// Oomnitza answered with a redirect, which is never followed: the token and the request
    /// body would go to wherever it points.
    #[error(
        "Oomnitza answered {status} redirecting to {location}; redirects are not followed, so \
         no token or data was sent there (check the base URL: use the address the redirect \
         names only if you trust it)"
    )]
    Redirect {
        /// The HTTP status (301, 302, 303, 307, 308).
        status: StatusCode,
        /// Where the redirect pointed (without query or user-info).
        location: String,
    },
    /// A response body was larger than the configured limit; the rest was not read, and the
    /// request is not retried.
    #[error(
        "Oomnitza's response is larger than the limit of {limit} bytes ({}); the rest was not \
         read (raise `[oomnitza] max_response_bytes` only if this tenant really sends such \
         answers)",
        human_bytes(*limit)
    )]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
        /// The size the server declared in `Content-Length`, when it declared one.
        declared: Option<u64>,
    },
    /// A listing did not end the way a listing ends: more records than the server's own
    /// total, a page repeating records already seen, or more pages than allowed. The listing
    /// is incomplete.
    #[error("Oomnitza's listing was stopped: {reason}; the listing is incomplete")]
    Paging {
        /// What was wrong.
        reason: String,
    },
    /// The request timed out (after any retries).
    #[error("the request timed out")]
    Timeout(#[source] reqwest::Error),
    /// The connection failed or broke (after any retries).
    #[error("could not reach Oomnitza")]
    Network(#[source] reqwest::Error),
    /// A response body did not decode; `path` names the failing JSON field.
    #[error("could not decode the response at `{path}`")]
    Decode {
        /// JSON path of the failing field, e.g. `[3].user_id`.
        path: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A per-item error reported inside a successful response.
    #[error("Oomnitza rejected {item}: {message}")]
    Item {
        /// Which item (e.g. `saas user 12`).
        item: String,
        /// Oomnitza's message.
        message: String,
    },
    /// A filter expression could not be built.
    #[error("invalid filter: {0}")]
    InvalidFilter(String),
    /// An argument or configuration value is not acceptable.
    #[error("{0}")]
    InvalidInput(String),
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// `67108864` → `64 MiB`, for messages.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if n >= size && n.is_multiple_of(size) {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} bytes")
}

fn fmt_errors(errors: &ApiErrors) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!(": {errors}")
    }
}

/// The error body Oomnitza sends, parsed.
///
/// Working assumption (`oomnitza-api.md` §13): bodies are `{"errors": ["message"]}` or
/// `{"errors": {"field": ["message"]}}`. Anything else is kept as (truncated) text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ApiErrors {
    /// No body, or an empty one.
    #[default]
    Empty,
    /// `{"errors": ["…", …]}`.
    Messages(Vec<String>),
    /// `{"errors": {"field": ["…"]}}`.
    Fields(BTreeMap<String, Vec<String>>),
    /// A body of another shape, truncated to 500 characters.
    Text(String),
}

impl ApiErrors {
    /// Parses an error body.
    pub fn parse(body: &[u8]) -> ApiErrors {
        if body.iter().all(u8::is_ascii_whitespace) {
            return ApiErrors::Empty;
        }
        if let Ok(json) = serde_json::from_slice::<Json>(body) {
            let inner = json
                .get("errors")
                .or_else(|| json.get("error"))
                .or_else(|| json.get("message"));
            match inner {
                Some(Json::Array(items)) => {
                    return ApiErrors::Messages(items.iter().map(json_text).collect());
                }
                Some(Json::Object(map)) => {
                    return ApiErrors::Fields(
                        map.iter()
                            .map(|(k, v)| {
                                let msgs = match v {
                                    Json::Array(items) => items.iter().map(json_text).collect(),
                                    other => vec![json_text(other)],
                                };
                                (k.clone(), msgs)
                            })
                            .collect(),
                    );
                }
                Some(Json::String(s)) => return ApiErrors::Messages(vec![s.clone()]),
                _ => {}
            }
        }
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let mut cut: String = text.chars().take(500).collect();
        if cut.len() < text.len() {
            cut.push('…');
        }
        ApiErrors::Text(cut)
    }

    /// True when there is nothing to show.
    pub fn is_empty(&self) -> bool {
        match self {
            ApiErrors::Empty => true,
            ApiErrors::Messages(m) => m.is_empty(),
            ApiErrors::Fields(f) => f.is_empty(),
            ApiErrors::Text(t) => t.is_empty(),
        }
    }

    /// The fields named in a field-keyed body.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            ApiErrors::Fields(f) => f.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// Replaces every occurrence of `secret` (when non-empty) with `[REDACTED]`.
    pub(crate) fn scrub(self, secret: &str) -> ApiErrors {
        if secret.is_empty() {
            return self;
        }
        let s = |t: String| t.replace(secret, "[REDACTED]");
        match self {
            ApiErrors::Empty => ApiErrors::Empty,
            ApiErrors::Messages(m) => ApiErrors::Messages(m.into_iter().map(s).collect()),
            ApiErrors::Fields(f) => ApiErrors::Fields(
                f.into_iter()
                    .map(|(k, v)| (s(k), v.into_iter().map(s).collect()))
                    .collect(),
            ),
            ApiErrors::Text(t) => ApiErrors::Text(s(t)),
        }
    }
}

fn json_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl fmt::Display for ApiErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiErrors::Empty => Ok(()),
            ApiErrors::Messages(m) => f.write_str(&m.join("; ")),
            ApiErrors::Fields(map) => {
                let mut first = true;
                for (field, msgs) in map {
                    if !first {
                        f.write_str("; ")?;
                    }
                    first = false;
                    write!(f, "{field}: {}", msgs.join(", "))?;
                }
                Ok(())
            }
            ApiErrors::Text(t) => f.write_str(t),
        }
    }
}

/// The request an error came from (method and path; never headers or the query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// HTTP method.
    pub method: Method,
    /// Path below the base URL, e.g. `/api/v3/users`.
    pub path: String,
    /// Attempts made (1 when it was not retried).
    pub attempts: u32,
}

/// An Oomnitza client error.
#[derive(Debug)]
pub struct Error {
    kind: Box<ErrorKind>,
    request: Option<Box<RequestContext>>,
}

impl Error {
    /// An error of `kind` without request context.
    pub fn new(kind: ErrorKind) -> Self {
        Error {
            kind: Box::new(kind),
            request: None,
        }
    }

    pub(crate) fn with_request(mut self, method: Method, path: &str, attempts: u32) -> Self {
        self.request = Some(Box::new(RequestContext {
            method,
            path: path.to_owned(),
            attempts,
        }));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The request, when the error came from one.
    pub fn request(&self) -> Option<&RequestContext> {
        self.request.as_deref()
    }

    /// The HTTP status, for [`ErrorKind::Api`].
    pub fn status(&self) -> Option<StatusCode> {
        match &*self.kind {
            ErrorKind::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The parsed error body, for [`ErrorKind::Api`].
    pub fn api_errors(&self) -> Option<&ApiErrors> {
        match &*self.kind {
            ErrorKind::Api { errors, .. } => Some(errors),
            _ => None,
        }
    }

    /// True for 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// True for 409 (a unique-field conflict, per the working assumptions).
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(StatusCode::CONFLICT)
    }

    /// True when the failure may go away by itself: 429, 5xx, timeouts, network errors.
    /// For a create this means "the server may or may not have applied it".
    pub fn is_transient(&self) -> bool {
        match &*self.kind {
            ErrorKind::Api { status, .. } => {
                *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
            }
            ErrorKind::Timeout(_) | ErrorKind::Network(_) => true,
            _ => false,
        }
    }

    /// The engine's classification of this error.
    pub fn engine_kind(&self) -> EngineErrorKind {
        match &*self.kind {
            ErrorKind::Api { status, .. } => match status.as_u16() {
                401 | 403 => EngineErrorKind::Auth,
                429 => EngineErrorKind::Throttled,
                s if s >= 500 => EngineErrorKind::Transient,
                _ => EngineErrorKind::Api,
            },
            ErrorKind::Timeout(_) | ErrorKind::Network(_) => EngineErrorKind::Transient,
            ErrorKind::Decode { .. } => EngineErrorKind::Decode,
            ErrorKind::InvalidFilter(_)
            | ErrorKind::InvalidInput(_)
            | ErrorKind::Client(_)
            | ErrorKind::Redirect { .. } => EngineErrorKind::Config,
            ErrorKind::Item { .. } | ErrorKind::TooLarge { .. } | ErrorKind::Paging { .. } => {
                EngineErrorKind::Api
            }
        }
    }

    /// The message plus the chain of causes, for reports (never contains the token).
    pub fn report(&self) -> String {
        let mut out = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            out.push_str(": ");
            out.push_str(&s.to_string());
            source = s.source();
        }
        out
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(r) = &self.request {
            write!(f, "{} {}", r.method, r.path)?;
            if r.attempts > 1 {
                write!(f, " (after {} attempts)", r.attempts)?;
            }
            f.write_str(": ")?;
        }
        fmt::Display::fmt(&self.kind, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.kind)
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

impl From<Error> for ConnectorError {
    fn from(e: Error) -> Self {
        let kind = e.engine_kind();
        ConnectorError::new(kind, e.report())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_error_shapes() {
        assert_eq!(
            ApiErrors::parse(br#"{"errors":["Authentication failure"]}"#),
            ApiErrors::Messages(vec!["Authentication failure".into()])
        );
        let f = ApiErrors::parse(br#"{"errors":{"quip_user_id":["Q1 already exists"]}}"#);
        assert_eq!(f.to_string(), "quip_user_id: Q1 already exists");
        assert_eq!(f.fields(), vec!["quip_user_id"]);
        assert_eq!(ApiErrors::parse(b"  "), ApiErrors::Empty);
        assert_eq!(
            ApiErrors::parse(b"<html>Bad gateway</html>"),
            ApiErrors::Text("<html>Bad gateway</html>".into())
        );
        let long = "x".repeat(2000);
        let ApiErrors::Text(t) = ApiErrors::parse(long.as_bytes()) else {
            panic!("text expected")
        };
        assert!(t.chars().count() <= 501);
    }

    #[test]
    fn scrub_removes_the_secret() {
        let e = ApiErrors::parse(br#"{"errors":["bad token CANARY-1"]}"#).scrub("CANARY-1");
        assert_eq!(e.to_string(), "bad token [REDACTED]");
    }

    #[test]
    fn display_names_request_and_maps_kinds() {
        let e = Error::new(ErrorKind::Api {
            status: StatusCode::CONFLICT,
            errors: ApiErrors::Messages(vec!["dup".into()]),
        })
        .with_request(Method::POST, "/api/v3/users", 1);
        assert_eq!(
            e.to_string(),
            "POST /api/v3/users: Oomnitza answered 409 Conflict: dup"
        );
        assert!(e.is_conflict());
        assert!(!e.is_transient());
        assert_eq!(e.engine_kind(), EngineErrorKind::Api);
        let e = Error::new(ErrorKind::Api {
            status: StatusCode::BAD_GATEWAY,
            errors: ApiErrors::Empty,
        })
        .with_request(Method::GET, "/api/v3/users", 4);
        assert_eq!(
            e.to_string(),
            "GET /api/v3/users (after 4 attempts): Oomnitza answered 502 Bad Gateway"
        );
        assert!(e.is_transient());
        let c: ConnectorError = e.into();
        assert_eq!(c.kind, EngineErrorKind::Transient);
    }
}
