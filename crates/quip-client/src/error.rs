//! The crate's one error type.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use sync_engine::{ConnectorError, ErrorKind as EngineKind};

use crate::redact::RedactedUrl;

/// A failed call to Quip (or a client that could not be built).
///
/// Never contains a token: URLs are [`RedactedUrl`]s, request headers are never kept, and
/// response text is scrubbed of the client's tokens before it is stored.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct QuipError {
    kind: Box<ErrorKind>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Quip answered with an error status that is not retried (4xx other than 429, or a
    /// 5xx of a request that is not safe to repeat).
    #[error("Quip {endpoint} failed with HTTP {status}{body}")]
    Api {
        /// The request.
        endpoint: Endpoint,
        /// HTTP status.
        status: u16,
        /// Quip's error body (`error`, `error_code`, `error_description`).
        body: ApiErrorBody,
    },
    /// Quip answered with a redirect, which is never followed: the token and any form body
    /// would go to wherever it points.
    #[error(
        "Quip {endpoint} answered HTTP {status} redirecting to {location}; redirects are not \
         followed, so no token or data was sent there (check the configured URL)"
    )]
    Redirect {
        /// The request.
        endpoint: Endpoint,
        /// HTTP status (301, 302, 303, 307, 308).
        status: u16,
        /// Where the redirect pointed, shown without user-info or secret query values.
        location: String,
    },
    /// A response body was larger than the configured limit; the rest was not read, and the
    /// request is not retried.
    #[error(
        "Quip {endpoint}: the response is larger than the limit of {limit} bytes ({}); the rest \
         was not read (raise `[quip] max_response_bytes` only if this site really sends such \
         answers)",
        human_bytes(*limit)
    )]
    TooLarge {
        /// The request.
        endpoint: Endpoint,
        /// The limit, in bytes.
        limit: u64,
        /// The size the server declared in `Content-Length`, when it declared one.
        declared: Option<u64>,
    },
    /// A listing or Events cursor did not end the way one ends: a repeated page, cursor or
    /// record, more records than the server's own total, or more pages than allowed. What
    /// was read is incomplete.
    #[error("Quip {endpoint}: paging stopped: {reason}; the listing is incomplete")]
    Paging {
        /// The request that would have come next (or the one that showed the problem).
        endpoint: Endpoint,
        /// What was wrong.
        reason: String,
    },
    /// An endpoint this project only assumes exists answered 404.
    #[error("Quip {endpoint} is not available on this site (HTTP 404)")]
    NotAvailable {
        /// The request.
        endpoint: Endpoint,
    },
    /// Rate limits could not be satisfied within the per-run wait cap or the number of
    /// tolerated throttled responses.
    #[error(
        "Quip {endpoint}: gave up after waiting {}s in total on rate limits and retries ({reason})",
        waited.as_secs()
    )]
    Throttled {
        /// The request.
        endpoint: Endpoint,
        /// Time waited so far in this run.
        waited: Duration,
        /// Why the client stopped.
        reason: String,
    },
    /// A network error, timeout or 5xx that persisted through every attempt.
    #[error("Quip {endpoint} failed after {attempts} attempt(s): {description}")]
    Transient {
        /// The request.
        endpoint: Endpoint,
        /// Attempts made.
        attempts: u32,
        /// HTTP status of the last attempt, when one arrived.
        status: Option<u16>,
        /// What happened on the last attempt.
        description: String,
        /// The network error of the last attempt (URL stripped).
        #[source]
        source: Option<reqwest::Error>,
    },
    /// A response body did not decode; `path` names the failing JSON field.
    #[error("Quip {endpoint} returned a body that does not decode at `{path}`: {source}")]
    Decode {
        /// The request.
        endpoint: Endpoint,
        /// JSON path of the failing field (`.` for the document).
        path: String,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// The client or a request was misconfigured (bad URL, too many bulk keys, ...).
    #[error("Quip client configuration: {message}")]
    Config {
        /// What to fix.
        message: String,
    },
}

impl QuipError {
    /// An error of this kind.
    pub fn new(kind: ErrorKind) -> Self {
        QuipError {
            kind: Box::new(kind),
        }
    }

    /// A configuration error.
    pub fn config(message: impl Into<String>) -> Self {
        QuipError::new(ErrorKind::Config {
            message: message.into(),
        })
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The kind, by value.
    pub fn into_kind(self) -> ErrorKind {
        *self.kind
    }

    /// The HTTP status Quip answered with, when the failure carries one.
    pub fn status(&self) -> Option<u16> {
        match &*self.kind {
            ErrorKind::Api { status, .. } | ErrorKind::Redirect { status, .. } => Some(*status),
            ErrorKind::NotAvailable { .. } => Some(404),
            ErrorKind::Transient { status, .. } => *status,
            _ => None,
        }
    }

    /// Quip's `error_description`, when the failure carries one.
    pub fn error_description(&self) -> Option<&str> {
        match &*self.kind {
            ErrorKind::Api { body, .. } => body.error_description.as_deref(),
            _ => None,
        }
    }

    /// True when the credentials were rejected (401 or 403).
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401 | 403)) && matches!(&*self.kind, ErrorKind::Api { .. })
    }

    /// True when the client gave up on rate limits.
    pub fn is_throttled(&self) -> bool {
        matches!(&*self.kind, ErrorKind::Throttled { .. })
    }

    /// The engine's classification of this error.
    pub fn engine_kind(&self) -> EngineKind {
        match &*self.kind {
            ErrorKind::Api {
                status: 401 | 403, ..
            } => EngineKind::Auth,
            ErrorKind::Api { status, .. } if *status >= 500 => EngineKind::Transient,
            ErrorKind::Api { .. }
            | ErrorKind::NotAvailable { .. }
            | ErrorKind::TooLarge { .. }
            | ErrorKind::Paging { .. } => EngineKind::Api,
            ErrorKind::Throttled { .. } => EngineKind::Throttled,
            ErrorKind::Transient { .. } => EngineKind::Transient,
            ErrorKind::Decode { .. } => EngineKind::Decode,
            ErrorKind::Config { .. } | ErrorKind::Redirect { .. } => EngineKind::Config,
        }
    }
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

impl From<ErrorKind> for QuipError {
    fn from(kind: ErrorKind) -> Self {
        QuipError::new(kind)
    }
}

impl From<QuipError> for ConnectorError {
    fn from(error: QuipError) -> Self {
        ConnectorError::new(error.engine_kind(), error.to_string()).with_source(error)
    }
}

/// A request, for messages: method and redacted URL.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// HTTP method.
    pub method: http::Method,
    /// The URL, redacted.
    pub url: RedactedUrl,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.url)
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({self})")
    }
}

/// Quip's JSON error body (quip-api.md §7); every field optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ApiErrorBody {
    /// Short error name, e.g. `Unauthorized`.
    #[serde(default)]
    pub error: Option<String>,
    /// Error code; its type is not documented, so any JSON.
    #[serde(default)]
    pub error_code: Option<serde_json::Value>,
    /// Human-readable description, e.g. `Invalid access_token`, `Over Rate Limit`.
    #[serde(default)]
    pub error_description: Option<String>,
    /// SCIM error detail (RFC 7644 §3.12).
    #[serde(default)]
    pub detail: Option<String>,
    /// SCIM error type, e.g. `invalidFilter`.
    #[serde(default, rename = "scimType")]
    pub scim_type: Option<String>,
    /// Start of a body that was not Quip's error JSON (scrubbed, at most 200 characters).
    #[serde(skip)]
    pub text: Option<String>,
}

impl ApiErrorBody {
    /// Parses an error body; a non-JSON body is kept as text. `secrets` are replaced by
    /// `[redacted]` in every text field *before* the text is shortened to 200 characters,
    /// so no prefix of a secret survives the cut.
    pub(crate) fn parse(bytes: &[u8], secrets: &[&str]) -> Self {
        let mut body = serde_json::from_slice::<ApiErrorBody>(bytes).unwrap_or_else(|_| {
            let text = String::from_utf8_lossy(bytes);
            let text = text.trim();
            ApiErrorBody {
                text: (!text.is_empty()).then(|| text.to_owned()),
                ..ApiErrorBody::default()
            }
        });
        for secret in secrets {
            body.scrub(secret);
        }
        if let Some(t) = &mut body.text {
            *t = t.chars().take(200).collect();
        }
        body
    }

    /// The most useful line: `error_description`, else SCIM's `detail`, else `error`,
    /// else the text.
    pub fn message(&self) -> Option<&str> {
        self.error_description
            .as_deref()
            .or(self.detail.as_deref())
            .or(self.error.as_deref())
            .or(self.text.as_deref())
    }

    /// Replaces any occurrence of `secret` in the stored text fields.
    fn scrub(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        for field in [
            &mut self.error,
            &mut self.error_description,
            &mut self.detail,
            &mut self.scim_type,
            &mut self.text,
        ] {
            if let Some(s) = field
                && s.contains(secret)
            {
                *s = s.replace(secret, "[redacted]");
            }
        }
        if let Some(code) = &self.error_code
            && code.to_string().contains(secret)
        {
            self.error_code = Some(serde_json::Value::String("[redacted]".into()));
        }
    }
}

impl fmt::Display for ApiErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.message() {
            Some(m) => write!(f, ": {m}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_error_body() {
        let body = ApiErrorBody::parse(
            br#"{"error":"Unauthorized","error_code":401,"error_description":"Invalid access_token"}"#,
            &[],
        );
        assert_eq!(body.error.as_deref(), Some("Unauthorized"));
        assert_eq!(body.error_code, Some(serde_json::json!(401)));
        assert_eq!(body.message(), Some("Invalid access_token"));
    }

    #[test]
    fn non_json_body_is_kept_short_and_scrubbed() {
        let long = format!("<html>echo SECRET-1 {}</html>", "x".repeat(500));
        let body = ApiErrorBody::parse(long.as_bytes(), &["SECRET-1"]);
        let text = body.text.unwrap();
        assert_eq!(text.chars().count(), 200);
        assert!(text.contains("[redacted]") && !text.contains("SECRET-1"));
        // A secret straddling the cut is replaced before cutting: no prefix survives.
        let edge = format!("{}SECRET-1", "y".repeat(195));
        let text = ApiErrorBody::parse(edge.as_bytes(), &["SECRET-1"])
            .text
            .unwrap();
        assert!(!text.contains("SECRE"), "{text}");
        let json = br#"{"error_description":"bad SECRET-1","error_code":"SECRET-1"}"#;
        let body = ApiErrorBody::parse(json, &["SECRET-1"]);
        assert_eq!(body.message(), Some("bad [redacted]"));
        assert_eq!(body.error_code, Some(serde_json::json!("[redacted]")));
    }

    #[test]
    fn error_is_small() {
        assert_eq!(
            std::mem::size_of::<QuipError>(),
            std::mem::size_of::<usize>()
        );
    }
}
