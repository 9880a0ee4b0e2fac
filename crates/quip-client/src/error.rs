//! The crate's error type: `connector_http`'s one error, carrying Quip's error body.

use std::fmt;

use serde::Deserialize;

/// A failed call to Quip (or a client that could not be built).
///
/// Never contains a token: URLs are [`crate::RedactedUrl`]s, request headers are never
/// kept, and response text is scrubbed of the client's tokens before it is stored.
/// [`connector_http::Error::api_body`] gives Quip's [`ApiErrorBody`] (with its
/// `error_description`).
pub type QuipError = connector_http::Error<ApiErrorBody>;

/// What went wrong.
pub type ErrorKind = connector_http::ErrorKind<ApiErrorBody>;

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
    pub fn parse(bytes: &[u8], secrets: &[&str]) -> Self {
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
        f.write_str(self.message().unwrap_or_default())
    }
}

impl connector_http::ApiBody for ApiErrorBody {
    const VENDOR: &'static str = "Quip";
    // As Quip's messages always did: the page (`startIndex`) is what a paging error is
    // about; secret values are hidden and long id lists shortened.
    const SHOW_QUERY: bool = true;

    fn parse(bytes: &[u8], secrets: &[&str]) -> Self {
        ApiErrorBody::parse(bytes, secrets)
    }

    fn is_empty(&self) -> bool {
        self.message().is_none_or(str::is_empty)
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

    #[test]
    fn messages_name_the_request_and_quips_description() {
        let e = QuipError::new(ErrorKind::Api {
            status: http::StatusCode::BAD_REQUEST,
            body: ApiErrorBody::parse(br#"{"error_description":"Invalid ids"}"#, &[]),
        })
        .at(
            http::Method::GET,
            crate::RedactedUrl::new(url::Url::parse("https://platform.quip.com/1/users/").unwrap()),
            1,
        );
        assert_eq!(
            e.to_string(),
            "Quip GET /1/users/: answered HTTP 400 Bad Request: Invalid ids"
        );
        assert_eq!(
            e.api_body().and_then(|b| b.error_description.as_deref()),
            Some("Invalid ids")
        );
    }
}
