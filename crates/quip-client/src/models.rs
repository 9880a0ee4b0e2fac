//! Typed models of Quip's responses.
//!
//! Every field except `id` is optional and unknown fields are ignored, because Quip
//! documents few guarantees about which fields appear (quip-api.md §2, §5).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};

/// Converts Quip's microsecond timestamps to UTC.
pub(crate) fn from_usec(usec: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(usec)
}

/// A Quip user (Automation API shape, quip-api.md §5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// User id (11 characters), equal to the SCIM `id`.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Email addresses, primary first when Quip shows them.
    #[serde(default)]
    pub emails: Option<Vec<String>>,
    /// The user's company, needed by every Admin call.
    #[serde(default)]
    pub company_id: Option<String>,
    /// `true` for a deactivated account.
    #[serde(default)]
    pub disabled: Option<bool>,
    /// `true` for a bot or integration user.
    #[serde(default)]
    pub is_robot: Option<bool>,
    /// Account creation, microseconds since the epoch.
    #[serde(default)]
    pub created_usec: Option<i64>,
    /// Last update, microseconds since the epoch (unconfirmed field).
    #[serde(default)]
    pub updated_usec: Option<i64>,
    /// Closeness to the caller (0..1); not inventory data.
    #[serde(default)]
    pub affinity: Option<f64>,
    /// Profile picture.
    #[serde(default)]
    pub profile_picture_url: Option<String>,
    /// 1:1 chat thread with the caller.
    #[serde(default)]
    pub chat_thread_id: Option<String>,
    /// Desktop folder (current user only).
    #[serde(default)]
    pub desktop_folder_id: Option<String>,
    /// Archive folder (current user only).
    #[serde(default)]
    pub archive_folder_id: Option<String>,
    /// Starred folder (current user only).
    #[serde(default)]
    pub starred_folder_id: Option<String>,
    /// Private folder (current user only).
    #[serde(default)]
    pub private_folder_id: Option<String>,
    /// Trash folder (current user only).
    #[serde(default)]
    pub trash_folder_id: Option<String>,
    /// Shared folders (current user only).
    #[serde(default)]
    pub shared_folder_ids: Option<Vec<String>>,
    /// Group folders (current user only).
    #[serde(default)]
    pub group_folder_ids: Option<Vec<String>>,
    /// Site subdomain (community clients only).
    #[serde(default)]
    pub subdomain: Option<String>,
    /// Profile URL (community clients only).
    #[serde(default)]
    pub url: Option<String>,
}

impl User {
    /// Account creation time.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        self.created_usec.and_then(from_usec)
    }

    /// The first email address (Quip lists the primary first).
    pub fn primary_email(&self) -> Option<&str> {
        self.emails.as_ref()?.first().map(String::as_str)
    }
}

/// One entry of a bulk lookup (`GET /1/users/?ids=`): a user, or Quip's per-entry error.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BulkEntry {
    /// The user. When the response omits `id` (as the documented example does), it is
    /// taken from the key if the key is an id.
    Found(Box<User>),
    /// Quip's error message for this key (HTTP 200 overall), e.g. not found; or an entry
    /// that is neither a user nor a message.
    Error(String),
}

impl BulkEntry {
    /// The user, when found.
    pub fn user(&self) -> Option<&User> {
        match self {
            BulkEntry::Found(u) => Some(u),
            BulkEntry::Error(_) => None,
        }
    }
}

/// A bulk lookup result, keyed by the ids or emails passed in (not by `id`).
pub type BulkLookup = BTreeMap<String, BulkEntry>;

/// One page of `POST /1/admin/users/list` (this project's assumption, quip-api.md §11).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct AdminUserPage {
    /// Users of this page (Automation shape plus `company_id`).
    #[serde(default)]
    pub users: Vec<User>,
    /// 0-based page number served.
    #[serde(default)]
    pub page: Option<u64>,
    /// Page size served.
    #[serde(default)]
    pub count: Option<u64>,
    /// Users in the company.
    #[serde(default)]
    pub total_count: Option<u64>,
    /// Next page, `None` on the last page.
    #[serde(default)]
    pub next_page: Option<u64>,
}

/// `GET /1/admin/users/{id}` (shape unconfirmed, quip-api.md §4.5).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct AdminUserInfo {
    /// The user.
    #[serde(default)]
    pub user: Option<User>,
    /// Per-thread data, kept raw.
    #[serde(default)]
    pub threads: Option<serde_json::Value>,
    /// Contacts, kept raw.
    #[serde(default)]
    pub contacts: Option<serde_json::Value>,
    /// Companies, kept raw.
    #[serde(default)]
    pub companies: Option<serde_json::Value>,
}

/// One admin role from `GET /1/admin/company/admin-roles` (endpoint unconfirmed; shape
/// is this project's assumption shared with the emulator).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct AdminRole {
    /// Role id.
    #[serde(default)]
    pub id: Option<String>,
    /// Role name, e.g. `Super Admin`, `Site Admin` or a custom role.
    #[serde(default)]
    pub name: Option<String>,
    /// Users holding the role.
    #[serde(default)]
    pub user_ids: Vec<String>,
}

/// `GET /1/admin/company/admin-roles` answer: `{"admin_roles":[{"id","name","user_ids"}]}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct AdminRoles {
    /// Every admin role with its holders (built-in roles first).
    #[serde(default, rename = "admin_roles")]
    pub roles: Vec<AdminRole>,
}

impl AdminRoles {
    /// Role name per user id; a user listed under several roles keeps the first.
    pub fn by_user(&self) -> HashMap<String, String> {
        let mut out = HashMap::new();
        for role in &self.roles {
            let Some(name) = &role.name else { continue };
            for user in &role.user_ids {
                out.entry(user.clone()).or_insert_with(|| name.clone());
            }
        }
        out
    }
}

/// A SCIM 2.0 ListResponse (RFC 7644 field names).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScimListResponse {
    /// Schema URNs.
    #[serde(default)]
    pub schemas: Option<Vec<String>>,
    /// Users matching in total.
    #[serde(default)]
    pub total_results: Option<u64>,
    /// 1-based index of the first resource of this page.
    #[serde(default)]
    pub start_index: Option<u64>,
    /// Resources in this page (may be fewer than asked for).
    #[serde(default)]
    pub items_per_page: Option<u64>,
    /// The users.
    #[serde(default, rename = "Resources")]
    pub resources: Vec<ScimUser>,
}

/// A SCIM user.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScimUser {
    /// The Quip user id.
    pub id: String,
    /// Set by Quip, usually the email; cannot be changed.
    #[serde(default)]
    pub user_name: Option<String>,
    /// The identity provider's id.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Name parts.
    #[serde(default)]
    pub name: Option<ScimName>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Email addresses.
    #[serde(default)]
    pub emails: Option<Vec<ScimEmail>>,
    /// `false` for a disabled account.
    #[serde(default)]
    pub active: Option<bool>,
    /// Resource metadata.
    #[serde(default)]
    pub meta: Option<ScimMeta>,
}

impl ScimUser {
    /// Email addresses with the primary first, in the order given otherwise.
    pub fn emails_primary_first(&self) -> Vec<&str> {
        let Some(emails) = &self.emails else {
            return Vec::new();
        };
        let mut out: Vec<&str> = emails
            .iter()
            .filter(|e| e.primary == Some(true))
            .filter_map(|e| e.value.as_deref())
            .collect();
        out.extend(
            emails
                .iter()
                .filter(|e| e.primary != Some(true))
                .filter_map(|e| e.value.as_deref()),
        );
        out
    }

    /// The best display name: `name.formatted`, `displayName`, or given + family name.
    pub fn display(&self) -> Option<String> {
        let name = self.name.as_ref();
        name.and_then(|n| n.formatted.clone())
            .or_else(|| self.display_name.clone())
            .or_else(|| {
                let n = name?;
                let parts: Vec<&str> = [n.given_name.as_deref(), n.family_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            })
    }
}

/// SCIM name parts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScimName {
    /// Full name.
    #[serde(default)]
    pub formatted: Option<String>,
    /// Given name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub family_name: Option<String>,
}

/// A SCIM email.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ScimEmail {
    /// The address.
    #[serde(default)]
    pub value: Option<String>,
    /// Primary address flag.
    #[serde(default)]
    pub primary: Option<bool>,
    /// Kind, e.g. `work`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// SCIM resource metadata.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScimMeta {
    /// Resource type, `User`.
    #[serde(default)]
    pub resource_type: Option<String>,
    /// Creation time (RFC 3339).
    #[serde(default)]
    pub created: Option<String>,
    /// Last modification (RFC 3339).
    #[serde(default)]
    pub last_modified: Option<String>,
    /// Resource URL.
    #[serde(default)]
    pub location: Option<String>,
}

impl ScimMeta {
    /// `created` as a time, when it parses.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        parse_rfc3339(self.created.as_deref()?)
    }

    /// `lastModified` as a time, when it parses.
    pub fn last_modified_at(&self) -> Option<DateTime<Utc>> {
        parse_rfc3339(self.last_modified.as_deref()?)
    }
}

fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// An Events API cursor (`next_cursor`).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct EventCursor {
    /// The cursor to read from.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

impl fmt::Debug for EventCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Cursors are opaque and long; their presence is what matters in logs.
        f.debug_struct("EventCursor")
            .field("next_cursor", &self.next_cursor.as_ref().map(String::len))
            .finish()
    }
}

/// One page of events.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct EventPage {
    /// The events.
    #[serde(default)]
    pub events: Vec<Event>,
    /// Cursor for the next read.
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// Whether more events are waiting (batch cursors; assumption, may be absent).
    #[serde(default)]
    pub more_to_read: Option<bool>,
}

/// One event: its type plus every other field, kept raw because the actor and timestamp
/// field names are unconfirmed (quip-api.md §4.9, §10.4); see
/// [`crate::EventFieldNames`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// Event type, e.g. `login`.
    #[serde(default)]
    pub event: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// An OAuth token answer (`POST /1/oauth/access_token`).
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The new access token.
    #[serde(deserialize_with = "secret")]
    pub access_token: SecretString,
    /// A new refresh token, when issued.
    #[serde(default, deserialize_with = "opt_secret")]
    pub refresh_token: Option<SecretString>,
    /// Lifetime in seconds.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// Granted scopes.
    #[serde(default)]
    pub scope: Option<String>,
    /// `Bearer`.
    #[serde(default)]
    pub token_type: Option<String>,
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    String::deserialize(d).map(SecretString::from)
}

fn opt_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Option::<String>::deserialize(d).map(|o| o.map(SecretString::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_quip_timestamps() {
        assert_eq!(
            from_usec(1_632_022_665_732_239).map(|t| t.to_rfc3339()),
            Some("2021-09-19T03:37:45.732239+00:00".to_owned())
        );
    }

    #[test]
    fn scim_helpers() {
        let u: ScimUser = serde_json::from_str(
            r#"{"id":"X","name":{"givenName":"Ann","familyName":"Lee"},
                "emails":[{"value":"b@x"},{"value":"a@x","primary":true}],
                "meta":{"created":"2021-09-19T03:37:45Z"}}"#,
        )
        .unwrap();
        assert_eq!(u.emails_primary_first(), vec!["a@x", "b@x"]);
        assert_eq!(u.display().as_deref(), Some("Ann Lee"));
        assert_eq!(
            u.meta.unwrap().created_at().unwrap().to_rfc3339(),
            "2021-09-19T03:37:45+00:00"
        );
    }

    #[test]
    fn token_debug_is_redacted() {
        let t: TokenResponse = serde_json::from_str(
            r#"{"access_token":"CANARY-a","refresh_token":"CANARY-r","expires_in":3600}"#,
        )
        .unwrap();
        let shown = format!("{t:?}");
        assert!(!shown.contains("CANARY"), "{shown}");
    }
}
