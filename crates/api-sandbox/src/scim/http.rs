//! Handlers, the authentication and rate-limit gate, and SCIM error answers.

use std::sync::Arc;

use axum::extract::{Extension, Path, RawQuery, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::faults::PageFault;

use super::filter::{self, Schema};
use super::resources::{self, GROUP_FILTER, LIST_SCHEMA, USER_FILTER};
use super::state::{Admission, Directory, Shared};

/// `Content-Type` of every answer (RFC 7644 §3.1).
pub(crate) const SCIM_CONTENT_TYPE: &str = "application/scim+json";
/// The error message schema (RFC 7644 §3.12).
pub(crate) const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// What the gate accepts.
#[derive(Debug, Clone)]
pub(crate) struct Auth {
    pub(crate) token: String,
    pub(crate) basic: Option<(String, String)>,
    pub(crate) open_discovery: bool,
}

/// Everything a handler needs.
#[derive(Debug, Clone)]
pub(crate) struct App {
    pub(crate) shared: Arc<Shared>,
    pub(crate) basic: bool,
}

/// A SCIM error answer (RFC 7644 §3.12): `status` as a string, optional `scimType`.
#[derive(Debug, Clone)]
pub(crate) struct ScimError(Box<Repr>);

#[derive(Debug, Clone)]
struct Repr {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
    headers: HeaderMap,
}

impl ScimError {
    pub(crate) fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        ScimError(Box::new(Repr {
            status,
            scim_type,
            detail: detail.into(),
            headers: HeaderMap::new(),
        }))
    }

    fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.0.headers.append(name, value);
        self
    }

    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        ScimError::new(StatusCode::NOT_FOUND, None, detail)
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let Repr {
            status,
            scim_type,
            detail,
            headers,
        } = *self.0;
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": status.as_u16().to_string(),
            "detail": detail,
        });
        if let Some(t) = scim_type {
            body["scimType"] = json!(t);
        }
        let mut response = scim_json(status, &body);
        response.headers_mut().extend(headers);
        response
    }
}

/// `body` as `application/scim+json`.
pub(crate) fn scim_json(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_CONTENT_TYPE),
    );
    response
}

fn credentials_ok(headers: &HeaderMap, auth: &Auth) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, rest)) = value.trim().split_once(' ') else {
        return false;
    };
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return !rest.is_empty() && rest == auth.token;
    }
    if scheme.eq_ignore_ascii_case("basic")
        && let Some((user, password)) = &auth.basic
    {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest) else {
            return false;
        };
        return decoded == format!("{user}:{password}").as_bytes();
    }
    false
}

/// Authentication, then the rate limit (401s consume no budget).
pub(crate) async fn gate(
    State((auth, shared)): State<(Arc<Auth>, Arc<Shared>)>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let discovery = path.strip_prefix(super::BASE_PATH).is_some_and(|p| {
        matches!(p, "/ServiceProviderConfig" | "/Schemas" | "/ResourceTypes")
            || p.starts_with("/Schemas/")
    });
    if !(credentials_ok(request.headers(), &auth) || auth.open_discovery && discovery) {
        tracing::debug!(%path, "SCIM: rejected, missing or invalid credentials");
        let mut error = ScimError::new(
            StatusCode::UNAUTHORIZED,
            None,
            "Authentication failed: a valid bearer token is required",
        )
        .with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"api-sandbox\""),
        );
        if auth.basic.is_some() {
            error = error.with_header(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"api-sandbox\""),
            );
        }
        return error.into_response();
    }
    if let Admission::Throttled(wait) = shared.admit() {
        tracing::debug!(%path, "SCIM: throttled");
        let secs = wait.as_secs().max(1).to_string();
        return ScimError::new(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            "Too many requests: retry later",
        )
        .with_header(
            header::RETRY_AFTER,
            HeaderValue::from_str(&secs).unwrap_or(HeaderValue::from_static("1")),
        )
        .into_response();
    }
    next.run(request).await
}

/// Query parameters, names compared case-insensitively; the first of a repeated one wins.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<&str>) -> Result<Self, ScimError> {
        serde_urlencoded::from_str::<Vec<(String, String)>>(raw.unwrap_or(""))
            .map(Query)
            .map_err(|_| {
                ScimError::new(
                    StatusCode::BAD_REQUEST,
                    Some("invalidSyntax"),
                    "The query string is malformed",
                )
            })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn int(&self, name: &str) -> Result<Option<i64>, ScimError> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ScimError::new(
                    StatusCode::BAD_REQUEST,
                    Some("invalidValue"),
                    format!("{name} must be an integer"),
                )
            }),
        }
    }

    fn selectors(&self, schema: &Schema) -> (Vec<resources::Selector>, Vec<resources::Selector>) {
        let only = self
            .get("attributes")
            .map(|a| resources::selectors(a, schema))
            .unwrap_or_default();
        let excluded = self
            .get("excludedAttributes")
            .map(|a| resources::selectors(a, schema))
            .unwrap_or_default();
        (only, excluded)
    }
}

/// Which collection a list or get is for.
#[derive(Clone, Copy)]
enum Kind {
    Users,
    Groups,
}

impl Kind {
    fn schema(self) -> &'static Schema {
        match self {
            Kind::Users => &USER_FILTER,
            Kind::Groups => &GROUP_FILTER,
        }
    }

    fn render_all(self, dir: &Directory, base: &str) -> Vec<Value> {
        match self {
            Kind::Users => {
                let memberships = dir.memberships();
                dir.users
                    .iter()
                    .map(|u| resources::user_json(u, dir, &memberships, base))
                    .collect()
            }
            Kind::Groups => dir
                .groups
                .iter()
                .map(|g| resources::group_json(g, dir, base))
                .collect(),
        }
    }

    fn render_one(self, dir: &Directory, id: &str, base: &str) -> Option<Value> {
        match self {
            Kind::Users => {
                let user = dir.user(id)?;
                Some(resources::user_json(user, dir, &dir.memberships(), base))
            }
            Kind::Groups => Some(resources::group_json(dir.group(id)?, dir, base)),
        }
    }
}

fn list(
    app: &App,
    kind: Kind,
    raw: Option<&str>,
    fault: Option<PageFault>,
) -> Result<Response, ScimError> {
    let query = Query::parse(raw)?;
    let schema = kind.schema();
    let filter = match query.get("filter").map(str::trim) {
        None | Some("") => None,
        Some(f) => Some(filter::parse(f, schema).map_err(|why| {
            ScimError::new(
                StatusCode::BAD_REQUEST,
                Some("invalidFilter"),
                format!("Invalid filter: {why}"),
            )
        })?),
    };
    // RFC 7644 §3.4.2.4: a startIndex below 1 is read as 1, a negative count as 0.
    let start = usize::try_from(query.int("startIndex")?.unwrap_or(1).max(1)).unwrap_or(1);
    let (only, excluded) = query.selectors(schema);
    let dir = app.shared.dir();
    let cap = dir.max_count;
    let count = match query.int("count")? {
        None => cap,
        Some(c) => usize::try_from(c.max(0)).unwrap_or(usize::MAX).min(cap),
    };
    let all = kind.render_all(&dir, app.shared.base());
    let matching: Vec<Value> = match &filter {
        None => all,
        Some(f) => all
            .into_iter()
            .filter(|r| filter::matches(f, r, schema))
            .collect(),
    };
    let served = match fault {
        Some(PageFault::Repeat) => start.saturating_sub(count).max(1),
        Some(PageFault::Skip) => start.saturating_add(count),
        None => start,
    };
    let mut take = count;
    if dir.anomalies.short_page_at == Some(start) {
        take = take.saturating_sub(1);
    }
    let total = matching.len();
    let from = (served - 1).min(total);
    let to = from.saturating_add(take).min(total);
    let reported = i64::try_from(total)
        .unwrap_or(i64::MAX)
        .saturating_add(dir.anomalies.total_offset)
        .max(0);
    drop(dir);
    let page: Vec<Value> = matching[from..to]
        .iter()
        .map(|r| resources::project(r.clone(), &only, &excluded))
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": reported,
            "startIndex": start,
            "itemsPerPage": page.len(),
            "Resources": page,
        }),
    ))
}

fn get_one(app: &App, kind: Kind, id: &str, raw: Option<&str>) -> Result<Response, ScimError> {
    let query = Query::parse(raw)?;
    let (only, excluded) = query.selectors(kind.schema());
    let dir = app.shared.dir();
    let resource = kind
        .render_one(&dir, id, app.shared.base())
        .ok_or_else(|| ScimError::not_found(format!("Resource {id} not found")))?;
    drop(dir);
    Ok(scim_json(
        StatusCode::OK,
        &resources::project(resource, &only, &excluded),
    ))
}

/// `GET /Users`
pub(crate) async fn list_users(
    State(app): State<App>,
    RawQuery(query): RawQuery,
    fault: Option<Extension<PageFault>>,
) -> Result<Response, ScimError> {
    list(&app, Kind::Users, query.as_deref(), fault.map(|f| f.0))
}

/// `GET /Groups`
pub(crate) async fn list_groups(
    State(app): State<App>,
    RawQuery(query): RawQuery,
    fault: Option<Extension<PageFault>>,
) -> Result<Response, ScimError> {
    list(&app, Kind::Groups, query.as_deref(), fault.map(|f| f.0))
}

/// `GET /Users/{id}`
pub(crate) async fn get_user(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimError> {
    get_one(&app, Kind::Users, &id, query.as_deref())
}

/// `GET /Groups/{id}`
pub(crate) async fn get_group(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimError> {
    get_one(&app, Kind::Groups, &id, query.as_deref())
}

/// `GET /ServiceProviderConfig`
pub(crate) async fn service_provider_config(State(app): State<App>) -> Response {
    let max = app.shared.dir().max_count;
    scim_json(
        StatusCode::OK,
        &resources::service_provider_config(app.shared.base(), max, app.basic),
    )
}

fn list_of(items: &[Value]) -> Response {
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": items.len(),
            "startIndex": 1,
            "itemsPerPage": items.len(),
            "Resources": items,
        }),
    )
}

/// `GET /Schemas` (a list response, RFC 7644 §4).
pub(crate) async fn schemas(State(app): State<App>) -> Response {
    list_of(&resources::schemas(app.shared.base()))
}

/// `GET /Schemas/{id}`
pub(crate) async fn schema(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    resources::schemas(app.shared.base())
        .into_iter()
        .find(|s| {
            s["id"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(&id))
        })
        .map(|s| scim_json(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::not_found(format!("Schema {id} not found")))
}

/// `GET /ResourceTypes` (a list response, RFC 7644 §4).
pub(crate) async fn resource_types(State(app): State<App>) -> Response {
    list_of(&resources::resource_types(app.shared.base()))
}

/// Any other path.
pub(crate) async fn not_found() -> Response {
    ScimError::not_found("No such endpoint").into_response()
}
