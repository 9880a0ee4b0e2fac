//! Errors as RFC 9457 `application/problem+json`, with a stable `type` per kind.
//!
//! Every error the API answers is one of these, including what axum or a middleware would
//! otherwise answer with an empty or plain-text body (unknown route, wrong method, a body
//! over the limit, a timeout): see [`problem_for_bare_errors`].

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sync_store::{ErrorKind, StoreError};

/// The media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The prefix of every problem `type` (a URI reference, documented in `docs/api.md`).
pub const TYPE_PREFIX: &str = "/problems/";

/// One problem in a list (launch validation, body errors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// Where: a configuration key (`quip.credential`), a JSON path (`config.mapping`),
    /// or a check (`oomnitza.users`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl Item {
    /// A problem at `key`.
    pub fn at(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: Some(key.into()),
            message: message.into(),
        }
    }

    /// A problem without a place.
    pub fn bare(message: impl Into<String>) -> Self {
        Self {
            key: None,
            message: message.into(),
        }
    }
}

/// An error answer (boxed, so results stay small).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Problem(Box<ProblemDoc>);

/// The members of a problem document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemDoc {
    /// `/problems/<kind>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status, repeated.
    pub status: u16,
    /// This occurrence, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Every problem found (validation).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Item>,
    /// Extra members (e.g. `current_version` on a conflict).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    /// A problem of `kind` (the last segment of its `type`).
    pub fn new(status: StatusCode, kind: &str, title: &str) -> Self {
        Self(Box::new(ProblemDoc {
            kind: format!("{TYPE_PREFIX}{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: None,
            errors: Vec::new(),
            extra: serde_json::Map::new(),
        }))
    }

    /// The document.
    pub fn doc(&self) -> &ProblemDoc {
        &self.0
    }

    /// With a detail line.
    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.0.detail = Some(detail.into());
        self
    }

    /// With these problems listed.
    #[must_use]
    pub fn errors(mut self, errors: Vec<Item>) -> Self {
        self.0.errors = errors;
        self
    }

    /// With an extra member.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.0.extra.insert(key.to_owned(), value.into());
        self
    }

    /// 400: the body is not valid JSON or not the expected shape.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "Malformed request").detail(detail)
    }

    /// 401: no or an unknown bearer token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "A valid bearer token is required",
        )
        .detail("send `Authorization: Bearer <token>` (quip-oomnitza-cloud token create)")
    }

    /// 403: the token may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed").detail(detail)
    }

    /// 404: no such thing for this owner.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found").detail(detail)
    }

    /// 422: the request is well-formed but the values are not acceptable.
    pub fn invalid(errors: Vec<Item>) -> Self {
        let detail = match errors.as_slice() {
            [one] => one.message.clone(),
            many => format!("{} problems; see `errors`", many.len()),
        };
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "The request has invalid values",
        )
        .detail(detail)
        .errors(errors)
    }

    /// 500, without internals (they are logged).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
        )
        .detail("the service failed; the error is in its log")
    }

    /// The status.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e.kind() {
            ErrorKind::NotFound { what, id } => {
                Problem::not_found(format!("{what} `{id}` not found"))
            }
            ErrorKind::VersionConflict {
                what,
                id,
                expected,
                actual,
            } => Problem::new(
                StatusCode::CONFLICT,
                "version-conflict",
                "Changed by someone else",
            )
            .detail(format!(
                "{what} `{id}` is at version {actual}, not {expected}: read it again and retry"
            ))
            .with("current_version", *actual),
            ErrorKind::Duplicate { what, name } => {
                Problem::new(StatusCode::CONFLICT, "duplicate", "Exists already")
                    .detail(format!("{what} `{name}` exists already"))
            }
            ErrorKind::NotRunnable { status, .. } => Problem::new(
                StatusCode::CONFLICT,
                "not-runnable",
                "Only launched integrations run",
            )
            .detail(format!("the integration is {status}: launch it first")),
            ErrorKind::Invalid { what, reason } => {
                Problem::invalid(vec![Item::at(*what, reason.clone())])
            }
            _ => {
                tracing::error!(error = %error_chain(&e), "store failure");
                Problem::internal()
            }
        }
    }
}

/// `e` and its causes, `: `-joined (never holds a secret: store and runtime errors name
/// rows and keys only).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// Middleware: an error answer that is not problem+json (axum's 404/405, a timeout's 408,
/// anything else with an empty or plain body) becomes a problem of the same status.
pub async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if is_problem {
        return response;
    }
    let (kind, title) = match status {
        StatusCode::NOT_FOUND => ("not-found", "Not found"),
        StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "Method not allowed"),
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => {
            ("timeout", "The request took too long")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("body-too-large", "Request body too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", "Send application/json"),
        s if s.is_server_error() => ("internal", "Internal error"),
        _ => ("bad-request", "Malformed request"),
    };
    let mut problem = Problem::new(status, kind, title);
    if status == StatusCode::METHOD_NOT_ALLOWED
        && let Some(allow) = response.headers().get(header::ALLOW)
    {
        problem = problem.detail(format!("allowed: {}", allow.to_str().unwrap_or_default()));
    }
    let mut out = problem.into_response();
    if let Some(allow) = response.headers().get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}
