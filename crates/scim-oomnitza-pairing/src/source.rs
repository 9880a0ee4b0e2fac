//! The SCIM source: every user of `/Users` (optionally only members of named groups) with
//! status, role and last activity, as [`sync_engine::SourceRecord`]s.
//!
//! The roster is all or nothing: a listing `scim_client` finds incomplete (a page missing,
//! repeated, short or misplaced, `totalResults` changing, the page limit) fails the read, so
//! a partial directory is never planned against, let alone used to deactivate anyone.
//!
//! Group membership (the `groups` filter, `role_from_groups`) is read from each user's
//! `groups` attribute (RFC 7643 §4.1.2, `display` compared without case), so it costs no
//! request. A service that does not return it matches no group: with a `groups` filter
//! the read is then empty, which never deactivates anyone (sync-safety.md S1).
//!
//! Calls for N users at page size P: ceil(N/P) pages of `/Users` (at least one), plus one
//! per retry or throttled attempt.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use scim_client::{ScimClient, User};
use serde_json::Value as Json;
use sync_engine::FieldKind::{self, Bool, List, String as Text, Timestamp};
use sync_engine::{ApiStats, Completeness, ConnectorError, FieldSpec, Fields, Progress, Value};
use sync_engine::{ProgressEvent, Source, SourceRecord, SourceSnapshot, Stage};

use crate::ScimSection;

/// The source connector. `system()` is `scim`.
#[derive(Debug, Clone)]
pub struct ScimSource {
    /// The client (one per run: its counters and wait budget are the run's).
    pub client: ScimClient,
    /// What to read.
    pub section: ScimSection,
}

/// How a field's value is made, from the source (its section) and the user.
type Get = fn(&ScimSource, &User) -> Value;

/// Every field: its name, kind, description and value. (A table: one line per field.)
#[rustfmt::skip]
const FIELDS: &[(&str, FieldKind, &str, Get)] = &[
    ("id", Text, "SCIM id (stable)", |_, u| u.id.as_str().into()),
    ("userName", Text, "The unique user name", |_, u| u.user_name.clone().into()),
    ("name", Text, "name.formatted, else given + family name", |_, u| u.full_name().into()),
    ("given_name", Text, "givenName", |_, u| u.name.clone().and_then(|n| n.given_name).into()),
    ("family_name", Text, "familyName", |_, u| u.name.clone().and_then(|n| n.family_name).into()),
    ("email", Text, "Primary email, else the first", |_, u| emails(u).first().cloned().into()),
    ("emails", List, "Every email, primary first, lower-cased", |_, u| emails(u).into()),
    ("active", Bool, "False for a disabled account", |_, u| u.is_active().into()),
    ("title", Text, "Job title", |_, u| u.title.clone().into()),
    ("external_id", Text, "externalId", |_, u| u.external_id.clone().into()),
    ("role", Text, "From role_attribute or role_from_groups", |s, u| s.role(u).into()),
    ("last_activity", Timestamp, "From last_activity_attribute", |s, u| s.last_activity(u).into()),
    ("is_robot", Bool, "From robot_attribute; false without one", |s, u| s.robot(u).into()),
];

/// The fields [`ScimSource`] offers (the keys of [`SourceRecord::fields`]).
pub fn scim_fields() -> Vec<FieldSpec> {
    let spec = |f: &(&str, FieldKind, &str, Get)| FieldSpec::new(f.0, f.1, f.2);
    FIELDS.iter().map(spec).collect()
}

/// Every email, the primary (else the first) first, trimmed and lower-cased.
fn emails(user: &User) -> Vec<String> {
    let listed = user.emails.iter().filter_map(|e| e.value.as_deref());
    let mut all: Vec<&str> = listed.collect();
    // A stable sort: the primary first, the others in the service's order.
    all.sort_by_key(|e| Some(*e) != user.primary_email());
    all.iter().map(|e| e.trim().to_lowercase()).collect()
}

/// The names of the groups the user is a direct member of, lower-cased.
fn member_of(user: &User) -> Vec<String> {
    let names = user.groups.iter().filter_map(|g| g.display.as_deref());
    names.map(str::to_lowercase).collect()
}

/// A value as text: a string, the first of a list (or its `value`), a number or a bool.
fn text(v: Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s).filter(|s| !s.trim().is_empty()),
        Json::Array(items) => items.into_iter().find_map(text),
        Json::Object(mut o) => o.remove("value").and_then(text),
        Json::Null => None,
        other => Some(other.to_string()),
    }
}

impl ScimSource {
    /// The text at the attribute path the section names at `path`, if any.
    fn attribute(user: &User, path: Option<&String>) -> Option<String> {
        path.and_then(|p| user.attribute(p)).and_then(text)
    }

    fn role(&self, user: &User) -> Option<String> {
        let (s, member_of) = (&self.section, member_of(user));
        let in_group = |g: &&String| member_of.contains(&g.to_lowercase());
        let by_group = || s.role_from_groups.iter().find(in_group).cloned();
        let configured = s.role_attribute.is_some() || !s.role_from_groups.is_empty();
        let default = || configured.then(|| "Member".to_owned());
        let by_attribute = Self::attribute(user, s.role_attribute.as_ref());
        by_attribute.or_else(by_group).or_else(default)
    }

    fn last_activity(&self, user: &User) -> Option<DateTime<Utc>> {
        let text = Self::attribute(user, self.section.last_activity_attribute.as_ref());
        text.and_then(|t| t.parse().ok())
    }

    fn robot(&self, user: &User) -> bool {
        Self::attribute(user, self.section.robot_attribute.as_ref()).is_some_and(|r| r == "true")
    }

    /// Whether the `groups` filter keeps the user.
    fn wanted(&self, user: &User) -> bool {
        let (groups, member_of) = (&self.section.groups, member_of(user));
        groups.is_empty() || groups.iter().any(|g| member_of.contains(&g.to_lowercase()))
    }

    fn record(&self, user: &User) -> SourceRecord {
        let mut fields = Fields::new();
        for (name, _, _, get) in FIELDS {
            fields.insert(*name, get(self, user));
        }
        SourceRecord {
            key: user.id.as_str().into(),
            fields,
            active: user.is_active(),
            roles: self.role(user).into_iter().map(Into::into).collect(),
            last_activity: self.last_activity(user),
        }
    }
}

#[async_trait]
impl Source for ScimSource {
    fn system(&self) -> &'static str {
        "scim"
    }

    /// The credential works: one user asked for.
    async fn validate(&self) -> Result<Vec<String>, ConnectorError> {
        let one = self.client.users().list().count(1);
        let total = one.page(1).await?.total_results.unwrap_or(0);
        let url = self.section.base_url.as_ref().map_or("", |u| u.as_str());
        let line = format!("SCIM: credential accepted at {url} ({total} users)");
        Ok(vec![line])
    }

    fn fields(&self) -> Vec<FieldSpec> {
        scim_fields()
    }

    /// Every user, or an error: never a partial roster.
    async fn read(&self, progress: &dyn Progress) -> Result<SourceSnapshot, ConnectorError> {
        let stage = Stage::ReadSource;
        progress.on_event(ProgressEvent::Started { stage, total: None });
        let (mut pages, mut records) = (self.client.users().list().pages(), Vec::new());
        let mut total = None;
        while let Some(page) = pages.try_next().await? {
            total = page.total_results;
            let by = page.resources.len() as u64;
            progress.on_event(ProgressEvent::Advanced { stage, by });
            let wanted = page.resources.iter().filter(|u| self.wanted(u));
            records.extend(wanted.map(|u| self.record(u)));
        }
        progress.on_event(ProgressEvent::Finished { stage });
        // With a group filter the records are fewer than the listing's total.
        Ok(SourceSnapshot {
            records,
            completeness: Completeness::Complete,
            reported_total: total.filter(|_| self.section.groups.is_empty()),
            unknown: Vec::new(),
        })
    }

    fn stats(&self) -> ApiStats {
        self.client.stats()
    }
}
