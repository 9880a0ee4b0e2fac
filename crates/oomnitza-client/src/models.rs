//! Typed request and response models.
//!
//! Oomnitza's schemas are loose (ids are strings in one place and integers in another,
//! flags are `"1"`/`"0"` strings), so identifiers decode from either form and flags from
//! bools, numbers or strings. Unknown fields are kept in `other` maps rather than dropped.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// Lenient decoders shared by the models.
pub(crate) mod de {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value as Json;

    /// A string from a string or a number; null/missing → `None`.
    pub(crate) fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Option::<Json>::deserialize(d)? {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s),
            Some(Json::Number(n)) => Some(n.to_string()),
            Some(Json::Bool(b)) => Some(b.to_string()),
            Some(other) => {
                return Err(serde::de::Error::custom(format!(
                    "expected a string or a number, found {other}"
                )));
            }
        })
    }

    /// A flag from a bool, `1`/`0`, or `"1"`/`"0"`/`"true"`/`"false"`/`""`.
    pub(crate) fn opt_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        Ok(match Option::<Json>::deserialize(d)? {
            None | Some(Json::Null) => None,
            Some(Json::Bool(b)) => Some(b),
            Some(Json::Number(n)) => Some(n.as_f64().is_some_and(|f| f != 0.0)),
            Some(Json::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "y" | "t" => Some(true),
                "0" | "false" | "no" | "n" | "f" | "" => Some(false),
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "expected a flag, found {other:?}"
                    )));
                }
            },
            Some(other) => {
                return Err(serde::de::Error::custom(format!(
                    "expected a flag, found {other}"
                )));
            }
        })
    }

    /// A non-negative count from an integer or a numeric string; null, missing, empty or
    /// out of range → `None` (a limit that cannot be read is no limit to enforce here).
    pub(crate) fn opt_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        Ok(match Option::<Json>::deserialize(d)? {
            Some(Json::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            Some(Json::String(s)) => s.trim().parse::<u32>().ok(),
            _ => None,
        })
    }

    /// Epoch seconds from an integer, a float, a numeric string or an RFC 3339 string.
    pub(crate) fn opt_epoch<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Ok(match Option::<Json>::deserialize(d)? {
            None | Some(Json::Null) => None,
            Some(Json::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Some(Json::String(s)) if s.trim().is_empty() => None,
            Some(Json::String(s)) => {
                if let Ok(n) = s.trim().parse::<i64>() {
                    Some(n)
                } else {
                    let t = chrono::DateTime::parse_from_rfc3339(s.trim())
                        .map_err(|_| serde::de::Error::custom(format!("not a time: {s:?}")))?;
                    Some(t.timestamp())
                }
            }
            Some(other) => {
                return Err(serde::de::Error::custom(format!(
                    "expected epoch seconds, found {other}"
                )));
            }
        })
    }

    /// A message from null (none), a string, a list of strings (joined) or anything else
    /// (its JSON text).
    pub(crate) fn opt_message<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Option::<Json>::deserialize(d)? {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) if s.is_empty() => None,
            Some(Json::String(s)) => Some(s),
            Some(Json::Array(a)) if a.is_empty() => None,
            Some(Json::Array(a)) => Some(
                a.iter()
                    .map(|v| match v {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Some(Json::Object(o)) if o.is_empty() => None,
            Some(other) => Some(other.to_string()),
        })
    }
}

/// A person (`/api/v3/users`), with the common fields typed and every other field
/// (custom fields included, keyed by their `external_id`) in [`User::other`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// The person's id (a string; integers are accepted).
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id: Option<String>,
    /// Login name.
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub username: Option<String>,
    /// Email address.
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<String>,
    /// First name.
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_name: Option<String>,
    /// Full name.
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub full_name: Option<String>,
    /// Account suspended (the likely "inactive" flag; see the crate docs).
    #[serde(
        default,
        deserialize_with = "de::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub suspended: Option<bool>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

impl User {
    /// An empty person, to fill with [`User::set`].
    pub fn new() -> Self {
        User::default()
    }

    /// The value of `field` as JSON (typed fields included); `None` when absent.
    pub fn get(&self, field: &str) -> Option<Json> {
        let text = |v: &Option<String>| v.clone().map(Json::String);
        match field {
            "user_id" => text(&self.user_id),
            "username" => text(&self.username),
            "email" => text(&self.email),
            "first_name" => text(&self.first_name),
            "last_name" => text(&self.last_name),
            "full_name" => text(&self.full_name),
            "suspended" => self.suspended.map(Json::Bool),
            other => self.other.get(other).cloned(),
        }
    }

    /// Sets `field` (typed fields included) to `value`.
    #[must_use]
    pub fn set(mut self, field: &str, value: impl Into<Json>) -> Self {
        let value: Json = value.into();
        let as_text = |v: &Json| match v {
            Json::Null => None,
            Json::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        };
        match field {
            "user_id" => self.user_id = as_text(&value),
            "username" => self.username = as_text(&value),
            "email" => self.email = as_text(&value),
            "first_name" => self.first_name = as_text(&value),
            "last_name" => self.last_name = as_text(&value),
            "full_name" => self.full_name = as_text(&value),
            "suspended" if value.is_boolean() || value.is_null() => {
                self.suspended = value.as_bool();
            }
            other => {
                self.other.insert(other.to_owned(), value);
            }
        }
        self
    }
}

/// Metadata of one field (`/api/v3/users/meta` values).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldMeta {
    /// Internal uid.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub uid: Option<String>,
    /// The id used by the connector bulk API (32 hex characters for custom fields).
    #[serde(default, deserialize_with = "de::opt_text")]
    pub internal_id: Option<String>,
    /// The label shown in the UI, e.g. `Quip User Id`.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub label: Option<String>,
    /// The module, e.g. `users`.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub belongs_to: Option<String>,
    /// The data type, e.g. `string`.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub data_type: Option<String>,
    /// Whether the UI may edit it (`"1"`/`"0"`); non-editable fields need
    /// `Oomnitza-Ignore-Meta-Restriction: 1` on REST writes.
    #[serde(default, deserialize_with = "de::opt_flag")]
    pub editable: Option<bool>,
    /// Whether the field is optional.
    #[serde(default, deserialize_with = "de::opt_flag")]
    pub optional: Option<bool>,
    /// Whether values must be unique (`"1"`/`"0"`).
    #[serde(default, deserialize_with = "de::opt_flag")]
    pub unique: Option<bool>,
    /// The longest text value the field holds, in characters (`256` for Short Text).
    #[serde(default, deserialize_with = "de::opt_count")]
    pub length: Option<u32>,
    /// Every other entry key, as sent.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// `/api/v3/users/meta`: field metadata keyed by the field's REST `external_id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UsersMeta {
    /// Fields by `external_id`.
    pub fields: BTreeMap<String, FieldMeta>,
}

impl UsersMeta {
    /// The metadata of `field`.
    pub fn get(&self, field: &str) -> Option<&FieldMeta> {
        self.fields.get(field)
    }

    /// True when `field` exists and is unique.
    pub fn is_unique(&self, field: &str) -> bool {
        self.get(field).and_then(|m| m.unique) == Some(true)
    }

    /// True when `field` exists and is marked non-editable.
    pub fn is_read_only(&self, field: &str) -> bool {
        self.get(field).and_then(|m| m.editable) == Some(false)
    }

    /// The connector bulk API id of `field` (see [`bulk_field_id`](crate::bulk_field_id)).
    pub fn bulk_id(&self, field: &str) -> String {
        crate::api::bulk::bulk_field_id(field, self)
    }
}

/// A SaaS application (`/api/v3/saas`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SaasApp {
    /// The application's id (integers and strings accepted).
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub saas_id: Option<String>,
    /// The application's name, e.g. `Quip`.
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub saas_name: Option<String>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// The body of `POST /api/v3/saas`.
///
/// The OpenAPI document's `SaaS` schema requires `saas_name`, `linked`, `link_key`,
/// `source` and `ignored` (all typed as strings) besides fields the server manages (`hash`,
/// the change and creation dates and actors), which a client does not send. This project
/// sends `linked: "false"` (not linked to the Software Catalog; an admin links it in the
/// UI), `ignored: "false"` (the application counts), `link_key`: the lower-cased name, and
/// `source`: the integration that created it (see `docs/api-notes.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NewSaasApp {
    /// The application's name.
    pub saas_name: String,
    /// Whether the application is linked to the Software Catalog (`"true"`/`"false"`).
    pub linked: String,
    /// The key the application is linked by.
    pub link_key: String,
    /// What created the application.
    pub source: String,
    /// Whether the application is ignored (`"true"`/`"false"`).
    pub ignored: String,
    /// Further fields (`category`, `url`, ...).
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

impl NewSaasApp {
    /// An unlinked, counted application called `name`, created by `source`.
    pub fn new(name: impl Into<String>, source: impl Into<String>) -> Self {
        let saas_name = name.into();
        NewSaasApp {
            link_key: saas_name.to_lowercase(),
            saas_name,
            linked: "false".to_owned(),
            source: source.into(),
            ignored: "false".to_owned(),
            other: Map::new(),
        }
    }
}

/// The answer to `POST /api/v3/saas`: `{"saas_id":"4"}` (a string or an integer).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SaasCreated {
    /// The new application's id.
    #[serde(deserialize_with = "de::opt_text")]
    pub saas_id: Option<String>,
}

/// A role inside a SaaS application.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SaasRole {
    /// Oomnitza's id of the role.
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub role_id: Option<String>,
    /// The role's id in the SaaS application.
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub role_external_id: Option<String>,
    /// The role's name in the SaaS application, e.g. `Admin`.
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub role_external_label: Option<String>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

impl SaasRole {
    /// A reference to a role by label (and external id, when known), for assignments.
    pub fn reference(label: impl Into<String>, external_id: Option<String>) -> Self {
        SaasRole {
            role_id: None,
            role_external_id: external_id,
            role_external_label: Some(label.into()),
            other: Map::new(),
        }
    }
}

fn opt_role<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SaasRole>, D::Error> {
    // One object or null per the working assumptions; an array is tolerated (first item).
    Ok(match Option::<Json>::deserialize(d)? {
        None | Some(Json::Null) => None,
        Some(Json::Array(items)) => match items.into_iter().next() {
            None => None,
            Some(v) => Some(serde_json::from_value(v).map_err(serde::de::Error::custom)?),
        },
        Some(v) => Some(serde_json::from_value(v).map_err(serde::de::Error::custom)?),
    })
}

/// A person's seat in a SaaS application ("SaaS assigned User").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SaasUser {
    /// The seat's id, used by activate/deactivate (working assumption, §13).
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub saas_user_id: Option<String>,
    /// The person's `user_id`.
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id: Option<String>,
    /// The person's login name.
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub username: Option<String>,
    /// The person's email.
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<String>,
    /// The person's full name.
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub full_name: Option<String>,
    /// Last activity in the application, epoch seconds.
    #[serde(
        default,
        deserialize_with = "de::opt_epoch",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_visit: Option<i64>,
    /// The seat's role (one object or null).
    #[serde(
        default,
        deserialize_with = "opt_role",
        skip_serializing_if = "Option::is_none"
    )]
    pub roles: Option<SaasRole>,
    /// The person's id in the SaaS application (e.g. the Quip user id).
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_external_id: Option<String>,
    /// `active` or `inactive` (working assumption, §13).
    #[serde(
        default,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

impl SaasUser {
    /// False only when the seat says `status: "inactive"`.
    pub fn is_active(&self) -> bool {
        !self
            .status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("inactive"))
    }

    /// The role's label, when the seat has a role.
    pub fn role_label(&self) -> Option<&str> {
        self.roles
            .as_ref()
            .and_then(|r| r.role_external_label.as_deref())
    }
}

/// One item of `POST /api/v3/saas/{id}/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SeatAssignment {
    /// The person's `user_id`.
    pub user_id: String,
    /// `true` assigns (or refreshes) the seat, `false` unassigns it.
    pub assign: bool,
    /// Last activity, epoch seconds. ASSUMPTION: no documented way to set it exists; this
    /// project sends it with the assignment (see `docs/api-notes.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_visit: Option<i64>,
}

impl SeatAssignment {
    /// Assigns a seat to `user_id`, with the last activity when known.
    pub fn assign(user_id: impl Into<String>, last_visit: Option<i64>) -> Self {
        SeatAssignment {
            user_id: user_id.into(),
            assign: true,
            last_visit,
        }
    }

    /// Unassigns the seat of `user_id`.
    pub fn unassign(user_id: impl Into<String>) -> Self {
        SeatAssignment {
            user_id: user_id.into(),
            assign: false,
            last_visit: None,
        }
    }
}

/// One per-item result of a seat assignment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct AssignResult {
    /// The person's `user_id`.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub user_id: Option<String>,
    /// The seat's id.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub saas_user_id: Option<String>,
    /// The error for this item, if any.
    #[serde(default, deserialize_with = "de::opt_message")]
    pub error: Option<String>,
}

/// The answer to `POST /api/v3/saas/{id}/users/{user_id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ExternalIdResult {
    /// The stored id.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub user_external_id: Option<String>,
    /// Errors inside the 200 response.
    #[serde(default, deserialize_with = "de::opt_message")]
    pub errors: Option<String>,
}

/// One per-item result of activate/deactivate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ItemResult {
    /// The seat's id.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub saas_user_id: Option<String>,
    /// The error for this item, if any (e.g. `not found`).
    #[serde(default, deserialize_with = "de::opt_message")]
    pub error: Option<String>,
}

/// One per-user result of a role change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct RoleUserResult {
    /// The person's `user_id`.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub user_id: Option<String>,
    /// The error for this person, if any.
    #[serde(default, deserialize_with = "de::opt_message")]
    pub error: Option<String>,
}

/// The body of `POST /api/v3/saas/{id}/roles/users` (the OpenAPI document's "Users SaaS
/// Roles List Object"): both `users` and `roles` are arrays of strings, the people's
/// `user_id`s and the roles' `role_id`s. Adds the roles; a batch of people per request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RoleAssignment {
    /// The people's `user_id`s.
    pub users: Vec<String>,
    /// The roles' `role_id`s (Oomnitza's ids, as strings).
    pub roles: Vec<String>,
}

impl RoleAssignment {
    /// Gives `users` the roles with ids `roles`.
    pub fn new(users: Vec<String>, roles: Vec<String>) -> Self {
        RoleAssignment { users, roles }
    }
}

/// The body of `PATCH /api/v3/saas/{id}/roles/users` (the OpenAPI document's "Users SaaS
/// Role Update List Object"): **one** person's `user_id` as a string, and the complete
/// list of that person's roles in the application, each with its `role_external_id`
/// (required) and label. Replaces the person's roles; an empty list clears them; a role
/// the application does not have yet is created by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RoleOverwrite {
    /// The person's `user_id`.
    pub users: String,
    /// The person's roles after the call.
    pub roles: Vec<RoleRef>,
}

impl RoleOverwrite {
    /// Sets the roles of person `user` to `roles`.
    pub fn new(user: impl Into<String>, roles: Vec<RoleRef>) -> Self {
        RoleOverwrite {
            users: user.into(),
            roles,
        }
    }
}

/// One role in a [`RoleOverwrite`] ("Users SaaS Role Update List Object roles inner").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RoleRef {
    /// The role's id in the SaaS application (required by the document).
    pub role_external_id: String,
    /// The role's name, e.g. `Admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_external_label: Option<String>,
}

impl RoleRef {
    /// A role by external id and label.
    pub fn new(external_id: impl Into<String>, label: Option<String>) -> Self {
        RoleRef {
            role_external_id: external_id.into(),
            role_external_label: label,
        }
    }

    /// The reference for a listed or created role: its external id, or its label when
    /// the server sent no external id (the label is what this project creates roles by).
    pub fn of(role: &SaasRole) -> Option<Self> {
        let label = role.role_external_label.clone();
        let id = role.role_external_id.clone().or_else(|| label.clone())?;
        Some(RoleRef::new(id, label))
    }
}

/// The body of `POST /api/v3/bulk` (one batch of a connector portion).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BulkUpload {
    /// The client's version string.
    pub connector_version: String,
    /// Fields the server matches records on, in order (bulk ids, e.g. `USER`).
    pub sync_field: Vec<String>,
    /// The records, keyed by bulk field id.
    pub records: Vec<Map<String, Json>>,
    /// The portion (one uuid per run).
    pub portion: String,
    /// `users`.
    pub data_type: String,
    /// Only create; never update.
    pub insert_only: bool,
    /// Only update; never create.
    pub update_only: bool,
    /// A failure report for the portion (with `records: [{}]`).
    pub error: Option<String>,
    /// `Fatal Error` for a failure report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// Test run.
    pub test_run: bool,
    /// Unused; sent as null like Oomnitza's connector does.
    pub multi_str_input_value: Option<String>,
    /// The connector's name (shown in Oomnitza's sync sessions).
    pub connector_name: String,
}

impl BulkUpload {
    /// A users batch for `portion` from `connector_name`, matching on `sync_field`.
    pub fn users(
        connector_name: impl Into<String>,
        portion: impl Into<String>,
        sync_field: Vec<String>,
        records: Vec<Map<String, Json>>,
    ) -> Self {
        BulkUpload {
            connector_version: concat!("quip-oomnitza/", env!("CARGO_PKG_VERSION")).to_owned(),
            sync_field,
            records,
            portion: portion.into(),
            data_type: "users".to_owned(),
            insert_only: false,
            update_only: false,
            error: None,
            error_type: None,
            test_run: false,
            multi_str_input_value: None,
            connector_name: connector_name.into(),
        }
    }

    /// Only create (`insert_only`).
    #[must_use]
    pub fn insert_only(mut self) -> Self {
        self.insert_only = true;
        self.update_only = false;
        self
    }

    /// Only update (`update_only`).
    #[must_use]
    pub fn update_only(mut self) -> Self {
        self.update_only = true;
        self.insert_only = false;
        self
    }
}

/// `GET /api/v3/bulk/{portion}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct PortionInfo {
    /// True when the run was cancelled in Oomnitza.
    #[serde(default, deserialize_with = "de::opt_flag")]
    pub canceled: Option<bool>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// One connector run log (`/api/v3/connector_run_logs/{connector}`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct RunLog {
    /// The portion.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub portion_id: Option<String>,
    /// Start (as sent: epoch or text).
    #[serde(default)]
    pub start_time: Option<Json>,
    /// End (as sent: epoch or text).
    #[serde(default)]
    pub end_time: Option<Json>,
    /// The connector's name.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub connector: Option<String>,
    /// The run's status.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub status: Option<String>,
    /// Records created.
    #[serde(default)]
    pub added_records_count: Option<u64>,
    /// Records updated.
    #[serde(default)]
    pub updated_records_count: Option<u64>,
    /// Records skipped.
    #[serde(default)]
    pub skipped_records_count: Option<u64>,
    /// Records that failed.
    #[serde(default)]
    pub error_logs_count: Option<u64>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// Portion details (`/api/v3/connector_run_logs/connectors/{ident}`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct PortionDetails {
    /// Counts by outcome: `added`, `updated`, `failed`, `skipped`, `unchanged`, ...
    #[serde(default)]
    pub objects: Option<Map<String, Json>>,
    /// Log lines by outcome, e.g. `{"Fatal Error": [...], "added": [...]}`.
    #[serde(default)]
    pub logs: Option<Map<String, Json>>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_flags_are_lenient() {
        let u: User = serde_json::from_str(
            r#"{"user_id":12,"username":"a","suspended":"1","quip_user_id":"Q"}"#,
        )
        .unwrap();
        assert_eq!(u.user_id.as_deref(), Some("12"));
        assert_eq!(u.suspended, Some(true));
        assert_eq!(u.get("quip_user_id"), Some(Json::String("Q".into())));
        assert_eq!(u.get("suspended"), Some(Json::Bool(true)));
        let c: SaasCreated = serde_json::from_str(r#"{"saas_id":"4"}"#).unwrap();
        assert_eq!(c.saas_id.as_deref(), Some("4"));
        let c: SaasCreated = serde_json::from_str(r#"{"saas_id":4}"#).unwrap();
        assert_eq!(c.saas_id.as_deref(), Some("4"));
        let m: UsersMeta = serde_json::from_str(
            r#"{"quip_user_id":{"internal_id":"ABC","label":"Quip User Id","unique":"1","editable":"0"}}"#,
        )
        .unwrap();
        assert!(m.is_unique("quip_user_id"));
        assert!(m.is_read_only("quip_user_id"));
        assert!(!m.is_unique("email"));
        assert_eq!(m.get("quip_user_id").unwrap().length, None);
        let m: UsersMeta = serde_json::from_str(
            r#"{"a":{"length":256},"b":{"length":"1024"},"c":{"length":""},"d":{"length":-1}}"#,
        )
        .unwrap();
        let length = |f: &str| m.get(f).unwrap().length;
        assert_eq!(
            [length("a"), length("b"), length("c"), length("d")],
            [Some(256), Some(1024), None, None]
        );
    }

    #[test]
    fn seats_decode_roles_and_times() {
        let s: SaasUser = serde_json::from_str(
            r#"{"saas_user_id":7,"user_id":"1","last_visit":"2024-06-10T06:13:20Z",
                "roles":{"role_id":3,"role_external_label":"Admin"},"status":"inactive"}"#,
        )
        .unwrap();
        assert_eq!(s.saas_user_id.as_deref(), Some("7"));
        assert_eq!(s.last_visit, Some(1_718_000_000));
        assert_eq!(s.role_label(), Some("Admin"));
        assert!(!s.is_active());
        let s: SaasUser = serde_json::from_str(r#"{"roles":[],"last_visit":null}"#).unwrap();
        assert!(s.roles.is_none() && s.is_active());
    }

    #[test]
    fn item_errors_decode_from_several_shapes() {
        let r: Vec<ItemResult> = serde_json::from_str(
            r#"[{"saas_user_id":1,"error":null},{"saas_user_id":"2","error":"not found"},{"saas_user_id":3,"error":["a","b"]}]"#,
        )
        .unwrap();
        assert_eq!(r[0].error, None);
        assert_eq!(r[1].error.as_deref(), Some("not found"));
        assert_eq!(r[2].error.as_deref(), Some("a; b"));
    }

    #[test]
    fn user_set_round_trips() {
        let u = User::new()
            .set("username", "jane")
            .set("suspended", false)
            .set("quip_user_id", "Q1");
        let json = serde_json::to_value(&u).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"username":"jane","suspended":false,"quip_user_id":"Q1"})
        );
    }
}
