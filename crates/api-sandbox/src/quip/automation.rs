//! Automation API: users and OAuth.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::gate::{Caller, throttled};
use super::json::{UserJson, synthetic_user};
use super::params::Params;
use super::ratelimit::Area;
use super::state::{Shared, fnv1a};

/// Most keys one bulk lookup accepts (confirmed: Quip docs).
pub(crate) const BULK_MAX_KEYS: usize = 1_000;

/// Map value for a key that matches nobody (the wording is an assumption).
pub(crate) const BULK_NOT_FOUND: &str = "User not found";

/// Most contacts returned for the token owner.
const MAX_CONTACTS: usize = 25;

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// `GET /1/users/current`
pub(crate) async fn current(
    State(app): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
) -> Json<Value> {
    let dir = app.dir();
    let synthetic;
    let person = if let Some(entry) = dir.get(&caller.user_id) {
        &entry.person
    } else {
        synthetic = synthetic_user(&caller.user_id, caller.user_id == dir.owner_id);
        &synthetic
    };
    let user = to_value(&UserJson::new(person, &app.company_id, &caller.user_id).with_folders());
    Json(user)
}

/// `GET /1/users/{id_or_email}`; a comma-separated list is a bulk lookup (go-quip style).
pub(crate) async fn user(
    State(app): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if key.contains(',') {
        return bulk(&app, &caller, &key);
    }
    let dir = app.dir();
    let entry = dir
        .lookup(key.trim())
        .ok_or_else(|| ApiError::not_found("User not found"))?;
    Ok(Json(to_value(&UserJson::new(
        &entry.person,
        &app.company_id,
        &caller.user_id,
    ))))
}

/// `GET /1/users/?ids=a,b,c`
pub(crate) async fn bulk_get(
    State(app): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = Params::query(query.as_deref())?;
    bulk(&app, &caller, params.required("ids")?)
}

/// `POST /1/users/` with form body `ids=a,b,c`
pub(crate) async fn bulk_post(
    State(app): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let params = Params::form(&body)?.merge(Params::query(query.as_deref())?);
    bulk(&app, &caller, params.required("ids")?)
}

fn bulk(app: &Shared, caller: &Caller, ids: &str) -> Result<Json<Value>, ApiError> {
    let keys: Vec<&str> = ids
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .collect();
    if keys.is_empty() {
        return Err(ApiError::bad_request("ids is required"));
    }
    if keys.len() > BULK_MAX_KEYS {
        return Err(ApiError::bad_request(format!(
            "Too many ids: {} given, at most {BULK_MAX_KEYS} allowed",
            keys.len()
        )));
    }
    let dir = app.dir();
    let mut out = Map::with_capacity(keys.len());
    for key in keys {
        let value = dir.lookup(key).map_or_else(
            || json!(BULK_NOT_FOUND),
            |e| to_value(&UserJson::new(&e.person, &app.company_id, &caller.user_id)),
        );
        out.insert(key.to_owned(), value);
    }
    Ok(Json(Value::Object(out)))
}

/// `GET /1/users/contacts`: the owner's closest enabled colleagues, by affinity.
pub(crate) async fn contacts(
    State(app): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
) -> Json<Value> {
    let dir = app.dir();
    let mut people: Vec<(u64, &crate::Person)> = dir
        .people
        .iter()
        .map(|e| &e.person)
        .filter(|p| !p.disabled && !p.is_robot && p.quip_id != caller.user_id)
        .map(|p| (fnv1a(&[&caller.user_id, &p.quip_id]) % 100, p))
        .collect();
    people.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.quip_id.cmp(&b.1.quip_id)));
    let users: Vec<Value> = people
        .into_iter()
        .take(MAX_CONTACTS)
        .map(|(_, p)| to_value(&UserJson::new(p, &app.company_id, &caller.user_id)))
        .collect();
    Json(Value::Array(users))
}

/// `GET /1/oauth/verify_token`: 200 for a valid token.
pub(crate) async fn verify_token(
    State(app): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
) -> Json<Value> {
    Json(json!({ "user_id": caller.user_id, "company_id": app.company_id }))
}

/// `POST /1/oauth/access_token` (form: `grant_type=refresh_token`, `refresh_token`,
/// `client_id`, `client_secret`). Authenticated by the client credentials, not a bearer
/// token; counted against the token owner's Automation budget.
pub(crate) async fn access_token(State(app): State<Arc<Shared>>, body: Bytes) -> Response {
    let params = match Params::form(&body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let (client_ok, owner, refresh_token, lifetime) = {
        let dir = app.dir();
        (
            params.get("client_id") == Some(dir.oauth.client_id.as_str())
                && params.get("client_secret") == Some(dir.oauth.client_secret.as_str()),
            dir.owner_id.clone(),
            dir.oauth.refresh_token.clone(),
            dir.oauth.expires_in_secs,
        )
    };
    if !client_ok {
        return oauth_error(
            http::StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client_id or client_secret",
        );
    }
    let decision = app.admit(Area::Automation, &owner);
    if !decision.allowed {
        return throttled(decision);
    }
    let mut response = match params.get("grant_type") {
        Some("refresh_token") if params.get("refresh_token") == Some(refresh_token.as_str()) => {
            let expires_at = app.now() + std::time::Duration::from_secs(lifetime);
            let token = app.dir().issue_token(&app.company_id, expires_at);
            Json(json!({
                "access_token": token,
                "refresh_token": refresh_token,
                "expires_in": lifetime,
                "token_type": "Bearer",
                "scope": "USER_READ ADMIN_READ",
            }))
            .into_response()
        }
        Some("refresh_token") => oauth_error(
            http::StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid refresh_token",
        ),
        _ => oauth_error(
            http::StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be refresh_token",
        ),
    };
    response.headers_mut().extend(decision.headers);
    response
}

/// An OAuth error in Quip's error shape, with the OAuth error code as `error`.
fn oauth_error(status: http::StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({
            "error": error,
            "error_code": status.as_u16(),
            "error_description": description,
        })),
    )
        .into_response()
}
