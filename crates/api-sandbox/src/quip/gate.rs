//! Authentication, authorization and rate limiting in front of every gated route.
//!
//! Order: bearer token (401 without a valid one; no budget is touched and no rate-limit
//! headers are sent, since an unknown caller has no budget) → budgets (throttled requests
//! consume nothing) → Admin routes need an admin's token (403, with rate-limit headers,
//! the request counted against the Admin budget) → the handler. Every authenticated
//! response carries the rate-limit headers of its budgets.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::json;

use super::config::ThrottleStyle;
use super::error::ApiError;
use super::ratelimit::{Area, Decision};
use super::state::Shared;

/// The authenticated caller, inserted as a request extension for handlers.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The token owner's user id.
    pub(crate) user_id: String,
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// 401 in the error format of the area.
pub(crate) fn unauthorized(area: Area) -> Response {
    let error = match area {
        Area::Scim => ApiError::scim(StatusCode::UNAUTHORIZED, None, "Invalid access_token"),
        Area::Automation | Area::Admin => ApiError::unauthorized(),
    };
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The answer to a throttled request.
pub(crate) fn throttled(decision: Decision) -> Response {
    let status = match decision.style {
        ThrottleStyle::Status503 => StatusCode::SERVICE_UNAVAILABLE,
        ThrottleStyle::Status429 => StatusCode::TOO_MANY_REQUESTS,
    };
    let mut response = (
        status,
        axum::Json(json!({ "error_description": "Over Rate Limit" })),
    )
        .into_response();
    response.headers_mut().extend(decision.headers);
    response
}

/// The middleware (install with `route_layer`).
pub(crate) async fn gate(
    State(app): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let area = Area::of(request.uri().path());
    let Some(grant) = bearer(request.headers()).and_then(|t| app.authenticate(t, area)) else {
        tracing::debug!(path = %request.uri().path(), "rejected: missing or invalid token");
        return unauthorized(area);
    };
    let decision = app.admit(area, &grant.owner_id);
    if !decision.allowed {
        tracing::debug!(path = %request.uri().path(), "throttled");
        return throttled(decision);
    }
    let mut response = if area == Area::Admin && !grant.admin {
        ApiError::forbidden("The Admin API requires an admin's access token").into_response()
    } else {
        request.extensions_mut().insert(Caller {
            user_id: grant.owner_id,
        });
        next.run(request).await
    };
    response.headers_mut().extend(decision.headers);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("abc"));
        assert_eq!(bearer(&h), None);
    }
}
