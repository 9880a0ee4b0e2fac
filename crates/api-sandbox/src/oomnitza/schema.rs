//! Request-body rules from Oomnitza's published OpenAPI document ("External API" 3.0.3,
//! the 2022 copy shipped with a generated Go client; `oomnitza-api.md` §6), for the SaaS
//! operations the clients use. A body that breaks one is answered 400 with Oomnitza's
//! field error shape `{"errors":{"<field>":["…"]}}`, so a contract test sending the wrong
//! shape fails here as it would on a tenant.
//!
//! | Operation | Schema in the document | Rule enforced |
//! |---|---|---|
//! | `POST /api/v3/saas` | `SaaS` | `saas_name`, `linked`, `link_key`, `source`, `ignored` present and non-empty (the schema's other required fields, `hash` and the change/creation dates and actors, are server-managed and filled in) — see [`super::fields`] |
//! | `POST /api/v3/saas/{ident}/users` | `SaaS Users Object`: array of `{user_id: string, assign: boolean}`, both required | [`seat_assignments`] |
//! | `POST /api/v3/saas/{ident}/users/{user_id}` | `SaaS User Manage Object`: `{user_external_id: string}`, required | [`user_external_id`] |
//! | `PATCH /api/v3/saas_users/{activate,deactivate}` | `inline_request`: `{saas_user_ids: [string]}` | [`saas_user_ids`] |
//! | `POST /api/v3/saas/{ident}/roles` | `SaaS Create Role Object`: `{role_external_label: string}` | checked where roles are created |
//! | `POST /api/v3/saas/{ident}/roles/users` | `Users SaaS Roles List Object`: `{users: [string], roles: [string]}`, both required | [`role_list`] |
//! | `PATCH /api/v3/saas/{ident}/roles/users` | `Users SaaS Role Update List Object`: `{users: string, roles: [{role_external_id: string (required), role_external_label: string}]}`, both required | [`role_update`] |

use axum::body::Bytes;
use serde_json::{Map, Value};

use super::http::object_body;
use super::state::StateError;

/// A value's JSON type, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong(field: &str, expected: &str, schema: &str, got: &Value) -> StateError {
    StateError::field(
        field,
        format!("must be {expected} ({schema}), got {}", kind(got)),
    )
}

fn required(field: &str, expected: &str, schema: &str) -> StateError {
    StateError::field(field, format!("required: {expected} ({schema})"))
}

/// A required array of strings in `body`.
fn strings(
    body: &Map<String, Value>,
    field: &str,
    schema: &str,
) -> Result<Vec<String>, StateError> {
    let expected = "an array of strings";
    match body.get(field) {
        None => Err(required(field, expected, schema)),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(wrong(&format!("{field}[{i}]"), "a string", schema, other)),
            })
            .collect(),
        Some(other) => Err(wrong(field, expected, schema, other)),
    }
}

/// `POST /api/v3/saas/{ident}/users`: the items, each an object with a string `user_id`
/// and a boolean `assign` (further fields, such as `last_visit`, are not forbidden by the
/// schema and pass through).
pub(crate) fn seat_assignments(items: &[Value]) -> Result<(), StateError> {
    const SCHEMA: &str = "SaaS Users Object";
    for (i, item) in items.iter().enumerate() {
        let Some(item) = item.as_object() else {
            return Err(wrong(&format!("[{i}]"), "an object", SCHEMA, item));
        };
        match item.get("user_id") {
            Some(Value::String(_)) => {}
            None => return Err(required(&format!("[{i}].user_id"), "a string", SCHEMA)),
            Some(other) => return Err(wrong(&format!("[{i}].user_id"), "a string", SCHEMA, other)),
        }
        match item.get("assign") {
            Some(Value::Bool(_)) => {}
            None => return Err(required(&format!("[{i}].assign"), "a boolean", SCHEMA)),
            Some(other) => return Err(wrong(&format!("[{i}].assign"), "a boolean", SCHEMA, other)),
        }
    }
    Ok(())
}

/// `POST /api/v3/saas/{ident}/users/{user_id}`: the string `user_external_id`.
pub(crate) fn user_external_id(body: &Map<String, Value>) -> Result<String, StateError> {
    const SCHEMA: &str = "SaaS User Manage Object";
    match body.get("user_external_id") {
        Some(Value::String(s)) => Ok(s.clone()),
        None => Err(required("user_external_id", "a string", SCHEMA)),
        Some(other) => Err(wrong("user_external_id", "a string", SCHEMA, other)),
    }
}

/// `PATCH /api/v3/saas_users/{activate,deactivate}`: the seat ids, strings.
pub(crate) fn saas_user_ids(body: &Map<String, Value>) -> Result<Vec<String>, StateError> {
    strings(body, "saas_user_ids", "inline_request")
}

/// `POST /api/v3/saas/{ident}/roles/users`: `(users, roles)`, both arrays of strings.
pub(crate) fn role_list(body: &Bytes) -> Result<(Vec<String>, Vec<String>), StateError> {
    const SCHEMA: &str = "Users SaaS Roles List Object";
    let body = object_body(body)?;
    Ok((
        strings(&body, "users", SCHEMA)?,
        strings(&body, "roles", SCHEMA)?,
    ))
}

/// One role of a role overwrite: its external id and label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoleValue {
    pub(crate) external_id: String,
    pub(crate) label: Option<String>,
}

/// `PATCH /api/v3/saas/{ident}/roles/users`: `(user, roles)`; `users` is one id.
pub(crate) fn role_update(body: &Bytes) -> Result<(String, Vec<RoleValue>), StateError> {
    const SCHEMA: &str = "Users SaaS Role Update List Object";
    let body = object_body(body)?;
    let user = match body.get("users") {
        Some(Value::String(s)) => s.clone(),
        None => return Err(required("users", "a string (one user id)", SCHEMA)),
        Some(other) => return Err(wrong("users", "a string (one user id)", SCHEMA, other)),
    };
    let items = match body.get("roles") {
        Some(Value::Array(items)) => items,
        None => return Err(required("roles", "an array of roles", SCHEMA)),
        Some(other) => return Err(wrong("roles", "an array of roles", SCHEMA, other)),
    };
    let roles = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let field = format!("roles[{i}]");
            let Some(item) = item.as_object() else {
                return Err(wrong(&field, "an object", SCHEMA, item));
            };
            let external_id = match item.get("role_external_id") {
                Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
                None | Some(Value::String(_)) => {
                    return Err(required(
                        &format!("{field}.role_external_id"),
                        "a non-empty string",
                        SCHEMA,
                    ));
                }
                Some(other) => {
                    return Err(wrong(
                        &format!("{field}.role_external_id"),
                        "a string",
                        SCHEMA,
                        other,
                    ));
                }
            };
            let label = match item.get("role_external_label") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => {
                    return Err(wrong(
                        &format!("{field}.role_external_label"),
                        "a string",
                        SCHEMA,
                        other,
                    ));
                }
            };
            Ok(RoleValue { external_id, label })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((user, roles))
}
