//! The crate's error type (`connector_http`'s one error, carrying the SCIM error body) and
//! what a failure means for a caller ([`FailureKind`]).
//!
//! [`Error`] is one pointer wide. No credential reaches it: requests are shown by method
//! and path (never the query, which may hold a filter naming a person), and response text
//! is scrubbed of the client's secrets before it is kept.

use std::fmt;

use http::StatusCode;
use serde_json::Value;

pub use connector_http::RequestContext;

/// A SCIM client error.
pub type Error = connector_http::Error<ScimErrorBody>;

/// What went wrong, at the HTTP layer.
pub type ErrorKind = connector_http::ErrorKind<ScimErrorBody>;

/// The error message schema (RFC 7644 §3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// `scimType` of a SCIM error (RFC 7644 §3.12, table 9).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScimType {
    /// The filter syntax was invalid, or the attribute and operator are not supported.
    InvalidFilter,
    /// The filter yields more results than the server is willing to process.
    TooMany,
    /// An attribute value is not unique.
    Uniqueness,
    /// The change is incompatible with an attribute's mutability.
    Mutability,
    /// The request body structure was invalid.
    InvalidSyntax,
    /// The `path` attribute was invalid.
    InvalidPath,
    /// The path did not yield an attribute that could be operated on.
    NoTarget,
    /// A required value was missing, or a value was not compatible.
    InvalidValue,
    /// The protocol version is not supported.
    InvalidVers,
    /// Sensitive information was sent in the URI.
    Sensitive,
    /// A `scimType` the RFC does not define.
    Other(String),
}

impl ScimType {
    /// Reads a `scimType` (case as the RFC spells it; other spellings are `Other`).
    pub fn parse(raw: &str) -> Self {
        match raw {
            "invalidFilter" => ScimType::InvalidFilter,
            "tooMany" => ScimType::TooMany,
            "uniqueness" => ScimType::Uniqueness,
            "mutability" => ScimType::Mutability,
            "invalidSyntax" => ScimType::InvalidSyntax,
            "invalidPath" => ScimType::InvalidPath,
            "noTarget" => ScimType::NoTarget,
            "invalidValue" => ScimType::InvalidValue,
            "invalidVers" => ScimType::InvalidVers,
            "sensitive" => ScimType::Sensitive,
            other => ScimType::Other(other.to_owned()),
        }
    }

    /// The RFC's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
            ScimType::Other(s) => s,
        }
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decoded SCIM error message (`urn:ietf:params:scim:api:messages:2.0:Error`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ScimError {
    /// `status`: a string in the RFC, a number from some servers; kept as a number.
    pub status: Option<u16>,
    /// `scimType`.
    pub scim_type: Option<ScimType>,
    /// `detail`, scrubbed of the client's secrets and shortened to 500 characters.
    pub detail: Option<String>,
}

/// The error body of a failed SCIM request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ScimErrorBody {
    /// No body.
    #[default]
    Empty,
    /// A SCIM error message.
    Scim(ScimError),
    /// Anything else (an HTML page from a proxy, a vendor's own JSON), scrubbed and
    /// shortened to 500 characters.
    Text(String),
}

fn shorten(text: &str) -> String {
    let text = text.trim();
    let mut cut: String = text.chars().take(500).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

fn scrub(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_owned(), |t, s| t.replace(s, "[redacted]"))
}

impl ScimErrorBody {
    /// Parses an error body, replacing every occurrence of one of `secrets`.
    pub fn parse(bytes: &[u8], secrets: &[&str]) -> Self {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return ScimErrorBody::Empty;
        }
        if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(bytes) {
            let is_error_schema = map
                .get("schemas")
                .and_then(Value::as_array)
                .is_some_and(|s| s.iter().any(|v| v == ERROR_SCHEMA));
            if is_error_schema || map.contains_key("scimType") || map.contains_key("detail") {
                let status = match map.get("status") {
                    Some(Value::String(s)) => s.trim().parse().ok(),
                    Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                    _ => None,
                };
                let text = |key: &str| match map.get(key) {
                    Some(Value::String(s)) => Some(shorten(&scrub(s, secrets))),
                    Some(Value::Null) | None => None,
                    Some(other) => Some(shorten(&scrub(&other.to_string(), secrets))),
                };
                return ScimErrorBody::Scim(ScimError {
                    status,
                    scim_type: text("scimType").map(|t| ScimType::parse(&t)),
                    detail: text("detail"),
                });
            }
        }
        let text = String::from_utf8_lossy(bytes);
        ScimErrorBody::Text(shorten(&scrub(&text, secrets)))
    }

    /// The SCIM error message, when the body was one.
    pub fn scim(&self) -> Option<&ScimError> {
        match self {
            ScimErrorBody::Scim(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for ScimErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScimErrorBody::Empty => Ok(()),
            ScimErrorBody::Scim(e) => match (&e.scim_type, &e.detail) {
                (Some(t), Some(d)) => write!(f, "{t}: {d}"),
                (Some(t), None) => write!(f, "{t}"),
                (None, Some(d)) => f.write_str(d),
                (None, None) => f.write_str("(a SCIM error without detail)"),
            },
            ScimErrorBody::Text(t) => f.write_str(t),
        }
    }
}

impl connector_http::ApiBody for ScimErrorBody {
    const VENDOR: &'static str = "SCIM";

    fn parse(bytes: &[u8], secrets: &[&str]) -> Self {
        ScimErrorBody::parse(bytes, secrets)
    }

    fn is_empty(&self) -> bool {
        matches!(self, ScimErrorBody::Empty)
    }
}

/// What a failure means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// 401 or 403: the credential was refused or lacks the right.
    Auth,
    /// 429 retried until the attempts or the wait cap ran out.
    Throttled,
    /// 5xx, timeouts, connection failures, retried until the attempts ran out: may pass.
    Transient,
    /// 404: no such resource (or endpoint).
    NotFound,
    /// 400 `invalidFilter`: the server does not accept this filter.
    InvalidFilter,
    /// 400 `tooMany`: the filter matches more than the server will return.
    TooMany,
    /// Another 4xx answer.
    Rejected,
    /// A listing did not end the way a complete one ends (repeated, missing or short
    /// page, `totalResults` mismatch, page limit). Nothing read may be taken as complete.
    Incomplete,
    /// A response was larger than `max_response_bytes`.
    TooLarge,
    /// A response did not decode (or was not JSON).
    Decode,
    /// The client or a request was misconfigured (URL, credential, filter, redirect).
    Config,
}

/// SCIM-specific readings of an [`Error`].
pub trait ScimErrorExt {
    /// What the failure means.
    fn failure(&self) -> FailureKind;
    /// The SCIM error message the server sent, if any.
    fn scim_error(&self) -> Option<&ScimError>;
    /// Its `scimType`, if any.
    fn scim_type(&self) -> Option<&ScimType> {
        self.scim_error().and_then(|e| e.scim_type.as_ref())
    }
}

impl ScimErrorExt for Error {
    fn failure(&self) -> FailureKind {
        match self.kind() {
            ErrorKind::Api { status, body } => {
                let scim_type = body.scim().and_then(|e| e.scim_type.as_ref());
                match *status {
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => FailureKind::Auth,
                    StatusCode::NOT_FOUND => FailureKind::NotFound,
                    StatusCode::TOO_MANY_REQUESTS => FailureKind::Throttled,
                    s if s.is_server_error() => FailureKind::Transient,
                    _ => match scim_type {
                        Some(ScimType::InvalidFilter) => FailureKind::InvalidFilter,
                        Some(ScimType::TooMany) => FailureKind::TooMany,
                        _ => FailureKind::Rejected,
                    },
                }
            }
            ErrorKind::NotAvailable => FailureKind::NotFound,
            ErrorKind::Throttled { .. } => FailureKind::Throttled,
            ErrorKind::Timeout { .. } | ErrorKind::Network { .. } => FailureKind::Transient,
            ErrorKind::Paging { .. } => FailureKind::Incomplete,
            ErrorKind::TooLarge { .. } => FailureKind::TooLarge,
            ErrorKind::Decode { .. } => FailureKind::Decode,
            ErrorKind::Item { .. } => FailureKind::Rejected,
            _ => FailureKind::Config,
        }
    }

    fn scim_error(&self) -> Option<&ScimError> {
        self.api_body().and_then(ScimErrorBody::scim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_http::RedactedUrl;
    use http::Method;

    #[test]
    fn parses_scim_errors_with_string_or_number_status() {
        let body = ScimErrorBody::parse(
            br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"scimType":"invalidFilter","detail":"Bad filter","status":"400"}"#,
            &[],
        );
        assert_eq!(
            body,
            ScimErrorBody::Scim(ScimError {
                status: Some(400),
                scim_type: Some(ScimType::InvalidFilter),
                detail: Some("Bad filter".into()),
            })
        );
        assert_eq!(body.to_string(), "invalidFilter: Bad filter");
        let number = ScimErrorBody::parse(br#"{"status":404,"detail":"gone"}"#, &[]);
        assert_eq!(number.scim().and_then(|e| e.status), Some(404));
        let odd = ScimErrorBody::parse(br#"{"detail":"x","scimType":"vendorThing"}"#, &[]);
        assert_eq!(
            odd.scim().and_then(|e| e.scim_type.clone()),
            Some(ScimType::Other("vendorThing".into()))
        );
        assert_eq!(ScimErrorBody::parse(b"  \n", &[]), ScimErrorBody::Empty);
        assert_eq!(
            ScimErrorBody::parse(b"<html>Bad gateway</html>", &[]),
            ScimErrorBody::Text("<html>Bad gateway</html>".into())
        );
        let ScimErrorBody::Text(long) = ScimErrorBody::parse("y".repeat(3000).as_bytes(), &[])
        else {
            panic!("text expected")
        };
        assert_eq!(long.chars().count(), 501);
    }

    #[test]
    fn secrets_are_scrubbed_from_detail_and_text() {
        let b = ScimErrorBody::parse(br#"{"detail":"token CANARY-1 is bad"}"#, &["CANARY-1"]);
        assert_eq!(b.to_string(), "token [redacted] is bad");
        let t = ScimErrorBody::parse(b"Bearer CANARY-2 refused", &["CANARY-2", ""]);
        assert_eq!(t.to_string(), "Bearer [redacted] refused");
    }

    #[test]
    fn failures_follow_status_and_scim_type() {
        let url = RedactedUrl::new(url::Url::parse("https://h/scim/v2/Users").unwrap());
        let api = |status: u16, body: &[u8]| {
            Error::new(ErrorKind::Api {
                status: StatusCode::from_u16(status).unwrap(),
                body: ScimErrorBody::parse(body, &[]),
            })
            .at(Method::GET, url.clone(), 1)
        };
        assert_eq!(api(401, b"").failure(), FailureKind::Auth);
        assert_eq!(api(403, b"").failure(), FailureKind::Auth);
        assert_eq!(api(404, b"").failure(), FailureKind::NotFound);
        assert_eq!(api(429, b"").failure(), FailureKind::Throttled);
        assert_eq!(api(502, b"").failure(), FailureKind::Transient);
        let filter = api(400, br#"{"scimType":"invalidFilter","detail":"no"}"#);
        assert_eq!(filter.failure(), FailureKind::InvalidFilter);
        assert_eq!(filter.scim_type(), Some(&ScimType::InvalidFilter));
        assert_eq!(
            filter.to_string(),
            "SCIM GET /scim/v2/Users: answered HTTP 400 Bad Request: invalidFilter: no"
        );
        assert_eq!(
            api(400, br#"{"scimType":"tooMany"}"#).failure(),
            FailureKind::TooMany
        );
        assert_eq!(api(409, b"").failure(), FailureKind::Rejected);
        let paging = Error::new(ErrorKind::Paging { reason: "x".into() });
        assert_eq!(paging.failure(), FailureKind::Incomplete);
        assert_eq!(Error::config("bad").failure(), FailureKind::Config);
    }
}
