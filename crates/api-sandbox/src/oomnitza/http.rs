//! HTTP plumbing shared by the route handlers (authentication, errors, bodies, list
//! parameters) and the People (`/api/v3/users`) handlers.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Map, Value, json};

use super::state::{OomnitzaState, StateError, WriteRules};
use crate::faults::PageFault;

/// What every handler gets: the state and the paging limits.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub state: OomnitzaState,
    pub limits: Limits,
}

/// Paging limits (`oomnitza-api.md` §13: default 100, silently capped at 1000).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub default: usize,
    pub max: usize,
}

/// Who is calling: recorded in `created_by`/`changed_by`.
#[derive(Debug, Clone)]
pub(crate) struct Actor(pub String);

/// The credentials the emulator accepts. Sandbox values, not secrets, and never logged.
#[derive(Clone)]
pub(crate) struct AuthConfig {
    pub token: String,
    pub basic_user: String,
    pub basic_password: String,
    pub api_user: String,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("basic_user", &self.basic_user)
            .field("api_user", &self.api_user)
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// The actor for these request headers, or `None` when authentication fails.
    fn authenticate(&self, headers: &HeaderMap) -> Option<String> {
        if let Some(token) = headers.get("authorization2") {
            let token = token.to_str().ok()?.trim();
            return (!self.token.is_empty() && token == self.token).then(|| self.api_user.clone());
        }
        let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, credentials) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = String::from_utf8(decode_base64(credentials.trim())?).ok()?;
        let (user, password) = decoded.split_once(':')?;
        (!self.basic_user.is_empty() && user == self.basic_user && password == self.basic_password)
            .then(|| user.to_owned())
    }
}

/// Standard base64 (RFC 4648, padding optional).
fn decode_base64(input: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        Some(u32::from(v))
    };
    let data = input.trim_end_matches('=').as_bytes();
    if data.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    for chunk in data.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// Middleware: `Authorization2: <token>` or HTTP Basic; 401 otherwise.
pub(crate) async fn auth_layer(
    State(auth): State<Arc<AuthConfig>>,
    mut request: Request,
    next: Next,
) -> Response {
    match auth.authenticate(request.headers()) {
        Some(actor) => {
            request.extensions_mut().insert(Actor(actor));
            next.run(request).await
        }
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "errors": ["Authentication failure"] })),
        )
            .into_response(),
    }
}

/// A [`StateError`] as an HTTP response.
#[derive(Debug)]
pub(crate) struct ApiError(pub StateError);

impl From<StateError> for ApiError {
    fn from(e: StateError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0.body())).into_response()
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, value: Value) -> Response {
    (status, Json(value)).into_response()
}

/// A list page with the `X-Total-Count` hint.
pub(crate) fn list_response(items: Vec<Value>, total: usize) -> Response {
    let mut response = (StatusCode::OK, Json(Value::Array(items))).into_response();
    response
        .headers_mut()
        .insert("x-total-count", HeaderValue::from(total));
    response
}

/// The request body as JSON.
pub(crate) fn json_body(body: &Bytes) -> Result<Value, StateError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(StateError::Rejected(
            "a JSON request body is required".to_owned(),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| StateError::Rejected(format!("invalid JSON body: {e}")))
}

/// The request body as a JSON object.
pub(crate) fn object_body(body: &Bytes) -> Result<Map<String, Value>, StateError> {
    match json_body(body)? {
        Value::Object(map) => Ok(map),
        _ => Err(StateError::Rejected(
            "the request body must be a JSON object".to_owned(),
        )),
    }
}

/// `limit`, `skip` and the other v3 list parameters.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListParams {
    pub limit: usize,
    pub skip: usize,
    pub sortby: Option<String>,
    pub filter: Option<String>,
    pub fields: Option<String>,
    pub text: Option<String>,
    pub roles: Option<String>,
    pub last_visit: Option<String>,
}

impl ListParams {
    pub(crate) fn parse(query: Option<&str>, limits: Limits) -> Result<Self, StateError> {
        let pairs: HashMap<String, String> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|e| StateError::Rejected(format!("bad query string: {e}")))?;
        let number = |name: &str| -> Result<Option<usize>, StateError> {
            pairs
                .get(name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| {
                    v.trim().parse::<usize>().map_err(|_| {
                        StateError::Rejected(format!("{name} must be a non-negative integer"))
                    })
                })
                .transpose()
        };
        let limit = number("limit")?.unwrap_or(limits.default);
        if limit == 0 {
            return Err(StateError::Rejected("limit must be at least 1".to_owned()));
        }
        let text = |name: &str| pairs.get(name).filter(|v| !v.trim().is_empty()).cloned();
        Ok(ListParams {
            limit: limit.min(limits.max),
            skip: number("skip")?.unwrap_or(0),
            sortby: text("sortby"),
            filter: text("filter"),
            fields: text("fields"),
            text: text("text").or_else(|| text("q")),
            roles: text("roles"),
            last_visit: text("last_visit"),
        })
    }

    /// The slice of `total` matching items to serve; a paging fault serves the previous
    /// page again or skips one.
    pub(crate) fn window(&self, total: usize, fault: Option<PageFault>) -> Range<usize> {
        let skip = match fault {
            Some(PageFault::Repeat) => self.skip.saturating_sub(self.limit),
            Some(PageFault::Skip) => self.skip.saturating_add(self.limit),
            None => self.skip,
        };
        let start = skip.min(total);
        start..start.saturating_add(self.limit).min(total)
    }
}

/// True when `Oomnitza-Ignore-Meta-Restriction` asks to write non-editable fields.
fn ignore_meta(headers: &HeaderMap) -> bool {
    headers
        .get("oomnitza-ignore-meta-restriction")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim(), "1" | "true" | "True"))
}

fn rest_rules(headers: &HeaderMap) -> WriteRules {
    if ignore_meta(headers) {
        WriteRules::REST_IGNORE_META
    } else {
        WriteRules::REST
    }
}

/// `GET /api/v3/users`
pub(crate) async fn list_users(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
    page_fault: Option<Extension<PageFault>>,
) -> ApiResult {
    let params = ListParams::parse(query.as_deref(), app.limits)?;
    let inner = app.state.lock();
    let table = &inner.people;
    let filter = params
        .filter
        .as_deref()
        .map(|f| table.parse_filter(f))
        .transpose()?;
    let sort = params
        .sortby
        .as_deref()
        .map(|s| table.parse_sort(s))
        .transpose()?
        .unwrap_or_default();
    let fields = params
        .fields
        .as_deref()
        .map(|f| {
            f.split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| {
                    table
                        .schema
                        .slot(n)
                        .ok_or_else(|| StateError::Rejected(format!("fields: unknown field '{n}'")))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let fault = page_fault.map(|Extension(f)| f);
    if filter.is_none() && sort.is_empty() && params.text.is_none() {
        // Plain paging: no need to collect every id.
        let total = table.len();
        let window = params.window(total, fault);
        let page = table
            .ids()
            .skip(window.start)
            .take(window.len())
            .map(|id| table.render(id, fields.as_deref()))
            .collect();
        return Ok(list_response(page, total));
    }
    let mut ids = table.query(filter.as_ref(), &sort);
    if let Some(text) = &params.text {
        let needle = text.to_lowercase();
        ids.retain(|&id| {
            table.schema.active().any(|(slot, _)| {
                table
                    .get(id, slot)
                    .as_str()
                    .is_some_and(|s| s.to_lowercase().contains(&needle))
            })
        });
    }
    let window = params.window(ids.len(), fault);
    let page = ids[window]
        .iter()
        .map(|&id| table.render(id, fields.as_deref()))
        .collect();
    Ok(list_response(page, ids.len()))
}

/// `POST /api/v3/users`
pub(crate) async fn create_user(
    State(app): State<AppState>,
    Extension(Actor(actor)): Extension<Actor>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let body = object_body(&body)?;
    let mut inner = app.state.lock();
    let uid = inner.create_person(&body, rest_rules(&headers), &actor)?;
    Ok(json_response(
        StatusCode::OK,
        inner.people.render(uid, None),
    ))
}

/// `GET /api/v3/users/{ident}`
pub(crate) async fn get_user(State(app): State<AppState>, Path(ident): Path<String>) -> ApiResult {
    let inner = app.state.lock();
    let uid = inner
        .resolve_person(&ident)
        .ok_or(StateError::NotFound(ident))?;
    Ok(json_response(
        StatusCode::OK,
        inner.people.render(uid, None),
    ))
}

/// `PATCH /api/v3/users/{ident}`
pub(crate) async fn patch_user(
    State(app): State<AppState>,
    Extension(Actor(actor)): Extension<Actor>,
    Path(ident): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let body = object_body(&body)?;
    let mut inner = app.state.lock();
    let uid = inner
        .resolve_person(&ident)
        .ok_or(StateError::NotFound(ident))?;
    inner.update_person(uid, &body, rest_rules(&headers), &actor)?;
    Ok(json_response(
        StatusCode::OK,
        inner.people.render(uid, None),
    ))
}

/// `DELETE /api/v3/users/{ident}`: 200 with the removed record.
pub(crate) async fn delete_user(
    State(app): State<AppState>,
    Path(ident): Path<String>,
) -> ApiResult {
    let mut inner = app.state.lock();
    let uid = inner
        .resolve_person(&ident)
        .ok_or_else(|| StateError::NotFound(ident.clone()))?;
    let record = inner
        .delete_person(uid)
        .ok_or(StateError::NotFound(ident))?;
    Ok(json_response(StatusCode::OK, record))
}

/// `GET /api/v3/users/meta`
pub(crate) async fn users_meta(State(app): State<AppState>) -> Response {
    json_response(StatusCode::OK, app.state.field_meta())
}

/// `GET /api/v2/mappings`: the connector's authentication check and server-side mapping.
/// The sandbox keeps no server-side mappings, so every mapping is empty.
pub(crate) async fn mappings() -> Response {
    json_response(StatusCode::OK, json!({}))
}

/// Anything else.
pub(crate) async fn not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, json!({ "errors": ["not found"] }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(decode_base64("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        assert_eq!(decode_base64("YWI").unwrap(), b"ab");
        assert!(decode_base64("Y").is_none());
        assert!(decode_base64("a*b=").is_none());
    }

    #[test]
    fn paging_window() {
        let p = ListParams {
            limit: 10,
            skip: 20,
            ..ListParams::default()
        };
        assert_eq!(p.window(25, None), 20..25);
        assert_eq!(p.window(15, None), 15..15);
        assert_eq!(p.window(100, Some(PageFault::Repeat)), 10..20);
        assert_eq!(p.window(100, Some(PageFault::Skip)), 30..40);
    }

    #[test]
    fn limit_defaults_and_caps() {
        let limits = Limits {
            default: 100,
            max: 1000,
        };
        assert_eq!(ListParams::parse(None, limits).unwrap().limit, 100);
        assert_eq!(
            ListParams::parse(Some("limit=5000&skip=3"), limits)
                .unwrap()
                .limit,
            1000
        );
        assert!(ListParams::parse(Some("limit=abc"), limits).is_err());
        assert!(ListParams::parse(Some("limit=0"), limits).is_err());
        assert!(ListParams::parse(Some("skip=-1"), limits).is_err());
    }
}
