//! The crate's error type: `connector_http`'s one error, carrying Oomnitza's error body.
//!
//! [`Error`] is one pointer wide (a box holding the [`ErrorKind`] and the request it came
//! from), so `Result<T, Error>` stays small. The API token never appears in it: requests
//! are described by method and path only, and response bodies are scrubbed of the token
//! before they are kept. [`connector_http::Error::api_body`] gives the parsed
//! [`ApiErrors`].

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value as Json;

pub use connector_http::RequestContext;

/// An Oomnitza client error.
pub type Error = connector_http::Error<ApiErrors>;

/// What went wrong.
pub type ErrorKind = connector_http::ErrorKind<ApiErrors>;

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

impl connector_http::ApiBody for ApiErrors {
    const VENDOR: &'static str = "Oomnitza";

    fn parse(bytes: &[u8], secrets: &[&str]) -> Self {
        secrets
            .iter()
            .fold(ApiErrors::parse(bytes), |errors, s| errors.scrub(s))
    }

    fn is_empty(&self) -> bool {
        ApiErrors::is_empty(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Method, StatusCode};
    use sync_engine::{ConnectorError, ErrorKind as EngineErrorKind};

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
        let e = <ApiErrors as connector_http::ApiBody>::parse(
            br#"{"errors":{"CANARY-1":["CANARY-2 is wrong"]}}"#,
            &["CANARY-1", "CANARY-2"],
        );
        assert_eq!(e.to_string(), "[REDACTED]: [REDACTED] is wrong");
    }

    fn url(path: &str) -> connector_http::RedactedUrl {
        connector_http::RedactedUrl::new(
            url::Url::parse(&format!("https://acme.oomnitza.com{path}")).unwrap(),
        )
    }

    #[test]
    fn display_names_request_and_maps_kinds() {
        let e = Error::new(ErrorKind::Api {
            status: StatusCode::CONFLICT,
            body: ApiErrors::Messages(vec!["dup".into()]),
        })
        .at(Method::POST, url("/api/v3/users"), 1);
        assert_eq!(
            e.to_string(),
            "Oomnitza POST /api/v3/users: answered HTTP 409 Conflict: dup"
        );
        assert!(e.is_conflict());
        assert!(!e.is_transient());
        assert_eq!(e.engine_kind(), EngineErrorKind::Api);
        let e = Error::new(ErrorKind::Api {
            status: StatusCode::BAD_GATEWAY,
            body: ApiErrors::Empty,
        })
        .at(Method::GET, url("/api/v3/users"), 4);
        assert_eq!(
            e.to_string(),
            "Oomnitza GET /api/v3/users (after 4 attempts): answered HTTP 502 Bad Gateway"
        );
        assert!(e.is_transient());
        let c: ConnectorError = e.into();
        assert_eq!(c.kind, EngineErrorKind::Transient);
    }
}
