//! The record model shared by every source and target.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// The collections a sync manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Collection {
    /// People (directory users).
    Users,
    /// Seats of one SaaS application, linked to people.
    SaasUsers,
}

impl Collection {
    /// The collection's name as used in configuration and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Collection::Users => "users",
            Collection::SaasUsers => "saas_users",
        }
    }
}

impl fmt::Display for Collection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed field value.
///
/// Serialised untagged, so a plan file reads like plain JSON; a [`Value::Timestamp`]
/// serialises as an RFC 3339 string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(untagged)]
pub enum Value {
    /// Absent or explicitly empty.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A number with a fractional part.
    Float(f64),
    /// A point in time (UTC).
    Timestamp(DateTime<Utc>),
    /// Text.
    String(CompactString),
    /// A list of values.
    List(Vec<Value>),
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<CompactString>) -> Self {
        Value::String(s.into())
    }

    /// The value as text, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.into())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s.into())
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}
impl From<DateTime<Utc>> for Value {
    fn from(t: DateTime<Utc>) -> Self {
        Value::Timestamp(t)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::List(v.into_iter().map(Into::into).collect())
    }
}

/// A field name. Shared (`Arc`) so a million records do not each own a copy.
pub type FieldName = Arc<str>;

/// An ordered set of named fields, kept sorted by name.
///
/// A sorted vector rather than a map: records have about ten fields, and this keeps a
/// million records compact and cheap to compare.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(
    from = "std::collections::BTreeMap<FieldName, Value>",
    into = "std::collections::BTreeMap<FieldName, Value>"
)]
pub struct Fields(Vec<(FieldName, Value)>);

impl Fields {
    /// No fields.
    pub fn new() -> Self {
        Fields(Vec::new())
    }

    /// Sets `name` to `value`, replacing any previous value.
    pub fn insert(&mut self, name: impl Into<FieldName>, value: impl Into<Value>) {
        let name = name.into();
        let value = value.into();
        match self
            .0
            .binary_search_by(|(n, _)| n.as_ref().cmp(name.as_ref()))
        {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (name, value)),
        }
    }

    /// Builder form of [`Fields::insert`].
    #[must_use]
    pub fn with(mut self, name: impl Into<FieldName>, value: impl Into<Value>) -> Self {
        self.insert(name, value);
        self
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0
            .binary_search_by(|(n, _)| n.as_ref().cmp(name))
            .ok()
            .map(|i| &self.0[i].1)
    }

    /// Removes `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.0
            .binary_search_by(|(n, _)| n.as_ref().cmp(name))
            .ok()
            .map(|i| self.0.remove(i).1)
    }

    /// Iterates over `(name, value)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&FieldName, &Value)> {
        self.0.iter().map(|(n, v)| (n, v))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<std::collections::BTreeMap<FieldName, Value>> for Fields {
    fn from(map: std::collections::BTreeMap<FieldName, Value>) -> Self {
        Fields(map.into_iter().collect())
    }
}

impl From<Fields> for std::collections::BTreeMap<FieldName, Value> {
    fn from(fields: Fields) -> Self {
        fields.0.into_iter().collect()
    }
}

impl<N: Into<FieldName>, V: Into<Value>> FromIterator<(N, V)> for Fields {
    /// Later values replace earlier ones of the same name, as with [`Fields::insert`].
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        // Collect, then sort once: exact capacity (a million records of ten fields each
        // would otherwise carry ~60% spare capacity from repeated growth) and O(n log n).
        let mut v: Vec<(FieldName, Value)> = iter
            .into_iter()
            .map(|(n, v)| (n.into(), v.into()))
            .collect();
        v.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
        // Keep the last value of each run of equal names (the sort is stable): `dedup_by`
        // keeps the earlier element, so hand it the later one's value first.
        v.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(&mut later.1, &mut kept.1);
            }
            same
        });
        Fields(v)
    }
}

/// One record as the source system reports it (e.g. one Quip user).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRecord {
    /// Stable, immutable source key (e.g. the Quip user id).
    pub key: CompactString,
    /// The fields offered to mappings and filters (see [`crate::Source::fields`]).
    pub fields: Fields,
    /// False when the source says the account is disabled.
    pub active: bool,
    /// The user's role(s) in the SaaS application, for `saas_users`.
    pub roles: Vec<CompactString>,
    /// The user's last activity in the SaaS application, when known.
    pub last_activity: Option<DateTime<Utc>>,
}

/// One record as the target system holds it (e.g. one Oomnitza person or SaaS seat).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRecord {
    /// The target's own identifier, used to address updates and deactivations.
    pub id: CompactString,
    /// The value of the sync key field, when the record carries one.
    pub key: Option<CompactString>,
    /// The record's fields, by target field name (only those the sync may compare).
    pub fields: Fields,
    /// False when the record is deactivated in the target.
    pub active: bool,
    /// True when this integration owns the record (created it, or it carries the sync key).
    /// Only owned records are ever deactivated.
    pub owned: bool,
    /// True when this integration deactivated the record; only such records are reactivated.
    /// Targets usually cannot know this: the runtime fills it from its own ledger.
    pub deactivated_by_sync: bool,
}

/// What a source read produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceSnapshot {
    /// Every record read.
    pub records: Vec<SourceRecord>,
    /// Whether the roster (who exists, who is active) was read completely: every page read
    /// successfully. Deactivations need a complete roster; enrichments do not count here.
    pub completeness: Completeness,
    /// A total reported by the server (e.g. SCIM `totalResults`), to check the count against.
    pub reported_total: Option<u64>,
    /// Fields that could not be read (an optional API failed or is not licensed), for every
    /// record or for some. They say nothing about who exists: the roster's completeness is
    /// [`SourceSnapshot::completeness`] alone. The plan leaves the target fields that depend
    /// on an unknown field exactly as the target has them (sync-safety.md S14).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<UnknownFields>,
}

/// Source fields a read could not learn (an enrichment), and for which records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownFields {
    /// Source field names as templates use them (e.g. `last_activity`, `role`).
    pub fields: Vec<FieldName>,
    /// The source keys of the records concerned; `None` means every record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<Vec<CompactString>>,
    /// The report's warning: which API, the HTTP status, and what is left as it is.
    pub warning: String,
}

impl UnknownFields {
    /// `fields` are unknown for every record.
    pub fn all<I, S>(fields: I, warning: impl Into<String>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<FieldName>,
    {
        UnknownFields {
            fields: fields.into_iter().map(Into::into).collect(),
            records: None,
            warning: warning.into(),
        }
    }

    /// `fields` are unknown for the records with these source keys only.
    #[must_use]
    pub fn for_records<I, K>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<CompactString>,
    {
        self.records = Some(keys.into_iter().map(Into::into).collect());
        self
    }
}

/// Whether a read saw everything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Completeness {
    /// Every page was read.
    Complete,
    /// Something was not read; deactivations must not run.
    Incomplete {
        /// Why, for the report.
        reason: String,
    },
}

impl Completeness {
    /// True for [`Completeness::Complete`].
    pub fn is_complete(&self) -> bool {
        matches!(self, Completeness::Complete)
    }
}

/// The current state of one target collection.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TargetSnapshot {
    /// The records the target holds that the sync may match (for users, usually those
    /// carrying the sync key plus those matching a fallback key).
    pub records: Vec<TargetRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_from_iter_sorts_and_last_wins() {
        let f: Fields = [("b", 1_i64), ("a", 2), ("b", 3), ("c", 4), ("b", 5)]
            .into_iter()
            .collect();
        let got: Vec<(&str, &Value)> = f.iter().map(|(n, v)| (n.as_ref(), v)).collect();
        assert_eq!(
            got,
            [
                ("a", &Value::Int(2)),
                ("b", &Value::Int(5)),
                ("c", &Value::Int(4))
            ]
        );
    }
}
