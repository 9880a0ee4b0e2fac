//! Error answers: Quip's JSON error body on `/1/...`, the SCIM error body on `/2/...`.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

/// `Content-Type` of SCIM responses (RFC 7644 §3.1).
pub(crate) const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// An error answer of a handler.
#[derive(Debug, Clone)]
pub(crate) enum ApiError {
    /// `{"error":…,"error_code":…,"error_description":…}`
    Quip {
        status: StatusCode,
        description: String,
    },
    /// `{"schemas":[…Error],"status":"400","scimType":…,"detail":…}`
    Scim {
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: String,
    },
}

impl ApiError {
    pub(crate) fn bad_request(description: impl Into<String>) -> Self {
        ApiError::Quip {
            status: StatusCode::BAD_REQUEST,
            description: description.into(),
        }
    }

    pub(crate) fn unauthorized() -> Self {
        ApiError::Quip {
            status: StatusCode::UNAUTHORIZED,
            description: "Invalid access_token".to_owned(),
        }
    }

    pub(crate) fn forbidden(description: impl Into<String>) -> Self {
        ApiError::Quip {
            status: StatusCode::FORBIDDEN,
            description: description.into(),
        }
    }

    pub(crate) fn not_found(description: impl Into<String>) -> Self {
        ApiError::Quip {
            status: StatusCode::NOT_FOUND,
            description: description.into(),
        }
    }

    pub(crate) fn scim(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        ApiError::Scim {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// The company in a request is not the caller's.
    pub(crate) fn other_company() -> Self {
        ApiError::forbidden("Not authorized to access this company")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Quip {
                status,
                description,
            } => {
                let body = json!({
                    "error": status.canonical_reason().unwrap_or("Error"),
                    "error_code": status.as_u16(),
                    "error_description": description,
                });
                (status, axum::Json(body)).into_response()
            }
            ApiError::Scim {
                status,
                scim_type,
                detail,
            } => {
                let mut body = json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                    "status": status.as_u16().to_string(),
                    "detail": detail,
                });
                if let Some(t) = scim_type {
                    body["scimType"] = json!(t);
                }
                let mut response = (status, axum::Json(body)).into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(SCIM_CONTENT_TYPE),
                );
                response
            }
        }
    }
}
