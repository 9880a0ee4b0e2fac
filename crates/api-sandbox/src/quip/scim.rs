//! SCIM 2.0 (RFC 7644): list with paging and filters, get, delete (= disable).

use std::sync::Arc;

use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::faults::PageFault;

use super::error::{ApiError, SCIM_CONTENT_TYPE};
use super::json::ScimUser;
use super::params::Params;
use super::state::{Entry, Shared};

/// A supported filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Filter {
    /// `emails eq "x"` (or `emails.value eq "x"`): any of the user's emails.
    Email(String),
    /// `userName eq "x"`: the primary email.
    UserName(String),
}

/// Parses `attribute eq "value"`: attribute names and the operator are case-insensitive,
/// the value must be a JSON-style quoted string (RFC 7644 §3.4.2.2).
pub(crate) fn parse_filter(raw: &str) -> Result<Filter, String> {
    let raw = raw.trim();
    let (attr, rest) = raw
        .split_once(char::is_whitespace)
        .ok_or_else(|| format!("Unsupported filter: {raw}"))?;
    let rest = rest.trim_start();
    let (op, value) = rest
        .split_once(char::is_whitespace)
        .ok_or_else(|| format!("Unsupported filter: {raw}"))?;
    if !op.eq_ignore_ascii_case("eq") {
        return Err(format!("Unsupported operator '{op}': only eq is supported"));
    }
    let value = value.trim();
    if !value.starts_with('"') {
        return Err(format!("The value of {attr} must be a quoted string"));
    }
    let value: String = serde_json::from_str(value)
        .map_err(|_| format!("The value of {attr} must be one quoted string"))?;
    match attr.to_ascii_lowercase().as_str() {
        "emails" | "emails.value" => Ok(Filter::Email(value)),
        "username" => Ok(Filter::UserName(value)),
        _ => Err(format!(
            "Unsupported filter attribute '{attr}': use emails or userName"
        )),
    }
}

fn scim_json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = (status, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(SCIM_CONTENT_TYPE),
            );
            response
        }
        Err(e) => {
            ApiError::scim(StatusCode::INTERNAL_SERVER_ERROR, None, e.to_string()).into_response()
        }
    }
}

fn invalid_value(detail: impl Into<String>) -> ApiError {
    ApiError::scim(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
}

fn not_found() -> ApiError {
    ApiError::scim(StatusCode::NOT_FOUND, None, "User not found")
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListResponse<'a> {
    schemas: [&'static str; 1],
    total_results: usize,
    start_index: usize,
    items_per_page: usize,
    #[serde(rename = "Resources")]
    resources: Vec<ScimUser<'a>>,
}

fn int(params: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    params
        .int(name)
        .map_err(|_| invalid_value(format!("{name} must be an integer")))
}

/// `GET /2/Users?startIndex=&count=&filter=`
pub(crate) async fn list(
    State(app): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    fault: Option<Extension<PageFault>>,
) -> Result<Response, ApiError> {
    let params = Params::query(query.as_deref()).map_err(|_| {
        ApiError::scim(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            "Malformed query",
        )
    })?;
    // RFC 7644 §3.4.2.4: startIndex < 1 is read as 1, a negative count as 0.
    let start = usize::try_from(int(&params, "startIndex")?.unwrap_or(1).max(1)).unwrap_or(1);
    let filter = match params.get("filter") {
        Some(f) if !f.trim().is_empty() => Some(
            parse_filter(f)
                .map_err(|d| ApiError::scim(StatusCode::BAD_REQUEST, Some("invalidFilter"), d))?,
        ),
        _ => None,
    };
    let dir = app.dir();
    let cap = dir.settings.scim_max_count;
    let count = match int(&params, "count")? {
        None => cap,
        Some(c) => usize::try_from(c.max(0)).unwrap_or(usize::MAX).min(cap),
    };
    let matches: Vec<&Entry> = match &filter {
        None => dir.people.iter().collect(),
        Some(Filter::Email(email)) => dir.by_email(email).into_iter().collect(),
        Some(Filter::UserName(name)) => dir
            .by_email(name)
            .filter(|e| e.person.email().eq_ignore_ascii_case(name))
            .into_iter()
            .collect(),
    };
    let served = match fault {
        Some(Extension(PageFault::Repeat)) => start.saturating_sub(count).max(1),
        Some(Extension(PageFault::Skip)) => start.saturating_add(count),
        None => start,
    };
    let total = matches.len();
    let from = (served - 1).min(total);
    let to = from.saturating_add(count).min(total);
    let resources: Vec<ScimUser<'_>> = matches[from..to]
        .iter()
        .map(|e| ScimUser::new(&e.person, e.updated_usec))
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &ListResponse {
            schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            total_results: total,
            start_index: start,
            items_per_page: resources.len(),
            resources,
        },
    ))
}

/// `GET /2/Users/{id}`
pub(crate) async fn get(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let dir = app.dir();
    let entry = dir.get(&id).ok_or_else(not_found)?;
    Ok(scim_json(
        StatusCode::OK,
        &ScimUser::new(&entry.person, entry.updated_usec),
    ))
}

/// `DELETE /2/Users/{id}`: disables the account (it stays listed with `active: false`).
pub(crate) async fn delete(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let now = app.now_usec();
    if app.disable(&id, now) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_per_rfc_and_case_insensitive_names() {
        assert_eq!(
            parse_filter(r#"emails eq "a@b.c""#),
            Ok(Filter::Email("a@b.c".into()))
        );
        assert_eq!(
            parse_filter(r#"  USERNAME  EQ  "Jane \"J\" Doe" "#),
            Ok(Filter::UserName("Jane \"J\" Doe".into()))
        );
        assert_eq!(
            parse_filter(r#"Emails.Value eq "x""#),
            Ok(Filter::Email("x".into()))
        );
        assert!(parse_filter("emails eq a@b.c").is_err(), "unquoted");
        assert!(parse_filter(r#"emails co "a""#).is_err(), "operator");
        assert!(parse_filter(r#"active eq "true""#).is_err(), "attribute");
        assert!(parse_filter(r#"emails eq "a" and userName eq "b""#).is_err());
        assert!(parse_filter("emails").is_err());
    }
}
