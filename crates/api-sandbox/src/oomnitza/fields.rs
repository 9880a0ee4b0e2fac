//! Field metadata: the built-in People and SaaS fields, custom fields, value coercion and
//! the `/meta` rendering.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The type of a field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataType {
    /// Text (Short Text: 256 characters unless `length` says otherwise).
    String,
    /// A whole number.
    Integer,
    /// A number that may have a fraction.
    Decimal,
    /// `true`/`false`.
    Boolean,
    /// A point in time, stored and served as Unix seconds; ISO 8601 accepted on input.
    Timestamp,
}

impl DataType {
    /// The `data_type` string served by `/meta`.
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::String => "string",
            DataType::Integer => "integer",
            DataType::Decimal => "decimal",
            DataType::Boolean => "boolean",
            DataType::Timestamp => "timestamp",
        }
    }
}

/// A custom People field, as created in Oomnitza's UI (*Customization > Add*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomField {
    /// The REST key (`external_id`), e.g. `quip_user_id`.
    pub external_id: String,
    /// The label shown in the UI, e.g. `Quip User Id`.
    pub label: String,
    /// Value type.
    pub data_type: DataType,
    /// The *Unique* flag: no two People may share a non-empty value.
    pub unique: bool,
    /// The *Editable* flag. Non-editable fields can be written over REST only with
    /// `Oomnitza-Ignore-Meta-Restriction: 1`, and by connectors (bulk API).
    pub editable: bool,
    /// False for a *Mandatory* field (required on create, cannot be emptied).
    pub optional: bool,
    /// Maximum length of a text value.
    pub length: Option<u32>,
    /// The bulk (connector) id; `None` derives a stable 32-hex id from `external_id`.
    pub internal_id: Option<String>,
}

impl Default for CustomField {
    fn default() -> Self {
        CustomField {
            external_id: String::new(),
            label: String::new(),
            data_type: DataType::String,
            unique: false,
            editable: true,
            optional: true,
            length: Some(256),
            internal_id: None,
        }
    }
}

impl CustomField {
    /// An editable, optional, non-unique Short Text field.
    pub fn new(external_id: impl Into<String>, label: impl Into<String>) -> Self {
        CustomField {
            external_id: external_id.into(),
            label: label.into(),
            ..CustomField::default()
        }
    }

    /// The default `quip_user_id` field: labelled "Quip User Id", unique, not editable.
    pub fn quip_user_id() -> Self {
        CustomField {
            unique: true,
            editable: false,
            ..CustomField::new("quip_user_id", "Quip User Id")
        }
    }

    /// Sets the *Unique* flag.
    #[must_use]
    pub fn unique(mut self, unique: bool) -> Self {
        self.unique = unique;
        self
    }

    /// Sets the *Editable* flag.
    #[must_use]
    pub fn editable(mut self, editable: bool) -> Self {
        self.editable = editable;
        self
    }

    /// Sets the value type.
    #[must_use]
    pub fn data_type(mut self, data_type: DataType) -> Self {
        self.data_type = data_type;
        if data_type != DataType::String {
            self.length = None;
        }
        self
    }
}

/// One field of a table, as the emulator enforces it.
#[derive(Debug, Clone)]
pub(crate) struct FieldDef {
    pub external_id: String,
    pub internal_id: String,
    pub label: String,
    pub data_type: DataType,
    pub unique: bool,
    pub editable: bool,
    pub optional: bool,
    pub length: Option<u32>,
    /// Managed by the server (ids, audit fields): never written by clients.
    pub system: bool,
    pub custom: bool,
    pub active: bool,
}

impl FieldDef {
    fn builtin(external_id: &str, internal_id: &str, label: &str, data_type: DataType) -> Self {
        FieldDef {
            external_id: external_id.to_owned(),
            internal_id: internal_id.to_owned(),
            label: label.to_owned(),
            data_type,
            unique: false,
            editable: true,
            optional: true,
            length: (data_type == DataType::String).then_some(256),
            system: false,
            custom: false,
            active: true,
        }
    }

    fn system(mut self) -> Self {
        self.system = true;
        self.editable = false;
        self
    }

    fn unique(mut self) -> Self {
        self.unique = true;
        self
    }

    fn required(mut self) -> Self {
        self.optional = false;
        self
    }

    pub(crate) fn from_custom(field: &CustomField) -> Self {
        FieldDef {
            external_id: field.external_id.clone(),
            internal_id: field
                .internal_id
                .clone()
                .unwrap_or_else(|| hex_id(&field.external_id, 0x1D)),
            label: field.label.clone(),
            data_type: field.data_type,
            unique: field.unique,
            editable: field.editable,
            optional: field.optional,
            length: field.length,
            system: false,
            custom: true,
            active: true,
        }
    }
}

/// A read-only schema for a computed view (SaaS users, run logs): filterable and
/// sortable fields in slot order.
pub(crate) fn view_schema(belongs_to: &'static str, fields: &[(&str, DataType)]) -> Schema {
    Schema::new(
        belongs_to,
        fields
            .iter()
            .map(|(name, data_type)| {
                let mut def = FieldDef::builtin(name, &name.to_ascii_uppercase(), name, *data_type);
                def.length = None;
                def.system()
            })
            .collect(),
    )
}

/// Slots of the built-in People fields (positions in [`people_schema`]).
pub(crate) mod people_slot {
    pub const UID: usize = 0;
    pub const USER_ID: usize = 1;
    pub const USERNAME: usize = 2;
    pub const EMAIL: usize = 3;
    pub const FIRST_NAME: usize = 4;
    pub const LAST_NAME: usize = 5;
    pub const FULL_NAME: usize = 6;
    pub const SUSPENDED: usize = 7;
    pub const CREATION_DATE: usize = 16;
    pub const CHANGE_DATE: usize = 17;
    pub const CREATED_BY: usize = 18;
    pub const CHANGED_BY: usize = 19;
    pub const VERSION: usize = 20;
}

/// The built-in People fields (REST schema of the vendor's OpenAPI `User`). System fields
/// have readable bulk ids, as the vendor's mapping page shows (`USER`, `EMAIL`, ...).
pub(crate) fn people_builtins() -> Vec<FieldDef> {
    use DataType::{Boolean, Integer, String, Timestamp};
    vec![
        FieldDef::builtin("uid", "UID", "UID", Integer).system(),
        FieldDef::builtin("user_id", "USER_ID", "User Id", String).system(),
        FieldDef::builtin("username", "USER", "Username", String)
            .unique()
            .required(),
        FieldDef::builtin("email", "EMAIL", "Email", String),
        FieldDef::builtin("first_name", "FIRST_NAME", "First Name", String),
        FieldDef::builtin("last_name", "LAST_NAME", "Last Name", String),
        FieldDef::builtin("full_name", "FULL_NAME", "Full Name", String),
        FieldDef::builtin("suspended", "SUSPENDED", "Suspended", Boolean),
        FieldDef::builtin("deleted", "DELETED", "Deleted", String),
        FieldDef::builtin("position", "POSITION", "Position", String),
        FieldDef::builtin("role", "PERMISSIONS_ID", "Role", Integer),
        FieldDef::builtin("phone_number", "PHONE", "Phone Number", String),
        FieldDef::builtin("address", "ADDRESS", "Address", String),
        FieldDef::builtin("external_id", "EXTERNAL_ID", "External Id", String),
        FieldDef::builtin(
            "email_subscription",
            "EMAIL_SUBSCRIPTION",
            "Email Subscription",
            Boolean,
        ),
        FieldDef::builtin(
            "last_login_date",
            "LAST_LOGIN_DATE",
            "Last Login Date",
            Timestamp,
        )
        .system(),
        FieldDef::builtin("creation_date", "CREATION_DATE", "Creation Date", Timestamp).system(),
        FieldDef::builtin("change_date", "CHANGE_DATE", "Change Date", Timestamp).system(),
        FieldDef::builtin("created_by", "CREATED_BY", "Created By", String).system(),
        FieldDef::builtin("changed_by", "CHANGED_BY", "Changed By", String).system(),
        FieldDef::builtin("version", "VERSION", "Version", Integer).system(),
    ]
}

/// Slots of the SaaS application fields.
pub(crate) mod saas_slot {
    pub const SAAS_ID: usize = 0;
    pub const SAAS_NAME: usize = 1;
    pub const LINKED: usize = 2;
    pub const SOURCE: usize = 4;
    pub const IGNORED: usize = 5;
    pub const HASH: usize = 6;
    pub const CHANGEDATE: usize = 7;
    pub const CHANGEDBY: usize = 8;
    pub const CREATIONDATE: usize = 9;
    pub const CREATEDBY: usize = 10;
    pub const DELETED: usize = 21;
}

/// The fields of the vendor's `SaaS` schema.
pub(crate) fn saas_builtins() -> Vec<FieldDef> {
    use DataType::{Boolean, Decimal, Integer, String, Timestamp};
    vec![
        FieldDef::builtin("saas_id", "SAAS_ID", "SaaS Id", Integer).system(),
        // Required by the OAS `SaaS` schema (which types `linked` and `ignored` as strings;
        // they hold true/false, so "true"/"false" strings and booleans are both taken).
        FieldDef::builtin("saas_name", "SAAS_NAME", "Name", String).required(),
        FieldDef::builtin("linked", "LINKED", "Linked", Boolean).required(),
        FieldDef::builtin("link_key", "LINK_KEY", "Link Key", String).required(),
        FieldDef::builtin("source", "SOURCE", "Source", String).required(),
        FieldDef::builtin("ignored", "IGNORED", "Ignored", Boolean).required(),
        FieldDef::builtin("hash", "HASH", "Hash", String).system(),
        FieldDef::builtin("changedate", "CHANGEDATE", "Change Date", Timestamp).system(),
        FieldDef::builtin("changedby", "CHANGEDBY", "Changed By", String).system(),
        FieldDef::builtin("creationdate", "CREATIONDATE", "Creation Date", Timestamp).system(),
        FieldDef::builtin("createdby", "CREATEDBY", "Created By", String).system(),
        FieldDef::builtin("category", "CATEGORY", "Category", String),
        FieldDef::builtin("publisher", "PUBLISHER", "Publisher", String),
        FieldDef::builtin("url", "URL", "URL", String),
        FieldDef::builtin("version", "VERSION", "Version", String),
        FieldDef::builtin("visited", "VISITED", "Visited", Boolean),
        FieldDef::builtin(
            "available_licenses",
            "AVAILABLE_LICENSES",
            "Available Licenses",
            Integer,
        ),
        FieldDef::builtin(
            "total_licenses",
            "TOTAL_LICENSES",
            "Total Licenses",
            Integer,
        ),
        FieldDef::builtin("annual_spend", "ANNUAL_SPEND", "Annual Spend", Decimal),
        FieldDef::builtin("renewal_date", "RENEWAL_DATE", "Renewal Date", Timestamp),
        FieldDef::builtin(
            "usage_statistic",
            "USAGE_STATISTIC",
            "Usage Statistic",
            Decimal,
        ),
        FieldDef::builtin("deleted", "DELETED", "Deleted", Boolean),
        FieldDef::builtin("is_inf", "IS_INF", "Is Infrastructure", Boolean),
    ]
}

/// The ordered fields of a table. Slots never move: a removed field stays as an inactive
/// slot, so stored rows keep their layout.
#[derive(Debug, Clone)]
pub(crate) struct Schema {
    pub belongs_to: &'static str,
    fields: Vec<FieldDef>,
    by_external: HashMap<String, usize>,
    by_internal: HashMap<String, usize>,
}

impl Schema {
    pub(crate) fn new(belongs_to: &'static str, fields: Vec<FieldDef>) -> Self {
        let mut schema = Schema {
            belongs_to,
            fields: Vec::new(),
            by_external: HashMap::new(),
            by_internal: HashMap::new(),
        };
        for field in fields {
            schema.upsert(field);
        }
        schema
    }

    pub(crate) fn len(&self) -> usize {
        self.fields.len()
    }

    pub(crate) fn def(&self, slot: usize) -> &FieldDef {
        &self.fields[slot]
    }

    /// The active field with this REST key.
    pub(crate) fn slot(&self, external_id: &str) -> Option<usize> {
        self.by_external
            .get(external_id)
            .copied()
            .filter(|&s| self.fields[s].active)
    }

    /// The active field for a bulk record key: a metadata `internal_id` first, then a
    /// lower-case `external_id`.
    pub(crate) fn bulk_slot(&self, key: &str) -> Option<usize> {
        self.by_internal
            .get(key)
            .copied()
            .filter(|&s| self.fields[s].active)
            .or_else(|| self.slot(key))
    }

    /// Active fields in slot order.
    pub(crate) fn active(&self) -> impl Iterator<Item = (usize, &FieldDef)> {
        self.fields.iter().enumerate().filter(|(_, f)| f.active)
    }

    /// Adds a field, or replaces the definition of the field with the same `external_id`
    /// (keeping its slot). Returns the slot.
    pub(crate) fn upsert(&mut self, field: FieldDef) -> usize {
        if let Some(&slot) = self.by_external.get(&field.external_id) {
            let old = std::mem::replace(&mut self.fields[slot], field);
            self.by_internal.remove(&old.internal_id);
            self.by_internal
                .insert(self.fields[slot].internal_id.clone(), slot);
            slot
        } else {
            let slot = self.fields.len();
            self.by_external.insert(field.external_id.clone(), slot);
            self.by_internal.insert(field.internal_id.clone(), slot);
            self.fields.push(field);
            slot
        }
    }

    /// Deactivates a custom field. Built-in fields cannot be removed.
    pub(crate) fn remove(&mut self, external_id: &str) -> Option<usize> {
        let slot = self.slot(external_id)?;
        if !self.fields[slot].custom {
            return None;
        }
        self.fields[slot].active = false;
        Some(slot)
    }

    /// The `GET /api/v3/<module>/meta` document: keyed by `external_id`.
    pub(crate) fn meta(&self) -> Value {
        let flag = |b: bool| if b { "1" } else { "0" };
        let mut out = Map::new();
        for (order, (_, f)) in self.active().enumerate() {
            out.insert(
                f.external_id.clone(),
                json!({
                    "uid": hex_id(&f.external_id, 0x5E).to_ascii_lowercase(),
                    "internal_id": f.internal_id,
                    "external_id": f.external_id,
                    "label": f.label,
                    "belongs_to": self.belongs_to,
                    "data_type": f.data_type.as_str(),
                    "subtype": Value::Null,
                    "length": f.length,
                    "editable": flag(f.editable),
                    "hardcode": flag(f.system),
                    "optional": flag(f.optional),
                    "display_order": order + 1,
                    "default_value": Value::Null,
                    "unique": flag(f.unique),
                    "searchhelp": [],
                    "searchhelp_type": Value::Null,
                    "help_text": "",
                    "dependencies": [],
                    "flags": [],
                    "dropdown_help_text_enabled": false,
                    "is_custom": f.custom,
                }),
            );
        }
        Value::Object(out)
    }
}

/// A stable 32-character upper-case hex id for `key` (FNV-1a, two rounds).
pub(crate) fn hex_id(key: &str, salt: u8) -> String {
    let fnv = |seed: u64| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
        for b in key.bytes().chain(std::iter::once(salt)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    format!("{:016X}{:016X}", fnv(0x9E37), fnv(0x7F4A_7C15))
}

/// A stable 32-hex `user_id` for a People `uid`, so that the two never look alike.
pub(crate) fn user_id_for(uid: u64) -> String {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let a = mix(uid.wrapping_add(0x9E37_79B9_7F4A_7C15));
    format!("{a:016X}{:016X}", mix(a ^ uid))
}

/// Converts a client value to the field's type; the error is the message for the field.
pub(crate) fn coerce(def: &FieldDef, value: &Value) -> Result<Value, String> {
    let bad = |what: &str| Err(format!("expected {what}, got {value}"));
    match (def.data_type, value) {
        (_, Value::Null) => Ok(Value::Null),
        (DataType::String, Value::String(s)) => {
            if let Some(max) = def.length
                && s.chars().count() > max as usize
            {
                return Err(format!("value longer than {max} characters"));
            }
            Ok(value.clone())
        }
        (DataType::String, Value::Number(n)) => Ok(Value::String(n.to_string())),
        (DataType::String, _) => bad("a string"),
        (DataType::Integer | DataType::Timestamp, Value::String(s)) if s.trim().is_empty() => {
            Ok(Value::Null)
        }
        (DataType::Integer, Value::Number(n)) => n
            .as_i64()
            .map(Value::from)
            .map_or_else(|| bad("an integer"), Ok),
        (DataType::Integer, Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| bad("an integer")),
        (DataType::Integer, _) => bad("an integer"),
        (DataType::Decimal, Value::Number(_)) | (DataType::Boolean, Value::Bool(_)) => {
            Ok(value.clone())
        }
        (DataType::Decimal, Value::String(s)) if s.trim().is_empty() => Ok(Value::Null),
        (DataType::Decimal, Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(json!(f)),
            _ => bad("a number"),
        },
        (DataType::Decimal, _) => bad("a number"),
        (DataType::Boolean, Value::Number(n)) => match n.as_i64() {
            Some(0) => Ok(Value::Bool(false)),
            Some(1) => Ok(Value::Bool(true)),
            _ => bad("a boolean"),
        },
        (DataType::Boolean, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(Value::Null),
            "true" | "1" => Ok(Value::Bool(true)),
            "false" | "0" => Ok(Value::Bool(false)),
            _ => bad("a boolean"),
        },
        (DataType::Boolean, _) => bad("a boolean"),
        (DataType::Timestamp, Value::Number(n)) => n
            .as_i64()
            .map(Value::from)
            .map_or_else(|| bad("Unix seconds or an ISO 8601 date"), Ok),
        (DataType::Timestamp, Value::String(s)) => parse_time(s.trim())
            .map(Value::from)
            .ok_or_else(|| format!("expected Unix seconds or an ISO 8601 date, got {value}")),
        (DataType::Timestamp, _) => bad("Unix seconds or an ISO 8601 date"),
    }
}

/// Unix seconds from `1718000000`, `2024-06-10T06:13:20Z` or `2024-06-10`. Offsets are
/// ignored: the vendor documents dates as UTC and says offsets are not applied.
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    if s.len() >= 19
        && let Some(head) = s.get(..19)
        && let Ok(t) = chrono::NaiveDateTime::parse_from_str(head, "%Y-%m-%dT%H:%M:%S")
    {
        return Some(t.and_utc().timestamp());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

/// The key a value occupies in a unique index; empty and null values never collide.
pub(crate) fn unique_key(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// True for null and empty text.
pub(crate) fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coercion_follows_types() {
        let schema = Schema::new("users", people_builtins());
        let role = schema.def(schema.slot("role").unwrap());
        assert_eq!(coerce(role, &json!("25")).unwrap(), json!(25));
        assert!(coerce(role, &json!("x")).is_err());
        let suspended = schema.def(people_slot::SUSPENDED);
        assert_eq!(coerce(suspended, &json!("true")).unwrap(), json!(true));
        assert_eq!(coerce(suspended, &json!(0)).unwrap(), json!(false));
        let created = schema.def(people_slot::CREATION_DATE);
        assert_eq!(
            coerce(created, &json!("2024-06-10T06:13:20Z")).unwrap(),
            json!(1_718_000_000)
        );
        assert_eq!(
            coerce(created, &json!("2024-06-10T06:13:20+02:00")).unwrap(),
            json!(1_718_000_000),
            "offsets ignored"
        );
        let username = schema.def(people_slot::USERNAME);
        assert!(coerce(username, &json!("x".repeat(257))).is_err());
        assert!(coerce(username, &json!(true)).is_err());
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(hex_id("quip_user_id", 1), hex_id("quip_user_id", 1));
        assert_eq!(hex_id("quip_user_id", 1).len(), 32);
        assert_ne!(user_id_for(1), user_id_for(2));
        assert_eq!(user_id_for(7).len(), 32);
    }

    #[test]
    fn bulk_ids_resolve_internal_then_external() {
        let mut schema = Schema::new("users", people_builtins());
        let slot = schema.upsert(FieldDef::from_custom(&CustomField::quip_user_id()));
        let internal = schema.def(slot).internal_id.clone();
        assert_eq!(schema.bulk_slot(&internal), Some(slot));
        assert_eq!(schema.bulk_slot("quip_user_id"), Some(slot));
        assert_eq!(schema.bulk_slot("PERMISSIONS_ID"), schema.slot("role"));
        assert_eq!(schema.bulk_slot("USER"), Some(people_slot::USERNAME));
        assert_eq!(schema.remove("quip_user_id"), Some(slot));
        assert_eq!(schema.bulk_slot("quip_user_id"), None);
        assert_eq!(schema.remove("username"), None, "built-ins stay");
    }
}
