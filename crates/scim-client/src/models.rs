//! Typed SCIM resources (RFC 7643) and messages (RFC 7644).
//!
//! Every attribute except a resource's `id` is optional, arrays given as `null` read as
//! empty, and `active`/`primary` given as the strings `"true"`/`"false"` (a quirk of some
//! providers) read as booleans. Attributes the models do not name are kept in `extra`, so
//! [`User::attribute`] can reach any of them, vendor extensions included.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// List response message (RFC 7644 §3.4.2).
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bool(bool),
        Text(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Bool(b)) => Ok(Some(b)),
        Some(Raw::Text(t)) if t.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Raw::Text(t)) if t.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(Raw::Text(t)) => Err(serde::de::Error::custom(format!(
            "expected a boolean, got the string {t:?}"
        ))),
    }
}

/// `meta` (RFC 7643 §3.1). Dates are kept as sent; [`Meta::created_at`] and
/// [`Meta::last_modified_at`] parse them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Meta {
    /// `User`, `Group`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Creation time (RFC 3339 text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Last change (RFC 3339 text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The resource's URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The resource's version (an ETag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

fn parse_time(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl Meta {
    /// `created`, when it is RFC 3339.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        parse_time(self.created.as_deref())
    }

    /// `lastModified`, when it is RFC 3339.
    pub fn last_modified_at(&self) -> Option<DateTime<Utc>> {
        parse_time(self.last_modified.as_deref())
    }
}

/// `name` (RFC 7643 §4.1.1).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Name {
    /// The full name, formatted for display.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    /// Family name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Given name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Middle name(s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// Prefix, e.g. `Ms.`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honorific_prefix: Option<String>,
    /// Suffix, e.g. `III`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honorific_suffix: Option<String>,
}

/// One value of a multi-valued attribute such as `emails` or `roles` (RFC 7643 §2.4).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MultiValue {
    /// The value (an address, a role name, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A label, e.g. `work`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The preferred value of the attribute.
    #[serde(
        default,
        deserialize_with = "lenient_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub primary: Option<bool>,
    /// A human-readable name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// An email address.
pub type Email = MultiValue;
/// A role.
pub type Role = MultiValue;

/// A reference to another resource: a user's `groups` entry, a group's `members` entry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResourceRef {
    /// The referenced resource's `id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Its URI.
    #[serde(rename = "$ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Its display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// `direct`/`indirect` for a user's groups, `User`/`Group` for members.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A user's manager (enterprise extension).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Manager {
    /// The manager's `id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The manager's URI.
    #[serde(rename = "$ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The manager's display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// The enterprise extension (RFC 7643 §4.3).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EnterpriseUser {
    /// Employee number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
    /// Cost centre.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<String>,
    /// Organisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// Division.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    /// Department.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Manager.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<Manager>,
    /// Attributes of the extension the model does not name.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A User resource (RFC 7643 §4.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct User {
    /// The schemas the resource uses.
    #[serde(default, deserialize_with = "null_as_default")]
    pub schemas: Vec<String>,
    /// The provider's id: required, since a listing is checked and synced by it.
    pub id: String,
    /// The provisioning client's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The unique user name (absent only when `attributes` left it out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// The real name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// The name to display.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The job title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The administrative status; `None` when not sent.
    #[serde(
        default,
        deserialize_with = "lenient_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub active: Option<bool>,
    /// Email addresses.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub emails: Vec<Email>,
    /// Groups the user belongs to (read-only).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub groups: Vec<ResourceRef>,
    /// Roles.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub roles: Vec<Role>,
    /// The enterprise extension.
    #[serde(
        rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        skip_serializing_if = "Option::is_none"
    )]
    pub enterprise: Option<EnterpriseUser>,
    /// Resource metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Every other attribute as sent (`nickName`, `phoneNumbers`, vendor extensions, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl User {
    /// The primary email, else the first one.
    pub fn primary_email(&self) -> Option<&str> {
        self.emails
            .iter()
            .find(|e| e.primary == Some(true))
            .or_else(|| self.emails.first())
            .and_then(|e| e.value.as_deref())
    }

    /// `name.formatted`, else given and family name, else `displayName`.
    pub fn full_name(&self) -> Option<String> {
        let name = self.name.as_ref();
        if let Some(f) = name
            .and_then(|n| n.formatted.as_deref())
            .filter(|f| !f.trim().is_empty())
        {
            return Some(f.to_owned());
        }
        let parts: Vec<&str> = name
            .into_iter()
            .flat_map(|n| [n.given_name.as_deref(), n.family_name.as_deref()])
            .flatten()
            .filter(|p| !p.trim().is_empty())
            .collect();
        if parts.is_empty() {
            self.display_name.clone()
        } else {
            Some(parts.join(" "))
        }
    }

    /// True unless the provider says `active: false` (RFC 7643 leaves the default to the
    /// provider; an absent flag is read as active).
    pub fn is_active(&self) -> bool {
        self.active != Some(false)
    }

    /// The resource as JSON, the way the provider sent it (attributes the model does not
    /// name included).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The value at an attribute path: `userName`, `name.givenName`, `emails.value` (every
    /// address), a fully qualified
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`,
    /// `...:User:manager.value`, or a vendor extension's attribute. Names compare
    /// case-insensitively (RFC 7643 §2.1); `None` when absent or null.
    pub fn attribute(&self, path: &str) -> Option<Value> {
        attribute(&self.to_json(), path, USER_SCHEMA)
    }
}

/// A Group resource (RFC 7643 §4.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Group {
    /// The schemas the resource uses.
    #[serde(default, deserialize_with = "null_as_default")]
    pub schemas: Vec<String>,
    /// The provider's id.
    pub id: String,
    /// The provisioning client's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The group's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Members (users or groups).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub members: Vec<ResourceRef>,
    /// Resource metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Every other attribute as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Group {
    /// The value at an attribute path (see [`User::attribute`]).
    pub fn attribute(&self, path: &str) -> Option<Value> {
        attribute(
            &serde_json::to_value(self).unwrap_or(Value::Null),
            path,
            GROUP_SCHEMA,
        )
    }
}

/// A list response (RFC 7644 §3.4.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    bound(deserialize = "T: Deserialize<'de>", serialize = "T: Serialize")
)]
#[non_exhaustive]
pub struct ListResponse<T> {
    /// `urn:ietf:params:scim:api:messages:2.0:ListResponse`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub schemas: Vec<String>,
    /// Matching resources in all pages (required by the RFC; a listing without it is
    /// refused as incomplete).
    pub total_results: Option<u64>,
    /// 1-based index of the first resource of this page.
    pub start_index: Option<u64>,
    /// Resources in this page.
    pub items_per_page: Option<u64>,
    /// This page's resources.
    #[serde(
        rename = "Resources",
        alias = "resources",
        default = "Vec::new",
        deserialize_with = "null_as_default"
    )]
    pub resources: Vec<T>,
}

/// A feature's switch in the service provider configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Supported {
    /// Whether the feature is supported.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub supported: Option<bool>,
}

/// `bulk` in the service provider configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BulkSupport {
    /// Whether bulk is supported.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub supported: Option<bool>,
    /// Most operations per request.
    pub max_operations: Option<u64>,
    /// Largest payload, in bytes.
    pub max_payload_size: Option<u64>,
}

/// `filter` in the service provider configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FilterSupport {
    /// Whether filters are supported.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub supported: Option<bool>,
    /// Most resources a filtered (or any) answer holds.
    pub max_results: Option<u64>,
}

/// An authentication scheme the provider supports.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AuthenticationScheme {
    /// `oauthbearertoken`, `httpbasic`, ...
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Its name.
    pub name: Option<String>,
    /// A description.
    pub description: Option<String>,
    /// Its specification.
    pub spec_uri: Option<String>,
    /// Documentation.
    pub documentation_uri: Option<String>,
    /// The preferred scheme.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub primary: Option<bool>,
}

/// `GET /ServiceProviderConfig` (RFC 7643 §5).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServiceProviderConfig {
    /// The schemas.
    #[serde(default, deserialize_with = "null_as_default")]
    pub schemas: Vec<String>,
    /// Where the provider documents its SCIM service.
    pub documentation_uri: Option<String>,
    /// PATCH.
    #[serde(default)]
    pub patch: Option<Supported>,
    /// Bulk.
    #[serde(default)]
    pub bulk: Option<BulkSupport>,
    /// Filters.
    #[serde(default)]
    pub filter: Option<FilterSupport>,
    /// Password changes.
    #[serde(default)]
    pub change_password: Option<Supported>,
    /// Sorting.
    #[serde(default)]
    pub sort: Option<Supported>,
    /// ETags.
    #[serde(default)]
    pub etag: Option<Supported>,
    /// Authentication schemes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub authentication_schemes: Vec<AuthenticationScheme>,
    /// Metadata.
    pub meta: Option<Meta>,
}

impl ServiceProviderConfig {
    /// Whether the provider says it supports filters.
    pub fn supports_filter(&self) -> bool {
        self.filter.as_ref().and_then(|f| f.supported) == Some(true)
    }
}

/// An attribute definition in a schema (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SchemaAttribute {
    /// The attribute's name.
    pub name: String,
    /// `string`, `boolean`, `complex`, `reference`, `dateTime`, ...
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Multi-valued.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub multi_valued: Option<bool>,
    /// Description.
    pub description: Option<String>,
    /// Required.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub required: Option<bool>,
    /// Suggested values.
    #[serde(default, deserialize_with = "null_as_default")]
    pub canonical_values: Vec<Value>,
    /// Compared case-sensitively.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub case_exact: Option<bool>,
    /// `readOnly`, `readWrite`, `immutable`, `writeOnly`.
    pub mutability: Option<String>,
    /// `always`, `never`, `default`, `request`.
    pub returned: Option<String>,
    /// `none`, `server`, `global`.
    pub uniqueness: Option<String>,
    /// For references: what they point at.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reference_types: Vec<String>,
    /// For complex attributes: the sub-attributes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub sub_attributes: Vec<SchemaAttribute>,
}

/// A schema definition (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Schema {
    /// The schema URN.
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its attributes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub attributes: Vec<SchemaAttribute>,
    /// Metadata.
    pub meta: Option<Meta>,
}

/// A schema extension of a resource type.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SchemaExtension {
    /// The extension's URN.
    pub schema: String,
    /// Whether resources must carry it.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub required: Option<bool>,
}

/// A resource type (RFC 7643 §6).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ResourceType {
    /// `User`, `Group`, ...
    pub id: Option<String>,
    /// Its name.
    pub name: String,
    /// Its endpoint relative to the base, e.g. `/Users`.
    pub endpoint: String,
    /// Description.
    pub description: Option<String>,
    /// The core schema URN.
    pub schema: String,
    /// Extensions.
    #[serde(default, deserialize_with = "null_as_default")]
    pub schema_extensions: Vec<SchemaExtension>,
    /// Metadata.
    pub meta: Option<Meta>,
}

/// A key of `object` equal to `name` ignoring ASCII case.
fn get_ci<'v>(object: &'v Value, name: &str) -> Option<&'v Value> {
    let map = object.as_object()?;
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// Follows a dotted path below `root`; through arrays, each element's value (nulls dropped).
fn follow(root: &Value, dotted: &str) -> Option<Value> {
    let mut current = root.clone();
    for name in dotted.split('.') {
        current = match &current {
            Value::Array(items) => {
                let found: Vec<Value> = items
                    .iter()
                    .filter_map(|i| get_ci(i, name))
                    .filter(|v| !v.is_null())
                    .cloned()
                    .collect();
                if found.is_empty() {
                    return None;
                }
                Value::Array(found)
            }
            other => get_ci(other, name)?.clone(),
        };
    }
    (!current.is_null()).then_some(current)
}

/// The value at `path` in a resource's JSON (see [`User::attribute`]); `core` is the
/// resource's core schema URN, whose qualified names address the top level.
pub fn attribute(resource: &Value, path: &str, core: &str) -> Option<Value> {
    let path = path.trim();
    let starts_with_ci = |prefix: &str| {
        path.len() > prefix.len()
            && path
                .get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
            && path.as_bytes()[prefix.len()] == b':'
    };
    if path
        .get(..4)
        .is_some_and(|h| h.eq_ignore_ascii_case("urn:"))
    {
        // The longest top-level key that prefixes the path (followed by `:`) is the
        // extension; the rest is the attribute inside it.
        let extension = resource.as_object().and_then(|map| {
            map.keys()
                .filter(|k| starts_with_ci(k))
                .max_by_key(|k| k.len())
        });
        if let Some(key) = extension {
            return follow(&resource[key.as_str()], &path[key.len() + 1..]);
        }
        if starts_with_ci(core) {
            return follow(resource, &path[core.len() + 1..]);
        }
        return None;
    }
    follow(resource, path)
}
