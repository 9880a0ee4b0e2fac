//! The Quip source connector: every user of a company with status, role and last
//! activity, as [`sync_engine::SourceRecord`]s.
//!
//! # API calls for N users
//!
//! With `page_size` 100 (the emulator's and the assumed server cap), for N users:
//!
//! | Step | Calls |
//! |---|---|
//! | company id (`GET /1/users/current`), unless `company_id` is configured | 1 |
//! | SCIM listing (`GET /2/Users`) | max(1, ceil(N/100)) |
//! | Admin listing (`POST /1/admin/users/list`) | max(1, ceil(N/100)) |
//! | enrichment (`GET /1/users/?ids=`), SCIM listing with `enrich` | ceil(N/1000) |
//! | enrichment, Admin listing with `enrich` | ceil(M/1000), M = users the listing left without `disabled`/`is_robot`/`created_usec` (normally 0) |
//! | roles (`GET /1/admin/company/admin-roles`), when `admin_role_endpoint` | 1 |
//! | last activity (batch cursor + pages of events), when enabled | 1 + max(1, ceil(E/page)) |
//!
//! plus one call per retry or throttled attempt. So SCIM with enrichment reads 25,000 users
//! in 1 + 250 + 25 = 276 calls, and Admin in 1 + 250 = 251.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use compact_str::CompactString;
use futures::{StreamExt, TryStreamExt};
use sync_engine::{
    ApiStats, Completeness, ConnectorError, FieldKind, FieldSpec, Fields, Progress, ProgressEvent,
    Source, SourceRecord, SourceSnapshot, Stage, UnknownFields, Value,
};

use crate::client::QuipClient;
use crate::error::{ErrorKind, QuipError};
use crate::events::EventFieldNames;
use crate::models::{ScimUser, User};
use crate::users::BULK_LIMIT;

/// How the users of the company are listed (`listing = "scim"` or `"admin"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Listing {
    /// SCIM `GET /2/Users` (Enterprise, SCIM token; 600 req/min per company).
    #[default]
    Scim,
    /// Admin `POST /1/admin/users/list` (admin token; 100 req/min, 1,500 req/h per user).
    Admin,
}

/// Where a user's role comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoleSource {
    /// Ask `GET /1/admin/company/admin-roles` (unconfirmed endpoint; a 404 or 403 falls
    /// back to `admins`).
    pub admin_role_endpoint: bool,
    /// Users (ids or emails, case-insensitive) given `admin_role` when the endpoint is off
    /// or not available.
    pub admins: Vec<String>,
    /// Role of configured admins. Default `Admin`.
    pub admin_role: String,
    /// Role of everyone else. Default `Member`.
    pub default_role: String,
}

impl Default for RoleSource {
    fn default() -> Self {
        RoleSource {
            admin_role_endpoint: false,
            admins: Vec::new(),
            admin_role: "Admin".to_owned(),
            default_role: "Member".to_owned(),
        }
    }
}

impl RoleSource {
    /// Uses the admin-role endpoint when available.
    #[must_use]
    pub fn endpoint(mut self, enabled: bool) -> Self {
        self.admin_role_endpoint = enabled;
        self
    }

    /// Sets the configured admins (ids or emails).
    #[must_use]
    pub fn admins(mut self, admins: Vec<String>) -> Self {
        self.admins = admins;
        self
    }

    /// Sets the default role.
    #[must_use]
    pub fn default_role(mut self, role: impl Into<String>) -> Self {
        self.default_role = role.into();
        self
    }
}

/// Last activity from Events API `login` events.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventsConfig {
    /// How far back to read `login` events.
    pub lookback: Duration,
    /// Field names of the actor and the time in events (unconfirmed; see
    /// [`EventFieldNames`]).
    pub fields: EventFieldNames,
}

impl EventsConfig {
    /// Reads logins of the last `lookback`.
    pub fn new(lookback: Duration) -> Self {
        EventsConfig {
            lookback,
            fields: EventFieldNames::default(),
        }
    }

    /// Sets the event field names.
    #[must_use]
    pub fn fields(mut self, fields: EventFieldNames) -> Self {
        self.fields = fields;
        self
    }
}

/// Configuration of [`QuipSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuipSourceConfig {
    /// SCIM or Admin listing.
    pub listing: Listing,
    /// The company; read from `GET /1/users/current` when absent.
    pub company_id: Option<String>,
    /// Bulk lookups (1,000 per call) for `disabled`, `is_robot`, `created_usec`, emails.
    pub enrich: bool,
    /// Roles.
    pub roles: RoleSource,
    /// Last activity from login events; `None` leaves it absent.
    pub last_activity: Option<EventsConfig>,
    /// Users per listing page to ask for. Default 100.
    pub page_size: u32,
}

impl Default for QuipSourceConfig {
    fn default() -> Self {
        QuipSourceConfig {
            listing: Listing::Scim,
            company_id: None,
            enrich: true,
            roles: RoleSource::default(),
            last_activity: None,
            page_size: 100,
        }
    }
}

impl QuipSourceConfig {
    /// A configuration with this listing and defaults otherwise.
    pub fn new(listing: Listing) -> Self {
        QuipSourceConfig {
            listing,
            ..QuipSourceConfig::default()
        }
    }

    /// Sets the company id.
    #[must_use]
    pub fn company_id(mut self, id: impl Into<String>) -> Self {
        self.company_id = Some(id.into());
        self
    }

    /// Turns enrichment on or off.
    #[must_use]
    pub fn enrich(mut self, enrich: bool) -> Self {
        self.enrich = enrich;
        self
    }

    /// Sets the role source.
    #[must_use]
    pub fn roles(mut self, roles: RoleSource) -> Self {
        self.roles = roles;
        self
    }

    /// Enables last activity from events.
    #[must_use]
    pub fn last_activity(mut self, events: EventsConfig) -> Self {
        self.last_activity = Some(events);
        self
    }

    /// Sets the listing page size.
    #[must_use]
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Keeps only the optional reads that provide a field in `used` (the source fields the
    /// mappings and filters read, e.g. [`sync_engine::SyncDefinition::source_fields`]): the
    /// admin-role endpoint for [`ROLE_FIELDS`], the Events API for
    /// [`LAST_ACTIVITY_FIELDS`]. A sync that maps neither sends neither request.
    #[must_use]
    pub fn only_for_fields(mut self, used: &BTreeSet<String>) -> Self {
        let uses = |fields: &[&str]| fields.iter().any(|f| used.contains(*f));
        if !uses(ROLE_FIELDS) {
            self.roles.admin_role_endpoint = false;
        }
        if !uses(LAST_ACTIVITY_FIELDS) {
            self.last_activity = None;
        }
        self
    }
}

/// The source fields the admin-role endpoint provides (`role`, and `roles` for templates).
pub const ROLE_FIELDS: &[&str] = &["role", "roles"];

/// The source fields the Events API provides.
pub const LAST_ACTIVITY_FIELDS: &[&str] = &["last_activity"];

/// The source connector. `system()` is `quip`.
#[derive(Debug, Clone)]
pub struct QuipSource {
    client: QuipClient,
    config: QuipSourceConfig,
}

/// A user while the read is assembling it.
#[derive(Debug, Clone, Default)]
struct Row {
    id: String,
    name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    emails: Vec<String>,
    disabled: Option<bool>,
    is_robot: Option<bool>,
    created_at: Option<DateTime<Utc>>,
    company_id: Option<String>,
}

impl Row {
    fn from_scim(u: ScimUser) -> Row {
        let mut emails: Vec<String> = u
            .emails_primary_first()
            .into_iter()
            .map(str::to_owned)
            .collect();
        if emails.is_empty()
            && let Some(user_name) = u.user_name.as_ref().filter(|n| n.contains('@'))
        {
            emails.push(user_name.clone());
        }
        let name = u.display();
        let created_at = u
            .meta
            .as_ref()
            .and_then(crate::models::ScimMeta::created_at);
        let (first_name, last_name) = match &u.name {
            Some(n) if n.given_name.is_some() || n.family_name.is_some() => {
                (n.given_name.clone(), n.family_name.clone())
            }
            _ => split_name(name.as_deref()),
        };
        Row {
            id: u.id,
            name,
            first_name,
            last_name,
            emails,
            disabled: u.active.map(|a| !a),
            is_robot: None,
            created_at,
            company_id: None,
        }
    }

    fn from_user(u: User) -> Row {
        let (first_name, last_name) = split_name(u.name.as_deref());
        Row {
            created_at: u.created_at(),
            id: u.id,
            first_name,
            last_name,
            name: u.name,
            emails: u.emails.unwrap_or_default(),
            disabled: u.disabled,
            is_robot: u.is_robot,
            company_id: u.company_id,
        }
    }

    fn needs_enrichment(&self) -> bool {
        self.disabled.is_none() || self.is_robot.is_none() || self.created_at.is_none()
    }

    /// Fills what the bulk lookup knows and the listing did not say.
    fn enrich(&mut self, u: &User) {
        // Inactive wins: a user disabled by either API is disabled.
        self.disabled = match (self.disabled, u.disabled) {
            (Some(a), Some(b)) => Some(a || b),
            (a, b) => a.or(b),
        };
        self.is_robot = self.is_robot.or(u.is_robot);
        self.created_at = self.created_at.or_else(|| u.created_at());
        if self.emails.is_empty()
            && let Some(e) = &u.emails
        {
            self.emails.clone_from(e);
        }
        if self.name.is_none() {
            self.name.clone_from(&u.name);
            if self.first_name.is_none() && self.last_name.is_none() {
                (self.first_name, self.last_name) = split_name(u.name.as_deref());
            }
        }
        if self.company_id.is_none() {
            self.company_id.clone_from(&u.company_id);
        }
    }
}

/// "Jane van Doe" → ("Jane", "van Doe"): Quip has one display name, no name parts.
fn split_name(name: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return (None, None);
    };
    match name.split_once(char::is_whitespace) {
        Some((first, rest)) => (Some(first.to_owned()), Some(rest.trim().to_owned())),
        None => (Some(name.to_owned()), None),
    }
}

/// What went wrong while reading: roster gaps (the snapshot's completeness) and
/// enrichments that could not be read (unknown fields, warnings only).
#[derive(Debug, Default)]
struct Gaps {
    reasons: Vec<String>,
    /// Optional reads that failed: their fields are unknown this run.
    unknown: Vec<UnknownFields>,
    /// The wait cap was reached: later stages would fail at once, so they are skipped.
    gave_up: bool,
}

impl Gaps {
    fn add(&mut self, reason: impl Into<String>) {
        let reason = reason.into();
        tracing::warn!(%reason, "Quip read is incomplete");
        self.reasons.push(reason);
    }

    fn failed(&mut self, what: &str, e: &QuipError) {
        if e.is_throttled() {
            self.gave_up = true;
        }
        self.add(format!("{what}: {e}"));
    }

    /// An optional read (`api`) failed or was skipped: `fields` are unknown this run. The
    /// roster stays complete; the warning names the API and the HTTP status.
    fn enrichment(&mut self, api: &str, fields: &[&str], why: &str) {
        let list = fields
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let warning = format!(
            "{api} could not be read ({why}); unknown this run and left as the target has it: {list}"
        );
        tracing::warn!(%warning, "Quip enrichment not read");
        self.unknown
            .push(UnknownFields::all(fields.iter().copied(), warning));
    }

    fn enrichment_failed(&mut self, api: &str, fields: &[&str], e: &QuipError) {
        if e.is_throttled() {
            self.gave_up = true;
        }
        let text = e.to_string();
        let why = match e.status().map(|s| s.as_u16()) {
            Some(status) if !text.contains(&format!("HTTP {status}")) => {
                format!("HTTP {status}: {text}")
            }
            _ => text,
        };
        self.enrichment(api, fields, &why);
    }
}

/// The API names used in warnings.
const ROLES_API: &str = "Quip Admin API admin roles (GET /1/admin/company/admin-roles)";
const EVENTS_API: &str = "Quip Events API login events (GET /1/admin/events/1/...)";

/// Where this run's roles come from.
enum RoleLookup {
    /// The admin-role endpoint answered: role per user id.
    Endpoint(HashMap<String, String>),
    /// The endpoint is off or unavailable here: the configured admins.
    Configured,
    /// The endpoint failed: roles are unknown this run.
    Unknown,
}

/// The fields [`QuipSource`] offers (also the keys of [`SourceRecord::fields`]).
pub fn quip_fields() -> Vec<FieldSpec> {
    vec![
        FieldSpec::new(
            "id",
            FieldKind::String,
            "Quip user id (stable; equals the SCIM id)",
        ),
        FieldSpec::new("name", FieldKind::String, "Display name"),
        FieldSpec::new(
            "first_name",
            FieldKind::String,
            "Given name (SCIM), else the first word of the name",
        ),
        FieldSpec::new(
            "last_name",
            FieldKind::String,
            "Family name (SCIM), else the rest of the name",
        ),
        FieldSpec::new("email", FieldKind::String, "Primary email, lower-cased"),
        FieldSpec::new(
            "emails",
            FieldKind::List,
            "Every email, primary first, lower-cased",
        ),
        FieldSpec::new(
            "disabled",
            FieldKind::Bool,
            "True for a deactivated account",
        ),
        FieldSpec::new(
            "is_robot",
            FieldKind::Bool,
            "True for a bot or integration user",
        ),
        FieldSpec::new("created_at", FieldKind::Timestamp, "Account creation"),
        FieldSpec::new(
            "role",
            FieldKind::String,
            "Admin role, or the default role (Member)",
        ),
        FieldSpec::new(
            "last_activity",
            FieldKind::Timestamp,
            "Newest login event in the lookback, if any",
        ),
        FieldSpec::new("company_id", FieldKind::String, "Quip company id"),
    ]
}

/// One listing page: its users as rows, and the total the server reports.
type RowPage = (Vec<Row>, Option<u64>);

impl QuipSource {
    /// A source reading through `client`.
    pub fn new(client: QuipClient, config: QuipSourceConfig) -> Self {
        QuipSource { client, config }
    }

    /// The client (for its counters).
    pub fn client(&self) -> &QuipClient {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &QuipSourceConfig {
        &self.config
    }

    /// Lists users, page by page. `Err` when nothing usable was read.
    async fn list(
        &self,
        company_id: &str,
        progress: &dyn Progress,
        gaps: &mut Gaps,
    ) -> Result<(Vec<Row>, Option<u64>), QuipError> {
        let mut rows = Vec::new();
        let mut seen = HashSet::new();
        let mut total = None;
        let mut pages_read = 0u64;
        let mut handle = |users: Vec<Row>, page_total: Option<u64>, pages_read: u64| {
            if let Some(t) = page_total
                && total != Some(t)
            {
                total = Some(t);
                progress.on_event(ProgressEvent::Total {
                    stage: Stage::ReadSource,
                    total: t,
                });
            }
            let mut added = 0u64;
            for row in users {
                if seen.insert(row.id.clone()) {
                    rows.push(row);
                    added += 1;
                }
            }
            tracing::debug!(page = pages_read, added, "Quip listing page read");
            progress.on_event(ProgressEvent::Advanced {
                stage: Stage::ReadSource,
                by: added,
            });
        };
        // Either listing, as pages of rows with the total the server reports.
        let mut pages: futures::stream::BoxStream<'_, Result<RowPage, QuipError>> =
            match self.config.listing {
                Listing::Scim => self
                    .client
                    .scim()
                    .list_users()
                    .page_size(self.config.page_size)
                    .pages()
                    .map_ok(|page| {
                        let users = page.resources.into_iter().map(Row::from_scim).collect();
                        (users, page.total_results)
                    })
                    .boxed(),
                Listing::Admin => self
                    .client
                    .admin()
                    .list_users(company_id)
                    .page_size(self.config.page_size)
                    .pages()
                    .map_ok(|page| {
                        let users = page.users.into_iter().map(Row::from_user).collect();
                        (users, page.total_count)
                    })
                    .boxed(),
            };
        let failure = loop {
            match pages.next().await {
                None => break None,
                Some(Ok((users, page_total))) => {
                    pages_read += 1;
                    handle(users, page_total, pages_read);
                }
                Some(Err(e)) => break Some(e),
            }
        };
        if let Some(e) = failure {
            if pages_read == 0 || e.is_auth() {
                return Err(e);
            }
            gaps.failed(
                &format!(
                    "listing stopped after {pages_read} page(s) and {} user(s)",
                    rows.len()
                ),
                &e,
            );
        }
        Ok((rows, total))
    }

    /// Fills `disabled`, `is_robot`, `created_usec` and emails from bulk lookups. Returns, per
    /// row, whether its details are known (false when its lookup batch failed or was
    /// skipped: such a row could be a robot or a disabled account, so it must not be used).
    async fn enrich(&self, rows: &mut [Row], gaps: &mut Gaps) -> Result<Vec<bool>, QuipError> {
        let mut verified = vec![true; rows.len()];
        let wanted: Vec<usize> = match self.config.listing {
            Listing::Scim => (0..rows.len()).collect(),
            Listing::Admin => (0..rows.len())
                .filter(|&i| rows[i].needs_enrichment())
                .collect(),
        };
        let mut unknown = 0usize;
        for (batch_no, chunk) in wanted.chunks(BULK_LIMIT).enumerate() {
            if gaps.gave_up {
                gaps.add(format!("enrichment batch {} skipped", batch_no + 1));
                for &i in chunk {
                    verified[i] = false;
                }
                continue;
            }
            let ids: Vec<&str> = chunk.iter().map(|&i| rows[i].id.as_str()).collect();
            match self.client.users().lookup(&ids).await {
                Ok(found) => {
                    for &i in chunk {
                        match found.get(&rows[i].id).and_then(|e| e.user()) {
                            Some(u) => rows[i].enrich(u),
                            None => unknown += 1,
                        }
                    }
                }
                Err(e) if e.is_auth() => return Err(e),
                Err(e) => {
                    gaps.failed(
                        &format!(
                            "enrichment batch {} of {} users failed",
                            batch_no + 1,
                            chunk.len()
                        ),
                        &e,
                    );
                    for &i in chunk {
                        verified[i] = false;
                    }
                }
            }
        }
        if unknown > 0 {
            // Listed but unknown to the Automation API (e.g. deleted meanwhile): the listing
            // still counts, the missing fields stay empty.
            tracing::warn!(unknown, "bulk lookup did not know some listed users");
        }
        Ok(verified)
    }

    /// Where roles come from this run.
    async fn endpoint_roles(&self, company_id: &str, gaps: &mut Gaps) -> RoleLookup {
        if !self.config.roles.admin_role_endpoint {
            return RoleLookup::Configured;
        }
        if gaps.gave_up {
            gaps.enrichment(
                ROLES_API,
                ROLE_FIELDS,
                "skipped: the rate-limit wait cap was reached",
            );
            return RoleLookup::Unknown;
        }
        match self.client.admin().admin_roles(company_id).await {
            Ok(roles) => RoleLookup::Endpoint(roles.by_user()),
            // 404: the endpoint does not exist here; 403: the token is not an admin's.
            Err(e)
                if matches!(e.kind(), ErrorKind::NotAvailable)
                    || e.status() == Some(http::StatusCode::FORBIDDEN) =>
            {
                tracing::info!(error = %e, "admin-role endpoint not available; using configured admins");
                RoleLookup::Configured
            }
            Err(e) => {
                gaps.enrichment_failed(ROLES_API, ROLE_FIELDS, &e);
                RoleLookup::Unknown
            }
        }
    }

    async fn last_logins(
        &self,
        company_id: &str,
        gaps: &mut Gaps,
    ) -> HashMap<String, DateTime<Utc>> {
        let Some(events) = &self.config.last_activity else {
            return HashMap::new();
        };
        if gaps.gave_up {
            gaps.enrichment(
                EVENTS_API,
                LAST_ACTIVITY_FIELDS,
                "skipped: the rate-limit wait cap was reached",
            );
            return HashMap::new();
        }
        let now: DateTime<Utc> = self.client.transport.http.clock().now().into();
        let since =
            now - chrono::Duration::from_std(events.lookback).unwrap_or(chrono::Duration::zero());
        match self
            .client
            .events()
            .last_logins(company_id, since, &events.fields)
            .await
        {
            Ok(map) => map,
            // 403/404: the Events add-on is not licensed here; anything else: it failed.
            // Either way last activity is unknown, never "no activity".
            Err(e) => {
                gaps.enrichment_failed(EVENTS_API, LAST_ACTIVITY_FIELDS, &e);
                HashMap::new()
            }
        }
    }

    fn record(
        &self,
        row: Row,
        company_id: &str,
        endpoint_roles: &RoleLookup,
        admins: &HashSet<String>,
        logins: &HashMap<String, DateTime<Utc>>,
    ) -> SourceRecord {
        let emails: Vec<String> = row.emails.iter().map(|e| e.trim().to_lowercase()).collect();
        let email = emails.first().cloned();
        let roles = &self.config.roles;
        // Unknown (the endpoint failed): no role at all, rather than a wrong guess; the
        // snapshot marks `role` unknown, so the role a seat already has is left alone.
        let role: Option<String> = match endpoint_roles {
            RoleLookup::Endpoint(map) => Some(
                map.get(&row.id)
                    .cloned()
                    .unwrap_or_else(|| roles.default_role.clone()),
            ),
            RoleLookup::Configured => Some(
                if admins.contains(&row.id.to_lowercase())
                    || emails.iter().any(|e| admins.contains(e))
                {
                    roles.admin_role.clone()
                } else {
                    roles.default_role.clone()
                },
            ),
            RoleLookup::Unknown => None,
        };
        let last_activity = logins.get(&row.id).copied();
        let disabled = row.disabled.unwrap_or(false);
        let fields = Fields::new()
            .with("id", row.id.as_str())
            .with("name", row.name)
            .with("first_name", row.first_name)
            .with("last_name", row.last_name)
            .with("email", email)
            .with("emails", emails)
            .with("disabled", row.disabled)
            .with("is_robot", row.is_robot)
            .with("created_at", row.created_at)
            .with("role", role.as_deref())
            .with(
                "last_activity",
                last_activity.map_or(Value::Null, Value::Timestamp),
            )
            .with(
                "company_id",
                row.company_id.unwrap_or_else(|| company_id.to_owned()),
            );
        SourceRecord {
            key: CompactString::from(row.id),
            fields,
            active: !disabled,
            roles: role.map(CompactString::from).into_iter().collect(),
            last_activity,
        }
    }

    /// Reads every user. See [`Source::read`].
    pub async fn read_snapshot(
        &self,
        progress: &dyn Progress,
    ) -> Result<SourceSnapshot, QuipError> {
        progress.on_event(ProgressEvent::Started {
            stage: Stage::ReadSource,
            total: None,
        });
        let company_id = match &self.config.company_id {
            Some(c) => c.clone(),
            None => self
                .client
                .users()
                .current()
                .await?
                .company_id
                .ok_or_else(|| {
                    QuipError::config(
                        "GET /1/users/current has no company_id; configure company_id",
                    )
                })?,
        };
        let mut gaps = Gaps::default();
        let (mut rows, total) = self.list(&company_id, progress, &mut gaps).await?;
        if let Some(total) = total
            && total != rows.len() as u64
            && gaps.reasons.is_empty()
        {
            gaps.add(format!(
                "read {} distinct user(s) but the server reported a total of {total}",
                rows.len()
            ));
        }
        if self.config.enrich {
            let verified = self.enrich(&mut rows, &mut gaps).await?;
            let before = rows.len();
            let mut flags = verified.into_iter();
            rows.retain(|_| flags.next().unwrap_or(true));
            let left_out = before - rows.len();
            if left_out > 0 {
                gaps.add(format!(
                    "{left_out} listed user(s) left out of this run: whether they are disabled \
                     or robots could not be read"
                ));
            }
        }
        let endpoint_roles = self.endpoint_roles(&company_id, &mut gaps).await;
        let admins: HashSet<String> = self
            .config
            .roles
            .admins
            .iter()
            .map(|a| a.trim().to_lowercase())
            .collect();
        let logins = self.last_logins(&company_id, &mut gaps).await;
        let records = rows
            .into_iter()
            .map(|row| self.record(row, &company_id, &endpoint_roles, &admins, &logins))
            .collect::<Vec<_>>();
        progress.on_event(ProgressEvent::Finished {
            stage: Stage::ReadSource,
        });
        let completeness = if gaps.reasons.is_empty() {
            Completeness::Complete
        } else {
            Completeness::Incomplete {
                reason: gaps.reasons.join("; "),
            }
        };
        let stats = self.client.stats();
        tracing::info!(
            users = records.len(),
            complete = completeness.is_complete(),
            calls = stats.calls,
            throttled = stats.throttled,
            rate_limit_wait_s = stats.rate_limit_wait.as_secs(),
            "Quip read finished"
        );
        Ok(SourceSnapshot {
            records,
            completeness,
            reported_total: total,
            unknown: gaps.unknown,
        })
    }
}

#[async_trait]
impl Source for QuipSource {
    fn system(&self) -> &'static str {
        "quip"
    }

    fn display_name(&self) -> &'static str {
        "Quip"
    }

    /// The token works: `GET /1/users/current` names its owner and company.
    async fn validate(&self) -> Result<Vec<String>, ConnectorError> {
        let me = self.client.users().current().await?;
        Ok(vec![format!(
            "Quip: token accepted at {} (token owner {}, company {})",
            self.client.base_url().as_str().trim_end_matches('/'),
            me.name.as_deref().unwrap_or(&me.id),
            me.company_id.as_deref().unwrap_or("unknown")
        )])
    }

    fn fields(&self) -> Vec<FieldSpec> {
        quip_fields()
    }

    async fn read(&self, progress: &dyn Progress) -> Result<SourceSnapshot, ConnectorError> {
        self.read_snapshot(progress)
            .await
            .map_err(ConnectorError::from)
    }

    fn stats(&self) -> ApiStats {
        self.client.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_names() {
        assert_eq!(
            split_name(Some(" Jane van Doe ")),
            (Some("Jane".into()), Some("van Doe".into()))
        );
        assert_eq!(split_name(Some("Cher")), (Some("Cher".into()), None));
        assert_eq!(split_name(Some("  ")), (None, None));
        assert_eq!(split_name(None), (None, None));
    }

    #[test]
    fn enrichment_never_reactivates() {
        let mut row = Row {
            id: "A".into(),
            disabled: Some(true),
            ..Row::default()
        };
        let u: User = serde_json::from_str(
            r#"{"id":"A","disabled":false,"is_robot":true,"created_usec":1631916773945747,"emails":["A@X.example"]}"#,
        )
        .unwrap();
        row.enrich(&u);
        assert_eq!(row.disabled, Some(true));
        assert_eq!(row.is_robot, Some(true));
        assert_eq!(row.emails, vec!["A@X.example".to_owned()]);
        assert!(row.created_at.is_some());
    }

    #[test]
    fn field_specs_cover_record_fields() {
        let names: Vec<String> = quip_fields().iter().map(|f| f.name.to_string()).collect();
        assert_eq!(names.len(), 12);
        for required in [
            "id",
            "email",
            "emails",
            "role",
            "last_activity",
            "company_id",
        ] {
            assert!(names.iter().any(|n| n == required));
        }
    }
}
