//! Mappings: target field ← template over a source record.
//!
//! A [`MappingConfig`] is what a configuration file holds (`[mapping.users]`); compiling it
//! with [`MappingConfig::compile`] validates every template once, and the resulting
//! [`Mapping`] turns source records into [`DesiredRecord`]s.
//!
//! A field expression is one of:
//! - a template that is exactly one `{{ expression }}`: evaluated with its type kept (a bool
//!   stays a bool, a list a list; `{{ last_activity }}` stays a timestamp);
//! - a template mixing text and expressions (`"{{ first }} {{ last }}"`): rendered to text;
//! - a constant: a TOML/JSON bool or number, or a string without `{{`.
//!
//! Templates see every source field by name plus [`SPECIAL_VARIABLES`](crate::template::SPECIAL_VARIABLES):
//! `sync_time` (the run's start, Oomnitza's "Connector Sync Time"), `credential_name`
//! ("Connect: Credentials"), `key`, `active`, `roles`, `role` (the first role) and
//! `last_activity`. Timestamps appear in templates as RFC 3339 strings. Besides minijinja's
//! builtin filters (`lower`, `upper`, `trim`, `default`, ...) there are `first_name` and
//! `last_name` (split a full name), `domain` (of an email address) and `epoch` (timestamp →
//! seconds), and the string methods `startswith`, `endswith`, `lower`, `upper`, `strip`,
//! `replace` and `split`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use compact_str::CompactString;
use minijinja::Environment;
use serde::{Deserialize, Serialize};

use crate::compare::CompareOptions;
use crate::connector::{CollectionSpec, FieldSpec};
use crate::error::{ConfigError, MappingError};
use crate::record::{Collection, FieldName, Fields, SourceRecord, Value};
use crate::template::{self, Compiled, Known, MappingContext, RecordView, RunView};

/// How a collection is mapped, as written in configuration (`[mapping.users]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    /// The source field that identifies a record and the unique target field that holds it.
    pub sync_key: KeyMapping,
    /// Keys used, in order, to adopt an existing unowned target record instead of creating
    /// a duplicate (matched case-insensitively).
    #[serde(default)]
    pub fallback_keys: Vec<KeyMapping>,
    /// Target field → expression.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldExpr>,
    /// Target fields compared without regard to case (e.g. `email`).
    #[serde(default)]
    pub case_insensitive: Vec<String>,
}

/// A source field paired with a target field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyMapping {
    /// Source field (or special variable such as `key`).
    pub source: String,
    /// Target field.
    pub target: String,
}

impl KeyMapping {
    /// A key mapping.
    pub fn new(source: impl Into<String>, target: impl Into<String>) -> Self {
        KeyMapping {
            source: source.into(),
            target: target.into(),
        }
    }
}

/// The expression of one mapped field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldExpr {
    /// A constant boolean.
    Bool(bool),
    /// A constant whole number.
    Int(i64),
    /// A constant number.
    Float(f64),
    /// A template (`"{{ email | lower }}"`) or constant text (no `{{`).
    Text(String),
}

impl From<&str> for FieldExpr {
    fn from(s: &str) -> Self {
        FieldExpr::Text(s.to_owned())
    }
}

/// What the target should hold for one source record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesiredRecord {
    /// The value of the sync key's source field, as text.
    pub key: CompactString,
    /// Every mapped target field, the sync key's target field included.
    pub fields: Fields,
    /// Whether the record should be active.
    pub active: bool,
    /// Set when the idle-seat policy makes it inactive: days since the last activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_days: Option<u64>,
}

impl DesiredRecord {
    /// A desired record.
    pub fn new(key: impl Into<CompactString>, fields: Fields, active: bool) -> Self {
        DesiredRecord {
            key: key.into(),
            fields,
            active,
            idle_days: None,
        }
    }
}

#[derive(Debug, Clone)]
enum FieldSource {
    Template(Compiled),
    /// A fallback key's target not written by the mapping: the source value as is.
    Source(String),
}

#[derive(Debug, Clone)]
struct MappedField {
    name: FieldName,
    path: String,
    source: FieldSource,
    /// The source fields (template variables) the value is computed from.
    vars: Vec<String>,
}

/// A compiled, validated mapping for one collection. Templates are compiled once, here.
#[derive(Debug)]
pub struct Mapping {
    collection: Collection,
    env: Environment<'static>,
    sync_key_source: String,
    sync_key_target: FieldName,
    fields: Vec<MappedField>,
    spec: CollectionSpec,
    compare: CompareOptions,
}

impl MappingConfig {
    /// A mapping with a sync key and no fields.
    pub fn new(sync_key: KeyMapping) -> Self {
        MappingConfig {
            sync_key,
            fallback_keys: Vec::new(),
            fields: BTreeMap::new(),
            case_insensitive: Vec::new(),
        }
    }

    /// Builder: adds a fallback key.
    #[must_use]
    pub fn fallback(mut self, key: KeyMapping) -> Self {
        self.fallback_keys.push(key);
        self
    }

    /// Builder: maps `target` to `expr`.
    #[must_use]
    pub fn field(mut self, target: impl Into<String>, expr: impl Into<FieldExpr>) -> Self {
        self.fields.insert(target.into(), expr.into());
        self
    }

    /// Builder: compares `target` without regard to case.
    #[must_use]
    pub fn case_insensitive(mut self, target: impl Into<String>) -> Self {
        self.case_insensitive.push(target.into());
        self
    }

    /// Validates and compiles the mapping for `collection`.
    ///
    /// With `source_fields`, every name a template uses must be a source field or a special
    /// variable; pass `None` when the source's fields are not known (no such check).
    /// Errors name the configuration key (`mapping.users.fields.full_name`) and the position
    /// in the template.
    pub fn compile(
        &self,
        collection: Collection,
        source_fields: Option<&[FieldSpec]>,
    ) -> Result<Mapping, ConfigError> {
        let prefix = format!("mapping.{collection}");
        let mut env = template::environment();
        let known = Known::new(&env, source_fields);

        let key_path = format!("{prefix}.sync_key");
        check_key(&self.sync_key, &key_path, &known)?;
        let sync_key_target: FieldName = self.sync_key.target.trim().into();

        let mut fields = self.compile_fields(&prefix, &mut env, &known, &sync_key_target)?;
        let fallback_targets =
            self.compile_fallback_keys(&prefix, &known, &sync_key_target, &mut fields)?;

        let mut written: Vec<FieldName> = fields.iter().map(|f| f.name.clone()).collect();
        written.push(sync_key_target.clone());
        written.sort();
        let ci = self.case_insensitive_fields(&prefix, &written)?;

        Ok(Mapping {
            collection,
            env,
            sync_key_source: self.sync_key.source.trim().to_owned(),
            sync_key_target: sync_key_target.clone(),
            fields,
            spec: CollectionSpec {
                collection,
                sync_key: sync_key_target,
                fallback_keys: fallback_targets,
                fields: written,
            },
            compare: CompareOptions {
                case_insensitive: ci,
            },
        })
    }

    /// Compiles each `fields` entry, refusing empty names and the sync key's target field.
    fn compile_fields(
        &self,
        prefix: &str,
        env: &mut Environment<'static>,
        known: &Known,
        sync_key_target: &str,
    ) -> Result<Vec<MappedField>, ConfigError> {
        let mut fields: Vec<MappedField> = Vec::with_capacity(self.fields.len() + 2);
        for (name, expr) in &self.fields {
            let path = format!("{prefix}.fields.{name}");
            if name.trim().is_empty() {
                return Err(ConfigError::new(path, "the target field name is empty"));
            }
            if name.trim() == sync_key_target {
                return Err(ConfigError::new(
                    path,
                    format!(
                        "`{name}` is the sync key's target field; it is set from sync_key.source, remove it here"
                    ),
                ));
            }
            let compiled = match expr {
                FieldExpr::Bool(b) => Compiled::Constant(Value::Bool(*b)),
                FieldExpr::Int(n) => Compiled::Constant(Value::Int(*n)),
                FieldExpr::Float(f) => Compiled::Constant(Value::Float(*f)),
                FieldExpr::Text(src) => template::compile_text(env, &path, &path, src, known)?,
            };
            let vars = template::variables(env, &compiled);
            fields.push(MappedField {
                name: name.trim().into(),
                path,
                source: FieldSource::Template(compiled),
                vars,
            });
        }
        Ok(fields)
    }

    /// Checks the fallback keys (distinct, not the sync key) and returns their target
    /// fields; a target the mapping does not write is added to `fields`, copied from its
    /// source field.
    fn compile_fallback_keys(
        &self,
        prefix: &str,
        known: &Known,
        sync_key_target: &FieldName,
        fields: &mut Vec<MappedField>,
    ) -> Result<Vec<FieldName>, ConfigError> {
        let mut fallback_targets: Vec<FieldName> = Vec::with_capacity(self.fallback_keys.len());
        for (i, fb) in self.fallback_keys.iter().enumerate() {
            let path = format!("{prefix}.fallback_keys[{i}]");
            check_key(fb, &path, known)?;
            let target: FieldName = fb.target.trim().into();
            if target == *sync_key_target {
                return Err(ConfigError::new(
                    format!("{path}.target"),
                    "a fallback key cannot be the sync key's target field",
                ));
            }
            if fallback_targets.contains(&target) {
                return Err(ConfigError::new(
                    format!("{path}.target"),
                    format!("`{target}` is already a fallback key"),
                ));
            }
            if !fields.iter().any(|f| f.name == target) {
                fields.push(MappedField {
                    name: target.clone(),
                    path: path.clone(),
                    source: FieldSource::Source(fb.source.trim().to_owned()),
                    vars: vec![fb.source.trim().to_owned()],
                });
            }
            fallback_targets.push(target);
        }
        Ok(fallback_targets)
    }

    /// The `case_insensitive` fields, each of which must be one the mapping writes.
    fn case_insensitive_fields(
        &self,
        prefix: &str,
        written: &[FieldName],
    ) -> Result<Vec<FieldName>, ConfigError> {
        let mut ci = Vec::with_capacity(self.case_insensitive.len());
        for (i, name) in self.case_insensitive.iter().enumerate() {
            let name = name.trim();
            if !written.iter().any(|w| &**w == name) {
                return Err(ConfigError::new(
                    format!("{prefix}.case_insensitive[{i}]"),
                    format!(
                        "`{name}` is not a field this mapping writes ({})",
                        written
                            .iter()
                            .map(AsRef::as_ref)
                            .collect::<Vec<&str>>()
                            .join(", ")
                    ),
                ));
            }
            ci.push(FieldName::from(name));
        }
        Ok(ci)
    }
}

fn check_key(key: &KeyMapping, path: &str, known: &Known) -> Result<(), ConfigError> {
    let source = key.source.trim();
    if source.is_empty() {
        return Err(ConfigError::new(
            format!("{path}.source"),
            "the source field is empty",
        ));
    }
    if !known.is_known(source) {
        return Err(ConfigError::new(
            format!("{path}.source"),
            format!("unknown source field `{source}`"),
        ));
    }
    if key.target.trim().is_empty() {
        return Err(ConfigError::new(
            format!("{path}.target"),
            "the target field is empty",
        ));
    }
    Ok(())
}

impl Mapping {
    /// The collection this mapping writes.
    pub fn collection(&self) -> Collection {
        self.collection
    }

    /// What the target needs to know: sync key, fallback keys and every written field.
    pub fn spec(&self) -> &CollectionSpec {
        &self.spec
    }

    /// How planning compares values of this collection (case-insensitive fields).
    pub fn compare_options(&self) -> &CompareOptions {
        &self.compare
    }

    /// Every source field this mapping reads: the sync key's source and the variables of
    /// every template (derived from the compiled templates). A source uses this to read an
    /// optional API only when a mapping needs what it provides.
    pub fn source_fields(&self) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self.fields.iter().flat_map(|f| f.vars.clone()).collect();
        out.insert(self.sync_key_source.clone());
        out
    }

    /// Leaves out of `desired` every target field computed from a source field that is
    /// unknown for this record (`unknown(name)`), so the plan leaves it as the target has it.
    /// Returns the fields left out; an error when a key (the sync key or a fallback key)
    /// depends on an unknown field, since the record could then not be matched safely.
    pub(crate) fn forget_unknown(
        &self,
        desired: &mut DesiredRecord,
        unknown: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<FieldName>, MappingError> {
        let key = desired.key.clone();
        let error = |path: String, var: &str| MappingError {
            key: key.clone(),
            path,
            message: format!(
                "`{var}` could not be read from the source this run, and this key depends on it"
            ),
        };
        if unknown(&self.sync_key_source) {
            return Err(error(
                format!("mapping.{}.sync_key.source", self.collection),
                &self.sync_key_source,
            ));
        }
        let mut forgotten = Vec::new();
        for f in &self.fields {
            let Some(var) = f.vars.iter().find(|v| unknown(v)) else {
                continue;
            };
            if self.spec.fallback_keys.contains(&f.name) {
                return Err(error(f.path.clone(), var));
            }
            if desired.fields.remove(&f.name).is_some() {
                forgotten.push(f.name.clone());
            }
        }
        Ok(forgotten)
    }

    /// The desired target record for one source record.
    ///
    /// A template that fails for this record is an error naming the field; callers skip the
    /// record with that reason rather than abort.
    pub fn desired(
        &self,
        record: &SourceRecord,
        ctx: &MappingContext,
    ) -> Result<DesiredRecord, MappingError> {
        let view = RunView::new(ctx).view(Arc::new(record.clone()));
        self.desired_view(&view)
    }

    pub(crate) fn desired_view(&self, view: &RecordView) -> Result<DesiredRecord, MappingError> {
        let record = view.record();
        let key = match view.lookup(&self.sync_key_source) {
            Some(v) => key_text(&v),
            None => None,
        }
        .ok_or_else(|| MappingError {
            key: record.key.clone(),
            path: format!("mapping.{}.sync_key.source", self.collection),
            message: format!(
                "the sync key source field `{}` is empty or not text",
                self.sync_key_source
            ),
        })?;
        let mut fields: Vec<(FieldName, Value)> = Vec::with_capacity(self.fields.len() + 1);
        fields.push((self.sync_key_target.clone(), Value::String(key.clone())));
        for f in &self.fields {
            let value = match &f.source {
                FieldSource::Template(c) => {
                    template::eval(&self.env, c, view).map_err(|message| MappingError {
                        key: record.key.clone(),
                        path: f.path.clone(),
                        message,
                    })?
                }
                FieldSource::Source(name) => view.lookup(name).unwrap_or_default(),
            };
            fields.push((f.name.clone(), value));
        }
        Ok(DesiredRecord {
            key,
            fields: fields.into_iter().collect(),
            active: record.active,
            idle_days: None,
        })
    }
}

/// The text of a key value: trimmed strings and whole numbers; anything else is not a key.
fn key_text(v: &Value) -> Option<CompactString> {
    match v {
        Value::String(s) => {
            let t = s.trim();
            (!t.is_empty()).then(|| t.into())
        }
        Value::Int(n) => Some(compact_str::format_compact!("{n}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::FieldKind;

    fn fields() -> Vec<FieldSpec> {
        vec![
            FieldSpec::new("id", FieldKind::String, "id"),
            FieldSpec::new("name", FieldKind::String, "name"),
            FieldSpec::new("email", FieldKind::String, "email"),
        ]
    }

    #[test]
    fn spec_lists_every_written_field() {
        let m = MappingConfig::new(KeyMapping::new("id", "directory_id"))
            .fallback(KeyMapping::new("email", "email"))
            .field("full_name", "{{ name }}")
            .compile(Collection::Users, Some(&fields()))
            .expect("valid");
        let names: Vec<&str> = m.spec().fields.iter().map(AsRef::as_ref).collect();
        assert_eq!(names, ["directory_id", "email", "full_name"]);
        assert_eq!(&*m.spec().sync_key, "directory_id");
        assert_eq!(m.spec().fallback_keys.len(), 1);
    }
}
