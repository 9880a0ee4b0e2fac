//! SaaS applications (`/api/v3/saas`), their users (seats) and roles.

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::IntoResponse;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::fields::{DataType, Schema, hex_id, parse_time, saas_slot, view_schema};
use super::filter;
use super::http::{
    Actor, ApiResult, AppState, ListParams, json_body, json_response, list_response, object_body,
};
use super::schema::{self, RoleValue};
use super::state::{Inner, StateError, WriteRules};
use crate::faults::PageFault;

/// Whether a seat is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeatStatus {
    /// Active (the default for a new seat; `PATCH /api/v3/saas_users/activate`).
    Active,
    /// Deactivated (`PATCH /api/v3/saas_users/deactivate`).
    Inactive,
}

/// A role of a SaaS application, as served in a seat's `roles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SaasRole {
    /// Oomnitza's id of the role.
    pub role_id: u64,
    /// The application's id of the role (e.g. `admin`).
    pub role_external_id: String,
    /// The role's label (e.g. `Admin`).
    pub role_external_label: String,
}

/// A seat: one person assigned to one SaaS application, as the `SaaS assigned User`
/// schema serves it, plus `saas_user_id`, `saas_id` and `status` (§13 working assumption).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SaasSeat {
    /// The seat's id (used by `/api/v3/saas_users/activate|deactivate`).
    pub saas_user_id: u64,
    /// The application.
    pub saas_id: u64,
    /// The person's `user_id`.
    pub user_id: String,
    /// The person's `username`.
    pub username: Option<String>,
    /// The person's `email`.
    pub email: Option<String>,
    /// The person's `full_name`.
    pub full_name: Option<String>,
    /// Last activity in the application, Unix seconds.
    pub last_visit: Option<i64>,
    /// Usage flag of the vendor schema (always false here).
    pub old_usage: bool,
    /// Media of the vendor schema (always null here).
    pub media_url: Option<String>,
    /// Contract of the vendor schema (always null here).
    pub contract_id: Option<u64>,
    /// The seat's role, or `None`.
    pub roles: Option<SaasRole>,
    /// The person's id in the application (e.g. the Quip user id).
    pub user_external_id: Option<String>,
    /// Active or inactive.
    pub status: SeatStatus,
}

#[derive(Debug, Clone)]
pub(crate) struct Seat {
    pub id: u64,
    pub saas_id: u64,
    pub uid: u64,
    pub last_visit: Option<i64>,
    pub role_id: Option<u64>,
    pub user_external_id: Option<String>,
    pub status: SeatStatus,
}

#[derive(Debug, Clone)]
pub(crate) struct Role {
    pub saas_id: u64,
    pub role: SaasRole,
}

/// Filterable fields of a seat (`filter`/`sortby` on the SaaS users lists). The role is
/// flattened so that it can be filtered on.
const SEAT_FIELDS: &[(&str, DataType)] = &[
    ("saas_user_id", DataType::Integer),
    ("saas_id", DataType::Integer),
    ("user_id", DataType::String),
    ("username", DataType::String),
    ("email", DataType::String),
    ("full_name", DataType::String),
    ("last_visit", DataType::Timestamp),
    ("status", DataType::String),
    ("user_external_id", DataType::String),
    ("role_id", DataType::Integer),
    ("role_external_id", DataType::String),
    ("role_external_label", DataType::String),
    ("old_usage", DataType::Boolean),
];

fn seat_value(seat: &SaasSeat, slot: usize) -> Value {
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    match slot {
        0 => json!(seat.saas_user_id),
        1 => json!(seat.saas_id),
        2 => json!(seat.user_id),
        3 => text(&seat.username),
        4 => text(&seat.email),
        5 => text(&seat.full_name),
        6 => json!(seat.last_visit),
        7 => json!(seat.status),
        8 => text(&seat.user_external_id),
        9 => json!(seat.roles.as_ref().map(|r| r.role_id)),
        10 => json!(seat.roles.as_ref().map(|r| &r.role_external_id)),
        11 => json!(seat.roles.as_ref().map(|r| &r.role_external_label)),
        12 => json!(seat.old_usage),
        _ => Value::Null,
    }
}

impl Inner {
    /// Creates an application named `name` with default values.
    pub(crate) fn create_saas_app_named(&mut self, name: &str, actor: &str) -> u64 {
        let body = Map::from_iter([
            ("saas_name".to_owned(), json!(name)),
            ("linked".to_owned(), json!(false)),
            ("link_key".to_owned(), json!(name.to_lowercase())),
            ("source".to_owned(), json!("sandbox")),
            ("ignored".to_owned(), json!(false)),
        ]);
        // A non-empty name always validates.
        self.create_saas_app(&body, actor).unwrap_or_default()
    }

    /// Creates an application from REST-keyed `body`.
    pub(crate) fn create_saas_app(
        &mut self,
        body: &Map<String, Value>,
        actor: &str,
    ) -> Result<u64, StateError> {
        let changes =
            self.apps
                .validate(None, body, &|k| self.apps.schema.slot(k), WriteRules::REST)?;
        let now = self.now();
        let id = self.apps.insert(Vec::new());
        let defaults = [
            (saas_slot::SAAS_ID, json!(id)),
            (saas_slot::LINKED, json!(false)),
            (saas_slot::SOURCE, json!("api")),
            (saas_slot::IGNORED, json!(false)),
            (saas_slot::CREATIONDATE, json!(now)),
            (saas_slot::CREATEDBY, json!(actor)),
            (saas_slot::CHANGEDATE, json!(now)),
            (saas_slot::CHANGEDBY, json!(actor)),
            (saas_slot::DELETED, json!(false)),
        ];
        for (slot, value) in defaults.into_iter().chain(changes) {
            self.apps.set(id, slot, value);
        }
        let name = self
            .apps
            .get(id, saas_slot::SAAS_NAME)
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if let Some(spend) = self.spend.get(&name.to_lowercase()).cloned() {
            for (field, value) in [
                ("annual_spend", json!(spend.annual_spend)),
                ("total_licenses", json!(spend.total_licenses)),
            ] {
                if let Some(slot) = self.apps.schema.slot(field)
                    && self.apps.get(id, slot).is_null()
                {
                    self.apps.set(id, slot, value);
                }
            }
        }
        self.apps.set(
            id,
            saas_slot::HASH,
            json!(hex_id(&name, 0x5A).to_ascii_lowercase()),
        );
        Ok(id)
    }

    /// An application by its `saas_id`.
    pub(crate) fn resolve_app(&self, ident: &str) -> Result<u64, StateError> {
        ident
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|&id| self.apps.contains(id))
            .ok_or_else(|| StateError::NotFound(format!("saas {ident}")))
    }

    /// Assigns person `uid` to application `saas_id` (a new active seat), or updates the
    /// `last_visit` of the existing seat. Returns the seat id.
    pub(crate) fn assign(&mut self, saas_id: u64, uid: u64, last_visit: Option<i64>) -> u64 {
        if let Some(&id) = self.seat_by_person.get(&(saas_id, uid)) {
            if let (Some(seat), Some(t)) = (self.seats.get_mut(&id), last_visit) {
                seat.last_visit = Some(t);
            }
            return id;
        }
        let id = self.next_seat_id;
        self.next_seat_id += 1;
        self.seats.insert(
            id,
            Seat {
                id,
                saas_id,
                uid,
                last_visit,
                role_id: None,
                user_external_id: None,
                status: SeatStatus::Active,
            },
        );
        self.seat_by_person.insert((saas_id, uid), id);
        id
    }

    fn unassign(&mut self, saas_id: u64, uid: u64) -> Option<u64> {
        let id = self.seat_by_person.remove(&(saas_id, uid))?;
        self.seats.remove(&id);
        Some(id)
    }

    fn create_role(
        &mut self,
        saas_id: u64,
        body: &Map<String, Value>,
    ) -> Result<SaasRole, StateError> {
        let mut errors = std::collections::BTreeMap::new();
        for key in body.keys() {
            if key != "role_external_label" && key != "role_external_id" {
                errors.insert(key.clone(), vec!["unknown field".to_owned()]);
            }
        }
        if !errors.is_empty() {
            return Err(StateError::Invalid(errors));
        }
        let text = |key: &str| -> Result<Option<String>, StateError> {
            match body.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(StateError::field(
                    key,
                    format!("expected a string, got {other}"),
                )),
            }
        };
        let label = text("role_external_label")?
            .ok_or_else(|| StateError::field("role_external_label", "required field"))?;
        let external_id = text("role_external_id")?.unwrap_or_else(|| label.clone());
        if self
            .roles
            .values()
            .any(|r| r.saas_id == saas_id && r.role.role_external_id == external_id)
        {
            return Err(StateError::Conflict {
                field: "role_external_id".to_owned(),
                value: external_id,
            });
        }
        let role = SaasRole {
            role_id: self.next_role_id,
            role_external_id: external_id,
            role_external_label: label,
        };
        self.next_role_id += 1;
        self.roles.insert(
            role.role_id,
            Role {
                saas_id,
                role: role.clone(),
            },
        );
        Ok(role)
    }

    /// A role of `saas_id` from `{"role_id"}`, `{"role_external_id"}` or
    /// `{"role_external_label"}` (first present wins, in that order).
    fn find_role(&self, saas_id: u64, reference: &Value) -> Result<u64, StateError> {
        let roles = || self.roles.values().filter(|r| r.saas_id == saas_id);
        let text = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let found = if let Some(id) = reference.get("role_id").and_then(text) {
            roles().find(|r| r.role.role_id.to_string() == id)
        } else if let Some(ext) = reference.get("role_external_id").and_then(text) {
            roles().find(|r| r.role.role_external_id == ext)
        } else if let Some(label) = reference.get("role_external_label").and_then(text) {
            roles().find(|r| r.role.role_external_label == label)
        } else {
            return Err(StateError::field(
                "roles",
                "each role needs role_id, role_external_id or role_external_label",
            ));
        };
        found
            .map(|r| r.role.role_id)
            .ok_or_else(|| StateError::field("roles", format!("role {reference} not found")))
    }

    /// Seats (optionally of one application) matching the list parameters, rendered.
    fn list_seats(
        &self,
        saas_id: Option<u64>,
        params: &ListParams,
        fault: Option<PageFault>,
    ) -> Result<(Vec<Value>, usize), StateError> {
        let schema: Schema = view_schema("saas_users", SEAT_FIELDS);
        let lookup = |name: &str| schema.slot(name).map(|s| (s, schema.def(s)));
        let expr = params
            .filter
            .as_deref()
            .map(|f| filter::parse_filter(f, &lookup))
            .transpose()
            .map_err(|e| StateError::Rejected(format!("filter: {e}")))?;
        let sort = params
            .sortby
            .as_deref()
            .map(|s| filter::parse_sort(s, &|n| schema.slot(n)))
            .transpose()
            .map_err(|e| StateError::Rejected(format!("sortby: {e}")))?
            .unwrap_or_default();
        let since = params
            .last_visit
            .as_deref()
            .map(|v| {
                parse_time(v.trim()).ok_or_else(|| {
                    StateError::Rejected(
                        "last_visit must be Unix seconds or an ISO 8601 date".to_owned(),
                    )
                })
            })
            .transpose()?;
        let roles: Option<Vec<String>> = params
            .roles
            .as_deref()
            .map(|r| r.split(',').map(|s| s.trim().to_owned()).collect());
        let needle = params.text.as_deref().map(str::to_lowercase);
        let mut views: Vec<SaasSeat> = self
            .seats
            .values()
            .filter(|s| saas_id.is_none_or(|id| s.saas_id == id))
            .map(|s| self.seat_view(s))
            .filter(|v| since.is_none_or(|t| v.last_visit.is_some_and(|lv| lv >= t)))
            .filter(|v| {
                roles.as_ref().is_none_or(|wanted| {
                    v.roles.as_ref().is_some_and(|r| {
                        wanted.iter().any(|w| {
                            *w == r.role_external_id
                                || *w == r.role_external_label
                                || *w == r.role_id.to_string()
                        })
                    })
                })
            })
            .filter(|v| {
                needle.as_ref().is_none_or(|n| {
                    [&v.username, &v.email, &v.full_name, &v.user_external_id]
                        .iter()
                        .any(|f| f.as_ref().is_some_and(|s| s.to_lowercase().contains(n)))
                })
            })
            .filter(|v| {
                expr.as_ref()
                    .is_none_or(|e| e.matches(&|slot| seat_value(v, slot)))
            })
            .collect();
        if !sort.is_empty() {
            views.sort_by(|a, b| {
                filter::compare_rows(&sort, &|s| seat_value(a, s), &|s| seat_value(b, s))
            });
        }
        let total = views.len();
        let page = views[params.window(total, fault)]
            .iter()
            .map(|v| serde_json::to_value(v).unwrap_or(Value::Null))
            .collect();
        Ok((page, total))
    }
}

/// `GET /api/v3/saas`
pub(crate) async fn list_apps(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
    page_fault: Option<Extension<PageFault>>,
) -> ApiResult {
    let params = ListParams::parse(query.as_deref(), app.limits)?;
    let inner = app.state.lock();
    let filter = params
        .filter
        .as_deref()
        .map(|f| inner.apps.parse_filter(f))
        .transpose()?;
    let sort = params
        .sortby
        .as_deref()
        .map(|s| inner.apps.parse_sort(s))
        .transpose()?
        .unwrap_or_default();
    let ids = inner.apps.query(filter.as_ref(), &sort);
    let page = ids[params.window(ids.len(), page_fault.map(|Extension(f)| f))]
        .iter()
        .map(|&id| inner.apps.render(id, None))
        .collect();
    Ok(list_response(page, ids.len()))
}

/// `POST /api/v3/saas`: 201 `{"saas_id":"4"}` (a string).
pub(crate) async fn create_app(
    State(app): State<AppState>,
    Extension(Actor(actor)): Extension<Actor>,
    body: Bytes,
) -> ApiResult {
    let body = object_body(&body)?;
    let id = app.state.lock().create_saas_app(&body, &actor)?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "saas_id": id.to_string() }),
    ))
}

/// `GET /api/v3/saas/{ident}`
pub(crate) async fn get_app(State(app): State<AppState>, Path(ident): Path<String>) -> ApiResult {
    let inner = app.state.lock();
    let id = inner.resolve_app(&ident)?;
    Ok(json_response(StatusCode::OK, inner.apps.render(id, None)))
}

/// `GET /api/v3/saas/{ident}/users`
pub(crate) async fn list_app_users(
    State(app): State<AppState>,
    Path(ident): Path<String>,
    RawQuery(query): RawQuery,
    page_fault: Option<Extension<PageFault>>,
) -> ApiResult {
    let params = ListParams::parse(query.as_deref(), app.limits)?;
    let inner = app.state.lock();
    let id = inner.resolve_app(&ident)?;
    let (page, total) = inner.list_seats(Some(id), &params, page_fault.map(|Extension(f)| f))?;
    Ok(list_response(page, total))
}

/// `GET /api/v3/saas_users`
pub(crate) async fn list_saas_users(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
    page_fault: Option<Extension<PageFault>>,
) -> ApiResult {
    let params = ListParams::parse(query.as_deref(), app.limits)?;
    let inner = app.state.lock();
    let (page, total) = inner.list_seats(None, &params, page_fault.map(|Extension(f)| f))?;
    Ok(list_response(page, total))
}

/// The body's array, or a 400.
fn array_body(body: &Bytes) -> Result<Vec<Value>, StateError> {
    match json_body(body)? {
        Value::Array(items) => Ok(items),
        _ => Err(StateError::Rejected(
            "the request body must be a JSON array".to_owned(),
        )),
    }
}

/// `POST /api/v3/saas/{ident}/users`: bulk assign/unassign with per-item results.
pub(crate) async fn assign_users(
    State(app): State<AppState>,
    Path(ident): Path<String>,
    body: Bytes,
) -> ApiResult {
    let items = array_body(&body)?;
    schema::seat_assignments(&items)?;
    let mut inner = app.state.lock();
    let saas_id = inner.resolve_app(&ident)?;
    let results = items
        .iter()
        .map(|item| {
            let user_id = item.get("user_id").cloned().unwrap_or(Value::Null);
            let (seat, error) = match assign_one(&mut inner, saas_id, item) {
                Ok(seat) => (seat.map_or(Value::Null, Value::from), Value::Null),
                Err(message) => (Value::Null, Value::String(message)),
            };
            json!({ "user_id": user_id, "saas_user_id": seat, "error": error })
        })
        .collect();
    Ok(json_response(StatusCode::OK, Value::Array(results)))
}

/// One item of a bulk assignment; the seat id (none after an unassignment) or an error.
fn assign_one(inner: &mut Inner, saas_id: u64, item: &Value) -> Result<Option<u64>, String> {
    let Some(item) = item.as_object() else {
        return Err("each item must be an object".to_owned());
    };
    let user_id = item
        .get("user_id")
        .and_then(Value::as_str)
        .ok_or("user_id (a string) is required")?;
    let assign = item
        .get("assign")
        .and_then(Value::as_bool)
        .ok_or("assign (a boolean) is required")?;
    let last_visit = match item.get("last_visit") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_i64().ok_or("last_visit must be Unix seconds")?),
        Some(Value::String(s)) => Some(
            parse_time(s.trim()).ok_or("last_visit must be Unix seconds or an ISO 8601 date")?,
        ),
        Some(_) => return Err("last_visit must be Unix seconds".to_owned()),
    };
    let uid = inner
        .person_by_user_id(user_id)
        .ok_or_else(|| format!("user {user_id} not found"))?;
    if assign {
        Ok(Some(inner.assign(saas_id, uid, last_visit)))
    } else {
        inner
            .unassign(saas_id, uid)
            .map(|_| None)
            .ok_or_else(|| format!("user {user_id} is not assigned to this application"))
    }
}

/// `POST /api/v3/saas/{ident}/users/{user_id}`: stores the person's id in the application.
/// Problems with the seat arrive as `errors` inside a 200.
pub(crate) async fn set_external_id(
    State(app): State<AppState>,
    Path((ident, user_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body = object_body(&body)?;
    let external = Some(schema::user_external_id(&body)?).filter(|s| !s.is_empty());
    let mut inner = app.state.lock();
    let saas_id = inner.resolve_app(&ident)?;
    let seat = inner
        .person_by_user_id(&user_id)
        .ok_or_else(|| format!("user {user_id} not found"))
        .and_then(|uid| {
            inner
                .seat_by_person
                .get(&(saas_id, uid))
                .copied()
                .ok_or_else(|| format!("user {user_id} is not assigned to this application"))
        });
    let errors = match seat.map(|id| inner.seats.get_mut(&id)) {
        Ok(Some(seat)) => {
            seat.user_external_id.clone_from(&external);
            Vec::new()
        }
        Ok(None) => vec!["seat not found".to_owned()],
        Err(message) => vec![message],
    };
    Ok(json_response(
        StatusCode::OK,
        json!({ "user_external_id": external, "errors": errors }),
    ))
}

/// `PATCH /api/v3/saas_users/activate`
pub(crate) async fn activate(State(app): State<AppState>, body: Bytes) -> ApiResult {
    set_status(&app, &body, SeatStatus::Active)
}

/// `PATCH /api/v3/saas_users/deactivate`
pub(crate) async fn deactivate(State(app): State<AppState>, body: Bytes) -> ApiResult {
    set_status(&app, &body, SeatStatus::Inactive)
}

fn set_status(app: &AppState, body: &Bytes, status: SeatStatus) -> ApiResult {
    let body = object_body(body)?;
    let ids = schema::saas_user_ids(&body)?;
    let mut inner = app.state.lock();
    let results = ids
        .iter()
        .map(|given| {
            let id = given.trim().parse::<u64>().ok();
            let error = match id.and_then(|id| inner.seats.get_mut(&id)) {
                Some(seat) => {
                    seat.status = status;
                    Value::Null
                }
                None => json!("not found"),
            };
            json!({ "saas_user_id": given, "error": error })
        })
        .collect();
    Ok(json_response(StatusCode::OK, Value::Array(results)))
}

/// `GET /api/v3/saas/{ident}/roles`
pub(crate) async fn list_roles(
    State(app): State<AppState>,
    Path(ident): Path<String>,
) -> ApiResult {
    let inner = app.state.lock();
    let saas_id = inner.resolve_app(&ident)?;
    let roles: Vec<Value> = inner
        .roles
        .values()
        .filter(|r| r.saas_id == saas_id)
        .map(|r| serde_json::to_value(&r.role).unwrap_or(Value::Null))
        .collect();
    let total = roles.len();
    Ok(list_response(roles, total))
}

/// `POST /api/v3/saas/{ident}/roles`: 201 with the role.
pub(crate) async fn create_role(
    State(app): State<AppState>,
    Path(ident): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body = object_body(&body)?;
    let mut inner = app.state.lock();
    let saas_id = inner.resolve_app(&ident)?;
    let role = inner.create_role(saas_id, &body)?;
    Ok(json_response(
        StatusCode::CREATED,
        serde_json::to_value(role).unwrap_or(Value::Null),
    ))
}

/// `{"users":[user_id…], "roles":[…]}` of the `DELETE`, which the document gives no body:
/// the people's ids and the roles to take away (all when `roles` is absent or empty).
fn unassign_body(
    inner: &Inner,
    saas_id: u64,
    body: &Bytes,
) -> Result<(Vec<Value>, Vec<u64>), StateError> {
    let body = object_body(body)?;
    let Some(Value::Array(users)) = body.get("users") else {
        return Err(StateError::field("users", "required: an array of user ids"));
    };
    let roles = match body.get("roles") {
        Some(Value::Array(refs)) => refs
            .iter()
            .map(|r| inner.find_role(saas_id, r))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
        _ => return Err(StateError::field("roles", "must be an array of roles")),
    };
    Ok((users.clone(), roles))
}

impl Inner {
    /// The seat of the person with `user_id` in `saas_id`, if assigned.
    fn seat_of_user(&mut self, saas_id: u64, user_id: &str) -> Option<&mut Seat> {
        let uid = self.person_by_user_id(user_id)?;
        let id = self.seat_by_person.get(&(saas_id, uid)).copied()?;
        self.seats.get_mut(&id)
    }

    /// The role of `saas_id` named by a string of the POST body: its `role_id` (what the
    /// clients send), or else its external id or label.
    fn role_by_string(&self, saas_id: u64, given: &str) -> Result<u64, StateError> {
        let roles = || self.roles.values().filter(|r| r.saas_id == saas_id);
        roles()
            .find(|r| r.role.role_id.to_string() == given)
            .or_else(|| roles().find(|r| r.role.role_external_id == given))
            .or_else(|| roles().find(|r| r.role.role_external_label == given))
            .map(|r| r.role.role_id)
            .ok_or_else(|| StateError::field("roles", format!("role {given:?} not found")))
    }

    /// The role of `saas_id` with this external id, created (labelled as given, or with
    /// the id) when the application does not have it: the document's PATCH "creates new
    /// SaaSRole records" for new role values.
    fn role_for_value(&mut self, saas_id: u64, value: &RoleValue) -> Result<u64, StateError> {
        if let Some(r) = self
            .roles
            .values()
            .find(|r| r.saas_id == saas_id && r.role.role_external_id == value.external_id)
        {
            return Ok(r.role.role_id);
        }
        let label = value
            .label
            .clone()
            .unwrap_or_else(|| value.external_id.clone());
        let body = Map::from_iter([
            ("role_external_label".to_owned(), json!(label)),
            ("role_external_id".to_owned(), json!(value.external_id)),
        ]);
        Ok(self.create_role(saas_id, &body)?.role_id)
    }
}

/// `POST /api/v3/saas/{ident}/roles/users`: assign a role to seats.
pub(crate) async fn assign_roles(
    State(app): State<AppState>,
    Path(ident): Path<String>,
    body: Bytes,
) -> ApiResult {
    let (users, given_roles) = schema::role_list(&body)?;
    let mut inner = app.state.lock();
    let saas_id = inner.resolve_app(&ident)?;
    let roles = given_roles
        .iter()
        .map(|r| inner.role_by_string(saas_id, r))
        .collect::<Result<Vec<_>, _>>()?;
    let role = match roles.as_slice() {
        [] => return Err(StateError::field("roles", "at least one role is required").into()),
        [one] => *one,
        _ => {
            return Err(
                StateError::field("roles", "a SaaS user holds one role in the sandbox").into(),
            );
        }
    };
    let results: Vec<Value> = users
        .iter()
        .map(|user| {
            let error = match inner.seat_of_user(saas_id, user) {
                None => Some("user is not assigned to this application".to_owned()),
                Some(seat) => match seat.role_id {
                    Some(current) if current != role => Some(format!(
                        "user already holds role {current}; PATCH overwrites it"
                    )),
                    _ => {
                        seat.role_id = Some(role);
                        None
                    }
                },
            };
            json!({ "user_id": user, "error": error })
        })
        .collect();
    Ok(json_response(StatusCode::OK, Value::Array(results)))
}

/// `PATCH /api/v3/saas/{ident}/roles/users`: overwrite one person's roles.
pub(crate) async fn overwrite_roles(
    State(app): State<AppState>,
    Path(ident): Path<String>,
    body: Bytes,
) -> ApiResult {
    let (user, values) = schema::role_update(&body)?;
    if values.len() > 1 {
        return Err(StateError::field("roles", "a SaaS user holds one role in the sandbox").into());
    }
    let mut inner = app.state.lock();
    let saas_id = inner.resolve_app(&ident)?;
    if inner.seat_of_user(saas_id, &user).is_none() {
        let error = "user is not assigned to this application";
        return Ok(json_response(
            StatusCode::OK,
            json!([{ "user_id": user, "error": error }]),
        ));
    }
    let role = values
        .first()
        .map(|v| inner.role_for_value(saas_id, v))
        .transpose()?;
    if let Some(seat) = inner.seat_of_user(saas_id, &user) {
        seat.role_id = role;
    }
    Ok(json_response(
        StatusCode::OK,
        json!([{ "user_id": user, "error": null }]),
    ))
}

/// `DELETE /api/v3/saas/{ident}/roles/users`: unassign roles; 204.
pub(crate) async fn unassign_roles(
    State(app): State<AppState>,
    Path(ident): Path<String>,
    body: Bytes,
) -> ApiResult {
    let mut inner = app.state.lock();
    let saas_id = inner.resolve_app(&ident)?;
    let (users, roles) = unassign_body(&inner, saas_id, &body)?;
    for user in users.iter().filter_map(Value::as_str) {
        if let Some(seat) = inner.seat_of_user(saas_id, user)
            && (roles.is_empty() || seat.role_id.is_some_and(|r| roles.contains(&r)))
        {
            seat.role_id = None;
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
