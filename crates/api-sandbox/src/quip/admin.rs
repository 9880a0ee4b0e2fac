//! Admin API: user list, user info, admin roles.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use serde_json::{Value, json};

use crate::faults::PageFault;

use super::error::ApiError;
use super::gate::Caller;
use super::json::UserJson;
use super::params::Params;
use super::state::{Shared, derived_id};

/// The two built-in roles, listed first (confirmed: Salesforce Help 000393323).
const BUILT_IN_ROLES: [&str; 2] = ["Super Admin", "Site Admin"];

/// `POST /1/admin/users/list` (form: `company_id`, `page` 0-based, `count`).
pub(crate) async fn list(
    State(app): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
    fault: Option<Extension<PageFault>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let params = Params::form(&body)?.merge(Params::query(query.as_deref())?);
    params.company(&app)?;
    let page = params.int("page")?.unwrap_or(0);
    let page = usize::try_from(page).map_err(|_| ApiError::bad_request("page must be >= 0"))?;
    let dir = app.dir();
    let cap = dir.settings.admin_list_max_count;
    let count = match params.int("count")? {
        None => cap,
        Some(c) if c < 1 => return Err(ApiError::bad_request("count must be >= 1")),
        Some(c) => usize::try_from(c).unwrap_or(usize::MAX).min(cap),
    };
    let served = match fault {
        Some(Extension(PageFault::Repeat)) => page.saturating_sub(1),
        Some(Extension(PageFault::Skip)) => page.saturating_add(1),
        None => page,
    };
    let total = dir.people.len();
    let start = served.saturating_mul(count).min(total);
    let end = start.saturating_add(count).min(total);
    let users: Vec<UserJson<'_>> = dir.people[start..end]
        .iter()
        .map(|e| UserJson::new(&e.person, &app.company_id, &caller.user_id))
        .collect();
    let next_page = (page.saturating_add(1).saturating_mul(count) < total).then_some(page + 1);
    Ok(Json(json!({
        "users": users,
        "page": page,
        "count": count,
        "total_count": total,
        "next_page": next_page,
    })))
}

/// `GET /1/admin/users/{id}?company_id=` (`threads_meta=true` drops contacts and companies).
pub(crate) async fn user(
    State(app): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = Params::query(query.as_deref())?;
    params.company(&app)?;
    if id.contains('@') {
        // Quip's 2018 test script saw email lookups refused here.
        return Err(ApiError::bad_request("extra auth requires real user_id"));
    }
    let dir = app.dir();
    let entry = dir
        .get(&id)
        .ok_or_else(|| ApiError::not_found("User not found"))?;
    let user = UserJson::new(&entry.person, &app.company_id, &caller.user_id);
    Ok(Json(if params.flag("threads_meta") {
        json!({ "user": user, "threads": {} })
    } else {
        json!({ "user": user, "threads": {}, "contacts": {}, "companies": {} })
    }))
}

/// `GET /1/admin/company/admin-roles?company_id=` (unconfirmed endpoint; 404 when
/// switched off).
pub(crate) async fn roles(
    State(app): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    if !app.dir().settings.admin_roles_endpoint {
        return Err(super::no_such_endpoint());
    }
    let params = Params::query(query.as_deref())?;
    params.company(&app)?;
    let dir = app.dir();
    let mut by_role: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for role in BUILT_IN_ROLES {
        by_role.insert(role, Vec::new());
    }
    for entry in &dir.people {
        if let Some(role) = &entry.person.admin_role {
            by_role
                .entry(role.as_str())
                .or_default()
                .push(&entry.person.quip_id);
        }
    }
    let built_in = BUILT_IN_ROLES
        .iter()
        .filter_map(|r| by_role.get_key_value(r));
    let custom = by_role.iter().filter(|(r, _)| !BUILT_IN_ROLES.contains(r));
    let roles: Vec<Value> = built_in
        .chain(custom)
        .map(|(name, user_ids)| {
            json!({
                "id": derived_id(b'R', &[&app.company_id, name]),
                "name": name,
                "user_ids": user_ids,
            })
        })
        .collect();
    Ok(Json(json!({ "admin_roles": roles })))
}
