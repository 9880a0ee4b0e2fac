//! The HTTP API: routes, handlers and the middleware stack (request ids, tracing,
//! timeouts, body limit, problem+json for every error, request metrics). The contract is
//! architecture.md section 6; every endpoint is described in `docs/api.md`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use credential_store::{
    Credential, CredentialKind, CredentialMetadata, CredentialProvider as _, KindMetadata,
    Placement,
};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use sync_store::{
    Installation, Integration, IntegrationStatus, IntegrationUpdate, NewIntegration, Page, Run,
    RunState, Schedule, ScheduleSpec, SettingsFormat,
};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::App;
use crate::extract::{Body, Caller, Query, RawJson, decode, read_limited};
use crate::problem::{Item, Problem, problem_for_bare_errors};
use crate::settings::{self, OwnerCredentials};

type AppState = State<Arc<App>>;
type ApiResult = Result<Response, Problem>;

/// The service's router: `/api/v1/...`, `/healthz`, `/metrics`.
pub fn router(app: Arc<App>) -> Router {
    let limit = app.config.body_limit;
    let timeout = app.config.request_timeout;
    let v1 = Router::new()
        .route(
            "/credentials",
            get(list_credentials).post(create_credential),
        )
        .route(
            "/credentials/{name}",
            get(get_credential)
                .put(update_credential)
                .delete(delete_credential),
        )
        .route(
            "/integrations",
            get(list_integrations).post(create_integration),
        )
        .route(
            "/integrations/{id}",
            get(get_integration)
                .put(update_integration)
                .delete(delete_integration),
        )
        .route("/integrations/{id}/launch", post(launch))
        .route("/integrations/{id}/pause", post(pause))
        .route(
            "/integrations/{id}/schedule",
            get(get_schedule).put(put_schedule),
        )
        .route("/integrations/{id}/runs", get(list_runs).post(run_now))
        .route("/runs/{id}", get(get_run))
        .route("/notifications", get(list_notifications))
        .route("/notifications/{id}/read", post(mark_read))
        .route("/tokens", post(create_token));
    Router::new()
        .nest("/api/v1", v1)
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(fallback)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(TraceLayer::new_for_http().make_span_with(
                    |request: &axum::http::Request<axum::body::Body>| {
                        let id = request
                            .headers()
                            .get("x-request-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default();
                        // The path only: no query strings, no headers (tokens).
                        tracing::info_span!(
                            "request",
                            method = %request.method(),
                            path = %request.uri().path(),
                            request_id = %id,
                        )
                    },
                ))
                .layer(middleware::from_fn_with_state(Arc::clone(&app), track))
                .layer(middleware::from_fn(problem_for_bare_errors))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    timeout,
                ))
                .layer(DefaultBodyLimit::max(limit)),
        )
        .with_state(app)
}

/// Counts requests by route pattern and status.
async fn track(State(app): AppState, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    app.metrics
        .record_http(&method, &route, response.status().as_u16());
    tracing::debug!(
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "answered"
    );
    response
}

async fn fallback() -> Problem {
    Problem::not_found("no such endpoint; see docs/api.md")
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    (status, Json(value)).into_response()
}

#[allow(clippy::unnecessary_wraps)] // the handlers' one result shape
fn ok(value: &Value) -> ApiResult {
    Ok(json_response(StatusCode::OK, value))
}

// ---------------------------------------------------------------- health and metrics

async fn healthz(State(app): AppState) -> Response {
    match sqlx::query("SELECT 1").execute(app.store.pool()).await {
        Ok(_) => json_response(
            StatusCode::OK,
            &json!({"status": "ok", "database": format!("{:?}", app.store.backend()).to_lowercase()}),
        ),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The database is unreachable",
            )
            .into_response()
        }
    }
}

async fn metrics(State(app): AppState) -> Response {
    match app.metrics.render(&app.store).await {
        Ok(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics: database query failed");
            Problem::internal().into_response()
        }
    }
}

// ---------------------------------------------------------------- pagination

/// `?limit=&offset=` for lists kept in memory.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OffsetPage {
    limit: Option<usize>,
    offset: Option<usize>,
}

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

fn limit_of(limit: Option<usize>) -> Result<usize, Problem> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-query",
            "Malformed query string",
        )
        .detail(format!("limit must be 1 to {MAX_LIMIT}"))),
    }
}

fn paged(path: &str, items: Vec<Value>, page: &OffsetPage, extra: &str) -> ApiResult {
    let limit = limit_of(page.limit)?;
    let offset = page.offset.unwrap_or(0);
    let total = items.len();
    let items: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let next = (offset + items.len() < total)
        .then(|| format!("{path}?{extra}limit={limit}&offset={}", offset + limit));
    ok(&json!({"items": items, "next": next}))
}

// ---------------------------------------------------------------- credentials

fn credential_json(m: &CredentialMetadata) -> Value {
    let mut v = match &m.kind {
        KindMetadata::ApiKey {
            token_name,
            placement,
            prefix,
        } => json!({
            "kind": "api_key",
            "token_name": token_name,
            "add_to": placement.as_str(),
            "prefix": prefix,
        }),
        KindMetadata::Basic { user } => json!({"kind": "basic", "user": user}),
        _ => json!({"kind": "other"}),
    };
    v["name"] = json!(m.name);
    v["created_at"] = json!(m.created_at);
    v["updated_at"] = json!(m.updated_at);
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum CredentialKindName {
    ApiKey,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCredential {
    name: String,
    kind: CredentialKindName,
    secret: SecretString,
    #[serde(default)]
    token_name: Option<String>,
    #[serde(default)]
    add_to: Option<Placement>,
    #[serde(default)]
    prefix: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialChange {
    #[serde(default)]
    secret: Option<SecretString>,
    #[serde(default)]
    token_name: Option<String>,
    #[serde(default)]
    add_to: Option<Placement>,
    #[serde(default)]
    prefix: Option<String>,
}

const DEFAULT_TOKEN_NAME: &str = "Authorization";

fn credentials_of(app: &App, caller: &Caller) -> OwnerCredentials {
    OwnerCredentials::new(&app.store, &caller.owner.id, &app.master)
}

fn check_name(what: &str, name: &str) -> Result<(), Problem> {
    if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(Problem::invalid(vec![Item::at(
            "name",
            format!("a {what} name is 1 to 200 characters without control characters"),
        )]));
    }
    Ok(())
}

fn credential_problem(e: &credential_store::CredentialError) -> Problem {
    if e.is_not_found() {
        Problem::not_found("no such credential")
    } else if matches!(e.kind(), credential_store::ErrorKind::Invalid { .. }) {
        // Validation messages name the credential and the rule, never the secret.
        Problem::invalid(vec![Item::bare(e.to_string())])
    } else {
        tracing::error!(error = %crate::problem::error_chain(e), "credential store failure");
        Problem::internal()
    }
}

async fn list_credentials(
    State(app): AppState,
    caller: Caller,
    Query(page): Query<OffsetPage>,
) -> ApiResult {
    let list = credentials_of(&app, &caller)
        .0
        .list()
        .await
        .map_err(|e| credential_problem(&e))?;
    paged(
        "/api/v1/credentials",
        list.iter().map(credential_json).collect(),
        &page,
        "",
    )
}

async fn find_credential(
    app: &App,
    caller: &Caller,
    name: &str,
) -> Result<CredentialMetadata, Problem> {
    let list = credentials_of(app, caller)
        .0
        .list()
        .await
        .map_err(|e| credential_problem(&e))?;
    list.into_iter()
        .find(|m| m.name == name)
        .ok_or_else(|| Problem::not_found(format!("credential `{name}` not found")))
}

async fn get_credential(
    State(app): AppState,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult {
    ok(&credential_json(
        &find_credential(&app, &caller, &name).await?,
    ))
}

async fn create_credential(
    State(app): AppState,
    caller: Caller,
    Body(body): Body<NewCredential>,
) -> ApiResult {
    let CredentialKindName::ApiKey = body.kind;
    check_name("credential", &body.name)?;
    let provider = credentials_of(&app, &caller);
    if find_credential(&app, &caller, &body.name).await.is_ok() {
        return Err(
            Problem::new(StatusCode::CONFLICT, "duplicate", "Exists already").detail(format!(
                "credential `{}` exists already: PUT /api/v1/credentials/{{name}} changes it",
                body.name
            )),
        );
    }
    let kind = CredentialKind::api_key(
        body.token_name
            .unwrap_or_else(|| DEFAULT_TOKEN_NAME.to_owned()),
        body.add_to.unwrap_or(Placement::Header),
        body.prefix,
        body.secret,
    )
    .map_err(|e| credential_problem(&e))?;
    let credential = Credential::new(body.name.clone(), caller.owner.id.clone(), kind)
        .map_err(|e| credential_problem(&e))?;
    provider
        .0
        .put(&credential)
        .await
        .map_err(|e| credential_problem(&e))?;
    tracing::info!(credential = %body.name, owner = %caller.owner.name, "credential created");
    let stored = find_credential(&app, &caller, &body.name).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &credential_json(&stored),
    ))
}

async fn update_credential(
    State(app): AppState,
    caller: Caller,
    Path(name): Path<String>,
    Body(body): Body<CredentialChange>,
) -> ApiResult {
    let provider = credentials_of(&app, &caller);
    let current = provider
        .0
        .get(&name)
        .await
        .map_err(|e| credential_problem(&e))?;
    let CredentialKind::ApiKey(key) = current.kind() else {
        return Err(Problem::invalid(vec![Item::bare(format!(
            "credential `{name}` is not an API key; delete it and create it again"
        ))]));
    };
    let kind = CredentialKind::api_key(
        body.token_name
            .unwrap_or_else(|| key.token_name().to_owned()),
        body.add_to.unwrap_or(key.placement()),
        body.prefix.or_else(|| key.prefix().map(str::to_owned)),
        body.secret.unwrap_or_else(|| key.secret().clone()),
    )
    .map_err(|e| credential_problem(&e))?;
    let credential = Credential::new(name.clone(), caller.owner.id.clone(), kind)
        .map_err(|e| credential_problem(&e))?;
    provider
        .0
        .put(&credential)
        .await
        .map_err(|e| credential_problem(&e))?;
    tracing::info!(credential = %name, owner = %caller.owner.name, "credential updated");
    ok(&credential_json(
        &find_credential(&app, &caller, &name).await?,
    ))
}

async fn delete_credential(
    State(app): AppState,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult {
    credentials_of(&app, &caller)
        .0
        .delete(&name)
        .await
        .map_err(|e| credential_problem(&e))?;
    tracing::info!(credential = %name, owner = %caller.owner.name, "credential deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------- integrations

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewIntegrationBody {
    name: String,
    config: Value,
    #[serde(default)]
    installation: Option<Installation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntegrationChange {
    version: i64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    config: Option<Value>,
    #[serde(default)]
    installation: Option<Installation>,
}

fn every_text(spec: &ScheduleSpec) -> String {
    match spec.every {
        sync_store::Every::Days(n) => format!("{n}d"),
        sync_store::Every::Hours(n) => format!("{n}h"),
    }
}

fn schedule_json(s: &Schedule) -> Value {
    json!({
        "every": every_text(&s.spec),
        "at": format!("{:02}:{:02}", s.spec.at_minute / 60, s.spec.at_minute % 60),
        "timezone": s.spec.time_zone,
        "next_run_at": s.next_run_at,
    })
}

fn stored_config(i: &Integration) -> Value {
    let mut config: Value = serde_json::from_str(&i.settings).unwrap_or_else(|_| json!({}));
    // The name lives at the top; the service sets `[integration] name` itself.
    if let Some(section) = config.get_mut("integration").and_then(Value::as_object_mut) {
        section.remove("name");
        if section.is_empty() {
            config.as_object_mut().map(|c| c.remove("integration"));
        }
    }
    config
}

async fn integration_json(app: &App, i: &Integration) -> Result<Value, Problem> {
    let schedule = app.store.schedule(&i.id).await?;
    let problems = match settings::parse_stored(app.pairing, &i.name, &i.settings) {
        Ok(_) => Vec::new(),
        Err(items) => items,
    };
    Ok(json!({
        "id": i.id,
        "name": i.name,
        "status": i.status,
        "installation": i.installation,
        "contacts": i.contacts,
        "version": i.version,
        "config": stored_config(i),
        "schedule": schedule_json(&schedule),
        "problems": problems,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
    }))
}

/// The contacts a config names (`integration.contacts`), if it names any as strings.
fn contacts_of(config: &Value) -> Vec<String> {
    config
        .pointer("/integration/contacts")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The settings text to store: the config as given (shape checked: an object, no nulls,
/// convertible to the file's TOML).
fn settings_text(name: &str, config: &Value) -> Result<String, Problem> {
    settings::to_toml(name, config).map_err(Problem::invalid)?;
    let mut config = config.clone();
    if let Some(section) = config.get_mut("integration").and_then(Value::as_object_mut) {
        section.remove("name");
    }
    serde_json::to_string(&config).map_err(|_| Problem::internal())
}

async fn list_integrations(
    State(app): AppState,
    caller: Caller,
    Query(page): Query<OffsetPage>,
) -> ApiResult {
    let list = app.store.integrations(&caller.owner.id).await?;
    let mut items = Vec::with_capacity(list.len());
    for i in &list {
        items.push(integration_json(&app, i).await?);
    }
    paged("/api/v1/integrations", items, &page, "")
}

async fn create_integration(
    State(app): AppState,
    caller: Caller,
    Body(body): Body<NewIntegrationBody>,
) -> ApiResult {
    check_name("integration", &body.name)?;
    let text = settings_text(&body.name, &body.config)?;
    let new = NewIntegration::new(body.name.clone(), text)
        .with_contacts(contacts_of(&body.config))
        .with_installation(body.installation.unwrap_or(Installation::Cloud))
        .with_format(SettingsFormat::Json);
    let created = app.store.create_integration(&caller.owner.id, &new).await?;
    tracing::info!(integration = %created.id, owner = %caller.owner.name, "integration created");
    Ok(json_response(
        StatusCode::CREATED,
        &integration_json(&app, &created).await?,
    ))
}

async fn get_integration(
    State(app): AppState,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let i = app.store.integration(&caller.owner.id, &id).await?;
    ok(&integration_json(&app, &i).await?)
}

/// The checks of a launch for `config` of integration `i`: 422 with every problem.
async fn launch_checks(
    app: &App,
    caller: &Caller,
    name: &str,
    config: &Value,
    installation: Installation,
) -> Result<(), Problem> {
    let parsed = settings::parse(app.pairing, name, config).map_err(launch_refused)?;
    let credentials = credentials_of(app, caller);
    let problems =
        settings::launch_problems(&parsed, &credentials, installation == Installation::Cloud).await;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(launch_refused(problems))
    }
}

fn launch_refused(errors: Vec<Item>) -> Problem {
    let detail = format!(
        "{} problem{} to fix before the integration can run; see `errors`",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    );
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "launch-refused",
        "The integration cannot be launched",
    )
    .detail(detail)
    .errors(errors)
}

async fn update_integration(
    State(app): AppState,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<IntegrationChange>,
) -> ApiResult {
    let current = app.store.integration(&caller.owner.id, &id).await?;
    if body.version != current.version {
        return Err(
            sync_store::StoreError::from(sync_store::ErrorKind::VersionConflict {
                what: "integration",
                id: id.clone(),
                expected: body.version,
                actual: current.version,
            })
            .into(),
        );
    }
    let name = body.name.clone().unwrap_or_else(|| current.name.clone());
    check_name("integration", &name)?;
    let config = match &body.config {
        Some(c) => c.clone(),
        None => stored_config(&current),
    };
    let installation = body.installation.unwrap_or(current.installation);
    // A launched integration stays runnable: its new settings pass the launch checks.
    if current.status == IntegrationStatus::Launched {
        launch_checks(&app, &caller, &name, &config, installation).await?;
    }
    let update = IntegrationUpdate {
        name: body.name.clone(),
        installation: body.installation,
        contacts: body.config.as_ref().map(contacts_of),
        settings: match &body.config {
            Some(c) => Some((settings_text(&name, c)?, SettingsFormat::Json)),
            None => None,
        },
    };
    let updated = app
        .store
        .update_integration(&caller.owner.id, &id, body.version, &update)
        .await?;
    ok(&integration_json(&app, &updated).await?)
}

async fn delete_integration(
    State(app): AppState,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    if app.store.delete_integration(&caller.owner.id, &id).await? {
        tracing::info!(integration = %id, owner = %caller.owner.name, "integration deleted");
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Problem::not_found(format!("integration `{id}` not found")))
    }
}

/// An optional JSON body: none at all is fine, anything else is decoded strictly.
struct OptionalBody<T>(Option<T>);

impl<T: serde::de::DeserializeOwned> FromRequest<Arc<App>> for OptionalBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, Problem> {
        if !req.headers().contains_key(header::CONTENT_TYPE) {
            // No content type: the body must be empty.
            let bytes = read_limited(req, app.config.body_limit).await?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalBody(None));
            }
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Send application/json",
            )
            .detail("a request body must be JSON with `Content-Type: application/json`"));
        }
        let RawJson(bytes) = RawJson::from_request(req, app).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(None));
        }
        decode(&bytes).map(|v| OptionalBody(Some(v)))
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct VersionBody {
    #[serde(default)]
    version: Option<i64>,
}

async fn launch(
    State(app): AppState,
    caller: Caller,
    Path(id): Path<String>,
    OptionalBody(body): OptionalBody<VersionBody>,
) -> ApiResult {
    let current = app.store.integration(&caller.owner.id, &id).await?;
    let version = body.unwrap_or_default().version;
    if let Some(v) = version
        && v != current.version
    {
        return Err(
            sync_store::StoreError::from(sync_store::ErrorKind::VersionConflict {
                what: "integration",
                id: id.clone(),
                expected: v,
                actual: current.version,
            })
            .into(),
        );
    }
    launch_checks(
        &app,
        &caller,
        &current.name,
        &stored_config(&current),
        current.installation,
    )
    .await?;
    let launched = app
        .store
        .set_status(
            &caller.owner.id,
            &id,
            IntegrationStatus::Launched,
            Some(current.version),
        )
        .await?;
    tracing::info!(integration = %id, owner = %caller.owner.name, "integration launched");
    ok(&integration_json(&app, &launched).await?)
}

async fn pause(
    State(app): AppState,
    caller: Caller,
    Path(id): Path<String>,
    OptionalBody(body): OptionalBody<VersionBody>,
) -> ApiResult {
    let version = body.unwrap_or_default().version;
    let paused = app
        .store
        .set_status(&caller.owner.id, &id, IntegrationStatus::Paused, version)
        .await?;
    tracing::info!(integration = %id, owner = %caller.owner.name, "integration paused");
    ok(&integration_json(&app, &paused).await?)
}

// ---------------------------------------------------------------- schedule

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleBody {
    every: String,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
}

fn parse_schedule(body: &ScheduleBody) -> Result<ScheduleSpec, Problem> {
    let mut problems = Vec::new();
    let every = body.every.trim();
    let (digits, unit) = every.split_at(every.len().saturating_sub(1));
    let every = match (digits.parse::<u32>(), unit) {
        (Ok(n), "d") => Some(sync_store::Every::Days(n)),
        (Ok(n), "h") => Some(sync_store::Every::Hours(n)),
        _ => {
            problems.push(Item::at(
                "every",
                "a number of days or hours, e.g. \"1d\" or \"6h\"",
            ));
            None
        }
    };
    let at = body.at.as_deref().unwrap_or("00:00");
    let time = at
        .split_once(':')
        .and_then(|(h, m)| Some((h.parse::<u8>().ok()?, m.parse::<u8>().ok()?)))
        .filter(|(h, m)| *h < 24 && *m < 60 && at.len() == 5);
    if time.is_none() {
        problems.push(Item::at("at", "a time of day, HH:MM (24-hour)"));
    }
    let zone = body.timezone.as_deref().unwrap_or("UTC");
    match (every, time) {
        (Some(every), Some((h, m))) if problems.is_empty() => {
            ScheduleSpec::new(every, h, m, zone).map_err(Problem::from)
        }
        _ => Err(Problem::invalid(problems)),
    }
}

async fn get_schedule(State(app): AppState, caller: Caller, Path(id): Path<String>) -> ApiResult {
    app.store.integration(&caller.owner.id, &id).await?;
    ok(&schedule_json(&app.store.schedule(&id).await?))
}

async fn put_schedule(
    State(app): AppState,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<ScheduleBody>,
) -> ApiResult {
    let spec = parse_schedule(&body)?;
    let schedule = app.store.set_schedule(&caller.owner.id, &id, &spec).await?;
    ok(&schedule_json(&schedule))
}

// ---------------------------------------------------------------- runs

/// The API's run state: `queued`, `running`, `finished` (succeeded, partial or failed:
/// see `outcome`) or `interrupted`.
fn api_state(state: RunState) -> &'static str {
    match state {
        RunState::Queued => "queued",
        RunState::Running => "running",
        RunState::Interrupted => "interrupted",
        RunState::Succeeded | RunState::Partial | RunState::Failed => "finished",
    }
}

fn run_json(run: &Run, errors: Option<&[(String, String, String)]>) -> Value {
    let finished = run.state.is_finished();
    let mut v = json!({
        "id": run.id,
        "integration_id": run.integration_id,
        "state": api_state(run.state),
        "outcome": finished.then(|| run.state.as_str()),
        "trigger": run.trigger,
        "scheduled_for": run.scheduled_for,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "attempt": run.attempt,
        "counts": run.counts,
        "report": if finished { json!(run.report) } else { Value::Null },
    });
    if let Some(errors) = errors {
        v["errors"] = errors
            .iter()
            .map(|(collection, key, message)| {
                json!({"collection": collection, "key": key, "message": message})
            })
            .collect();
    }
    v
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunsPage {
    limit: Option<usize>,
    before: Option<String>,
}

async fn list_runs(
    State(app): AppState,
    caller: Caller,
    Path(id): Path<String>,
    Query(page): Query<RunsPage>,
) -> ApiResult {
    app.store.integration(&caller.owner.id, &id).await?;
    let limit = limit_of(page.limit)?;
    let mut runs = app
        .store
        .runs(
            &id,
            &Page {
                before: page.before.clone(),
                limit: Some(u32::try_from(limit + 1).unwrap_or(u32::MAX)),
            },
        )
        .await?;
    let more = runs.len() > limit;
    runs.truncate(limit);
    let next = if more {
        runs.last().map(|r| {
            format!(
                "/api/v1/integrations/{id}/runs?limit={limit}&before={}",
                r.id
            )
        })
    } else {
        None
    };
    let items: Vec<Value> = runs.iter().map(|r| run_json(r, None)).collect();
    ok(&json!({"items": items, "next": next}))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RunNowBody {}

async fn run_now(
    State(app): AppState,
    caller: Caller,
    Path(id): Path<String>,
    OptionalBody(_body): OptionalBody<RunNowBody>,
) -> ApiResult {
    let (run, created) = app.store.run_now(&caller.owner.id, &id).await?;
    if created {
        tracing::info!(run_id = %run.id, integration = %id, "run queued (RUN NOW)");
        app.wake.wake();
        Ok(json_response(StatusCode::ACCEPTED, &run_json(&run, None)))
    } else {
        ok(&run_json(&run, None))
    }
}

async fn get_run(State(app): AppState, caller: Caller, Path(id): Path<String>) -> ApiResult {
    let run = app.store.run_of_owner(&caller.owner.id, &id).await?;
    let errors = app.store.run_errors(&run.id).await?;
    ok(&run_json(&run, Some(&errors)))
}

// ---------------------------------------------------------------- notifications

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationsQuery {
    unread: Option<bool>,
    limit: Option<usize>,
    offset: Option<usize>,
}

fn notification_json(n: &sync_store::Notification) -> Value {
    json!({
        "id": n.id,
        "integration_id": n.integration_id,
        "run_id": n.run_id,
        "kind": n.kind,
        "subject": n.subject,
        "body": n.body,
        "created_at": n.created_at,
        "read": n.read_at.is_some(),
        "read_at": n.read_at,
    })
}

async fn list_notifications(
    State(app): AppState,
    caller: Caller,
    Query(q): Query<NotificationsQuery>,
) -> ApiResult {
    let unread = q.unread.unwrap_or(false);
    let list = app.store.notifications(&caller.owner.id, unread).await?;
    paged(
        "/api/v1/notifications",
        list.iter().map(notification_json).collect(),
        &OffsetPage {
            limit: q.limit,
            offset: q.offset,
        },
        if unread { "unread=true&" } else { "" },
    )
}

async fn mark_read(State(app): AppState, caller: Caller, Path(id): Path<String>) -> ApiResult {
    app.store.mark_read(&caller.owner.id, &id).await?;
    let list = app.store.notifications(&caller.owner.id, false).await?;
    let n = list
        .iter()
        .find(|n| n.id == id)
        .ok_or_else(|| Problem::not_found(format!("notification `{id}` not found")))?;
    ok(&notification_json(n))
}

// ---------------------------------------------------------------- tokens

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    user: String,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    label: Option<String>,
}

async fn create_token(State(app): AppState, caller: Caller, request: Request) -> ApiResult {
    // Authorization before the body is even looked at.
    if !caller.admin {
        return Err(Problem::forbidden(
            "only an admin token may create tokens (quip-oomnitza-cloud token create --admin)",
        ));
    }
    let RawJson(raw) = RawJson::from_request(request, &app).await?;
    let body: NewToken = decode(&raw)?;
    check_name("user", &body.user)?;
    let owner = app.store.ensure_owner(&body.user).await?;
    let (token_id, token) = app
        .store
        .create_token(&owner, body.admin, body.label.as_deref())
        .await?;
    tracing::info!(token_id = %token_id, user = %owner.name, admin = body.admin, by = %caller.owner.name, "token created");
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "id": token_id,
            "user": owner.name,
            "admin": body.admin,
            "label": body.label,
            // Shown once; only its hash is stored.
            "token": secrecy::ExposeSecret::expose_secret(&token),
        }),
    ))
}
