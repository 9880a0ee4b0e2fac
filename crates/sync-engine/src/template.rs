//! The sandboxed template language shared by mappings and filters (minijinja), the record
//! view templates see, and conversions between engine and template values.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use minijinja::value::{Enumerator, Object, ValueKind};
use minijinja::{AutoEscape, Environment, State, UndefinedBehavior};
use serde::{Deserialize, Serialize};

use crate::compare::parse_time;
use crate::connector::{FieldKind, FieldSpec};
use crate::error::{ConfigError, Position};
use crate::record::{SourceRecord, Value};

/// Variables every template sees besides the source's own fields.
///
/// They take precedence over source fields of the same name.
pub const SPECIAL_VARIABLES: &[&str] = &[
    "sync_time",
    "credential_name",
    "key",
    "active",
    "roles",
    "role",
    "last_activity",
];

/// Run-wide values templates can use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingContext {
    /// The run's start time (Oomnitza's "Connector Sync Time"), `sync_time` in templates.
    pub sync_time: DateTime<Utc>,
    /// The name of the source credential ("Connect: Credentials"), `credential_name`.
    pub credential_name: String,
}

impl MappingContext {
    /// A context for a run starting at `sync_time` with the named credential.
    pub fn new(sync_time: DateTime<Utc>, credential_name: impl Into<String>) -> Self {
        MappingContext {
            sync_time,
            credential_name: credential_name.into(),
        }
    }
}

#[derive(Debug)]
struct RunValues {
    sync_time: DateTime<Utc>,
    credential_name: minijinja::Value,
}

/// What a template's root object holds.
#[derive(Debug)]
struct ViewObject {
    record: Arc<SourceRecord>,
    run: Arc<RunValues>,
}

/// One source record as templates see it. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct RecordView {
    record: Arc<SourceRecord>,
    run: Arc<RunValues>,
    /// The template root object, built once per record and shared by every template.
    jinja: minijinja::Value,
}

/// Shared run values for many [`RecordView`]s.
#[derive(Debug, Clone)]
pub(crate) struct RunView(Arc<RunValues>);

impl RunView {
    pub(crate) fn new(ctx: &MappingContext) -> Self {
        RunView(Arc::new(RunValues {
            sync_time: ctx.sync_time,
            credential_name: minijinja::Value::from(ctx.credential_name.as_str()),
        }))
    }

    pub(crate) fn view(&self, record: Arc<SourceRecord>) -> RecordView {
        let jinja = minijinja::Value::from_object(ViewObject {
            record: Arc::clone(&record),
            run: Arc::clone(&self.0),
        });
        RecordView {
            record,
            run: Arc::clone(&self.0),
            jinja,
        }
    }
}

impl RecordView {
    pub(crate) fn record(&self) -> &SourceRecord {
        &self.record
    }

    /// The engine value of a variable, type preserved.
    pub(crate) fn lookup(&self, name: &str) -> Option<Value> {
        lookup(&self.record, &self.run, name)
    }

    pub(crate) fn to_jinja(&self) -> minijinja::Value {
        self.jinja.clone()
    }
}

/// The engine value of a template variable, type preserved.
fn lookup(r: &SourceRecord, run: &RunValues, name: &str) -> Option<Value> {
    Some(match name {
        "sync_time" => Value::Timestamp(run.sync_time),
        "credential_name" => Value::string(run.credential_name.as_str().unwrap_or("")),
        "key" => Value::String(r.key.clone()),
        "active" => Value::Bool(r.active),
        "roles" => Value::List(r.roles.iter().map(|s| Value::String(s.clone())).collect()),
        "role" => r
            .roles
            .first()
            .map_or(Value::Null, |s| Value::String(s.clone())),
        "last_activity" => r.last_activity.map_or(Value::Null, Value::Timestamp),
        _ => return r.fields.get(name).cloned(),
    })
}

impl Object for ViewObject {
    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let name = key.as_str()?;
        match name {
            "credential_name" => Some(self.run.credential_name.clone()),
            _ => lookup(&self.record, &self.run, name).map(|v| to_jinja(&v)),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut names: Vec<minijinja::Value> = SPECIAL_VARIABLES
            .iter()
            .map(|s| minijinja::Value::from(*s))
            .collect();
        names.extend(
            self.record
                .fields
                .iter()
                .filter(|(n, _)| !SPECIAL_VARIABLES.contains(&n.as_ref()))
                .map(|(n, _)| minijinja::Value::from(n.as_ref())),
        );
        Enumerator::Values(names)
    }
}

/// RFC 3339 text of a timestamp, as templates see it (`2024-05-06T07:08:09Z`).
pub(crate) fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// An engine value as a template value. Timestamps become RFC 3339 strings.
pub(crate) fn to_jinja(v: &Value) -> minijinja::Value {
    match v {
        Value::Null => minijinja::Value::from(()),
        Value::Bool(b) => minijinja::Value::from(*b),
        Value::Int(n) => minijinja::Value::from(*n),
        Value::Float(f) => minijinja::Value::from(*f),
        Value::Timestamp(t) => minijinja::Value::from(rfc3339(t)),
        Value::String(s) => minijinja::Value::from(s.as_str()),
        Value::List(l) => minijinja::Value::from(l.iter().map(to_jinja).collect::<Vec<_>>()),
    }
}

/// A template value as an engine value.
pub(crate) fn from_jinja(v: &minijinja::Value) -> Result<Value, String> {
    Ok(match v.kind() {
        ValueKind::Undefined | ValueKind::None => Value::Null,
        ValueKind::Bool => Value::Bool(v.is_true()),
        ValueKind::Number => {
            if let Some(n) = v.as_i64().filter(|_| v.is_integer()) {
                Value::Int(n)
            } else {
                let f = f64::try_from(v.clone()).map_err(|e| e.to_string())?;
                Value::Float(f)
            }
        }
        ValueKind::String => Value::string(v.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => {
            let iter = v.try_iter().map_err(|e| e.to_string())?;
            Value::List(iter.map(|x| from_jinja(&x)).collect::<Result<_, _>>()?)
        }
        ValueKind::Map => {
            return Err(
                "the expression produced a mapping, not a value; select one of its fields"
                    .to_owned(),
            );
        }
        ValueKind::Bytes => return Err("the expression produced bytes, not text".to_owned()),
        ValueKind::Invalid => return Err(format!("the expression produced an invalid value: {v}")),
        _ => Value::string(v.to_string()),
    })
}

/// A new sandboxed environment with the custom filters and string methods.
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_debug(true);
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.add_filter("first_name", first_name);
    env.add_filter("last_name", last_name);
    env.add_filter("domain", domain);
    env.add_filter("epoch", epoch);
    env.set_unknown_method_callback(string_method);
    env
}

/// Splits a full name: "Lovelace, Ada" or "Ada King Lovelace" → ("Ada", "King Lovelace").
fn split_name(full: &str) -> (&str, &str) {
    let full = full.trim();
    if let Some((last, first)) = full.split_once(',') {
        return (first.trim(), last.trim());
    }
    match full.split_once(char::is_whitespace) {
        Some((first, rest)) => (first, rest.trim()),
        None => (full, ""),
    }
}

fn first_name(v: &minijinja::Value) -> minijinja::Value {
    match v.as_str() {
        Some(s) => minijinja::Value::from(split_name(s).0),
        None => minijinja::Value::from(()),
    }
}

fn last_name(v: &minijinja::Value) -> minijinja::Value {
    match v.as_str() {
        Some(s) => minijinja::Value::from(split_name(s).1),
        None => minijinja::Value::from(()),
    }
}

fn domain(v: &minijinja::Value) -> minijinja::Value {
    v.as_str()
        .and_then(|s| s.trim().rsplit_once('@'))
        .map(|(_, d)| d.trim())
        .filter(|d| !d.is_empty())
        .map_or(minijinja::Value::from(()), |d| {
            minijinja::Value::from(d.to_lowercase())
        })
}

fn epoch(v: &minijinja::Value) -> Result<minijinja::Value, minijinja::Error> {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => Ok(minijinja::Value::from(())),
        ValueKind::Number => Ok(v.clone()),
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default().trim();
            if s.is_empty() {
                return Ok(minijinja::Value::from(()));
            }
            parse_time(s).map(minijinja::Value::from).ok_or_else(|| {
                minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("epoch: {s:?} is not a timestamp"),
                )
            })
        }
        kind => Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("epoch: cannot read a timestamp from a {kind}"),
        )),
    }
}

/// A few Python string methods (`email.endswith("@acme.com")`), as Oomnitza's mapping page
/// and many Jinja users expect them.
fn string_method(
    _state: &State,
    value: &minijinja::Value,
    method: &str,
    args: &[minijinja::Value],
) -> Result<minijinja::Value, minijinja::Error> {
    let unknown = || {
        minijinja::Error::new(
            minijinja::ErrorKind::UnknownMethod,
            format!("{} has no method named {method}", value.kind()),
        )
    };
    let arg_str = |i: usize| -> Result<&str, minijinja::Error> {
        args.get(i)
            .and_then(minijinja::Value::as_str)
            .ok_or_else(|| {
                minijinja::Error::new(
                    minijinja::ErrorKind::MissingArgument,
                    format!("{method} needs a string argument"),
                )
            })
    };
    let affix = |s: &str, starts: bool| -> Result<bool, minijinja::Error> {
        let first = args.first().ok_or_else(|| {
            minijinja::Error::new(
                minijinja::ErrorKind::MissingArgument,
                format!("{method} needs an argument"),
            )
        })?;
        let check = |p: &str| {
            if starts {
                s.starts_with(p)
            } else {
                s.ends_with(p)
            }
        };
        if let Some(p) = first.as_str() {
            return Ok(check(p));
        }
        let iter = first.try_iter()?;
        Ok(iter.filter_map(|p| p.as_str().map(check)).any(|b| b))
    };
    if value.is_undefined() || value.is_none() {
        return match method {
            "startswith" | "endswith" => Ok(minijinja::Value::from(false)),
            "lower" | "upper" | "strip" | "lstrip" | "rstrip" => Ok(minijinja::Value::from(())),
            _ => Err(unknown()),
        };
    }
    let Some(s) = value.as_str() else {
        return Err(unknown());
    };
    Ok(match method {
        "startswith" => minijinja::Value::from(affix(s, true)?),
        "endswith" => minijinja::Value::from(affix(s, false)?),
        "lower" => minijinja::Value::from(s.to_lowercase()),
        "upper" => minijinja::Value::from(s.to_uppercase()),
        "strip" => minijinja::Value::from(s.trim()),
        "lstrip" => minijinja::Value::from(s.trim_start()),
        "rstrip" => minijinja::Value::from(s.trim_end()),
        "replace" => minijinja::Value::from(s.replace(arg_str(0)?, arg_str(1)?)),
        "split" => {
            let parts: Vec<minijinja::Value> = match args.first().and_then(|a| a.as_str()) {
                Some(sep) => s.split(sep).map(minijinja::Value::from).collect(),
                None => s.split_whitespace().map(minijinja::Value::from).collect(),
            };
            minijinja::Value::from(parts)
        }
        _ => return Err(unknown()),
    })
}

/// What a template compiled to.
#[derive(Debug, Clone)]
pub(crate) enum Compiled {
    /// Constant value, no template.
    Constant(Value),
    /// `{{ name }}`: the variable's engine value, type kept (a timestamp stays a timestamp).
    Variable(String),
    /// `{{ expr }}`: evaluated to a typed value through a `{% set %}` wrapper template.
    Expression {
        /// Name of the wrapper template in the environment.
        name: String,
        /// The user's text, for error positions.
        user_src: Arc<str>,
        /// Where the expression starts in `user_src`.
        base: usize,
    },
    /// Text mixed with expressions: rendered to a string.
    Render(String),
}

/// The variables a compiled template reads (top-level names, sorted): `email` for
/// `{{ email | lower }}`, `name` and `email` for `"{{ name }} <{{ email }}>"`. Taken from
/// the compiled template itself, so it never drifts from what the template does.
pub(crate) fn variables(env: &Environment<'static>, compiled: &Compiled) -> Vec<String> {
    let mut vars: Vec<String> = match compiled {
        Compiled::Constant(_) => Vec::new(),
        Compiled::Variable(name) => vec![name.clone()],
        Compiled::Expression { name, .. } | Compiled::Render(name) => env
            .get_template(name)
            .map(|t| t.undeclared_variables(false).into_iter().collect())
            .unwrap_or_default(),
    };
    vars.sort_unstable();
    vars.dedup();
    vars
}

/// The names every template may use.
pub(crate) struct Known {
    names: Option<HashSet<String>>,
    sample: RecordView,
}

impl Known {
    /// `fields` = `None` when the source's fields are not known (no unknown-field check).
    pub(crate) fn new(env: &Environment<'_>, fields: Option<&[FieldSpec]>) -> Self {
        let names = fields.map(|fields| {
            let mut names: HashSet<String> = fields.iter().map(|f| f.name.to_string()).collect();
            names.extend(SPECIAL_VARIABLES.iter().map(|s| (*s).to_owned()));
            names.extend(env.globals().map(|(n, _)| n.to_owned()));
            names
        });
        let sample_fields = fields
            .unwrap_or_default()
            .iter()
            .map(|f| {
                let v = match f.kind {
                    FieldKind::String => Value::string("Sample Value"),
                    FieldKind::Number => Value::Int(1),
                    FieldKind::Bool => Value::Bool(true),
                    FieldKind::Timestamp => Value::Timestamp(DateTime::<Utc>::UNIX_EPOCH),
                    FieldKind::List => Value::List(vec![Value::string("sample@example.com")]),
                };
                (f.name.clone(), v)
            })
            .collect();
        let record = SourceRecord {
            key: "sample".into(),
            fields: sample_fields,
            active: true,
            roles: vec!["member".into()],
            last_activity: Some(DateTime::<Utc>::UNIX_EPOCH),
        };
        let run = RunView::new(&MappingContext::new(DateTime::<Utc>::UNIX_EPOCH, "sample"));
        Known {
            names,
            sample: run.view(Arc::new(record)),
        }
    }

    pub(crate) fn is_known(&self, name: &str) -> bool {
        self.names.as_ref().is_none_or(|n| n.contains(name))
    }

    fn sorted(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .names
            .iter()
            .flatten()
            .map(String::as_str)
            .filter(|n| !SPECIAL_VARIABLES.contains(n))
            .collect();
        v.sort_unstable();
        v
    }
}

/// The detail of a template error, without minijinja's "(in name:line)" suffix.
pub(crate) fn describe(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(d) => format!("{}: {d}", err.kind()),
        None => err.kind().to_string(),
    }
}

fn position_of(err: &minijinja::Error, src: &str) -> Option<Position> {
    match err.range() {
        Some(r) => Some(Position::at(src, r.start)),
        None => err.line().map(|line| {
            let offset: usize = src.split_inclusive('\n').take(line - 1).map(str::len).sum();
            Position::at(src, offset)
        }),
    }
}

fn config_error(path: &str, err: &minijinja::Error, src: &str) -> ConfigError {
    ConfigError::new(path, describe(err)).at(position_of(err, src))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(
            s,
            "true" | "false" | "none" | "True" | "False" | "None" | "not"
        )
}

/// The byte offset of the first whole-word occurrence of `word` in `src`.
fn find_word(src: &str, word: &str) -> Option<usize> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    src.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before = src[..i].chars().next_back();
        let after = src[i + word.len()..].chars().next();
        // Not an attribute (`x.name`) nor a filter (`| name`).
        let before_token = src[..i].trim_end().chars().next_back();
        !before.is_some_and(is_word)
            && !after.is_some_and(is_word)
            && !matches!(before_token, Some('.' | '|'))
    })
}

/// The inner expression when `src` is exactly one `{{ expr }}` block.
fn single_expression(src: &str) -> Option<(usize, &str)> {
    let t = src.trim();
    let start = src.len() - src.trim_start().len();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    let mut offset = start + 2;
    let inner = match inner.strip_prefix(['-', '+']) {
        Some(rest) => {
            offset += 1;
            rest
        }
        None => inner,
    };
    let inner = inner.strip_suffix(['-', '+']).unwrap_or(inner);
    if ["{{", "}}", "{%", "%}", "{#"]
        .iter()
        .any(|m| inner.contains(m))
    {
        return None;
    }
    if inner.trim().is_empty() {
        return None;
    }
    Some((offset, inner))
}

/// Checks that a compiled template only uses known names, and that its filters, tests and
/// functions exist (by evaluating it once against a sample record).
fn check_names(
    env: &Environment<'static>,
    path: &str,
    name: &str,
    src: &str,
    known: &Known,
) -> Result<(), ConfigError> {
    let tmpl = env
        .get_template(name)
        .map_err(|e| config_error(path, &e, src))?;
    let mut unknown: Vec<String> = tmpl
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !known.is_known(v))
        .collect();
    unknown.sort_unstable();
    if let Some(var) = unknown.first() {
        let pos = find_word(src, var).map(|o| Position::at(src, o));
        return Err(ConfigError::new(
            path,
            format!(
                "unknown source field `{var}` (known fields: {}; special variables: {})",
                known.sorted().join(", "),
                SPECIAL_VARIABLES.join(", ")
            ),
        )
        .at(pos));
    }
    if let Err(e) = tmpl.render(known.sample.to_jinja()) {
        use minijinja::ErrorKind as K;
        if matches!(
            e.kind(),
            K::UnknownFilter | K::UnknownTest | K::UnknownFunction | K::SyntaxError
        ) {
            return Err(config_error(path, &e, src));
        }
    }
    Ok(())
}

/// Compiles a template-or-constant string found at `path` into `env` under `name`.
pub(crate) fn compile_text(
    env: &mut Environment<'static>,
    path: &str,
    name: &str,
    src: &str,
    known: &Known,
) -> Result<Compiled, ConfigError> {
    if !src.contains("{{") && !src.contains("{%") && !src.contains("{#") {
        return Ok(Compiled::Constant(Value::string(src)));
    }
    env.add_template_owned(name.to_owned(), src.to_owned())
        .map_err(|e| config_error(path, &e, src))?;
    check_names(env, path, name, src, known)?;
    let Some((base, inner)) = single_expression(src) else {
        return Ok(Compiled::Render(name.to_owned()));
    };
    let trimmed = inner.trim();
    if is_identifier(trimmed) {
        return Ok(Compiled::Variable(trimmed.to_owned()));
    }
    let expr_name = format!("{name}#expr");
    match env.add_template_owned(
        expr_name.clone(),
        format!("{{% set __value = ({inner}) %}}"),
    ) {
        Ok(()) => Ok(Compiled::Expression {
            name: expr_name,
            user_src: src.into(),
            base,
        }),
        // Some exotic expression that does not survive the wrapper: render it as text.
        Err(_) => Ok(Compiled::Render(name.to_owned())),
    }
}

/// Compiles a bare expression (filters: `is_robot`, `email is endingwith "@acme.com"`).
pub(crate) fn compile_expression(
    env: &mut Environment<'static>,
    path: &str,
    name: &str,
    expr: &str,
    known: &Known,
) -> Result<Compiled, ConfigError> {
    if expr.trim().is_empty() {
        return Err(ConfigError::new(path, "the expression is empty"));
    }
    // Syntax errors with positions in the user's own text.
    if let Err(e) = env.compile_expression(expr) {
        return Err(config_error(path, &e, expr));
    }
    let src = format!("{{{{ {expr} }}}}");
    let shift = 3;
    env.add_template_owned(name.to_owned(), src.clone())
        .map_err(|e| config_error(path, &e, &src))?;
    check_names(env, path, name, &src, known).map_err(|mut e| {
        if let Some(p) = e.position {
            e.position = Some(Position::at(expr, p.offset.saturating_sub(shift)));
        }
        e
    })?;
    if is_identifier(expr.trim()) {
        return Ok(Compiled::Variable(expr.trim().to_owned()));
    }
    let expr_name = format!("{name}#expr");
    env.add_template_owned(expr_name.clone(), format!("{{% set __value = ({expr}) %}}"))
        .map_err(|e| ConfigError::new(path, describe(&e)))?;
    Ok(Compiled::Expression {
        name: expr_name,
        user_src: expr.into(),
        base: 0,
    })
}

/// Evaluates a compiled template against a record. The error is a message for the report.
pub(crate) fn eval(
    env: &Environment<'static>,
    compiled: &Compiled,
    view: &RecordView,
) -> Result<Value, String> {
    match compiled {
        Compiled::Constant(v) => Ok(v.clone()),
        Compiled::Variable(name) => Ok(view.lookup(name).unwrap_or_default()),
        Compiled::Expression { .. } => from_jinja(&eval_expression(env, compiled, view)?),
        Compiled::Render(name) => {
            let tmpl = env.get_template(name).map_err(|e| describe(&e))?;
            tmpl.render(view.to_jinja())
                .map(Value::from)
                .map_err(|e| render_error(&e, tmpl.source(), 0, tmpl.source(), 0))
        }
    }
}

/// Evaluates a compiled expression to true or false.
pub(crate) fn eval_bool(
    env: &Environment<'static>,
    compiled: &Compiled,
    view: &RecordView,
) -> Result<bool, String> {
    match compiled {
        Compiled::Expression { .. } => Ok(eval_expression(env, compiled, view)?.is_true()),
        other => eval(env, other, view).map(|v| truthy(&v)),
    }
}

/// Length of the `{% set __value = (` wrapper prefix.
const WRAPPER_PREFIX: usize = 18;

fn eval_expression(
    env: &Environment<'static>,
    compiled: &Compiled,
    view: &RecordView,
) -> Result<minijinja::Value, String> {
    let Compiled::Expression {
        name,
        user_src,
        base,
    } = compiled
    else {
        return Err("not an expression".to_owned());
    };
    let tmpl = env.get_template(name).map_err(|e| describe(&e))?;
    let captured = tmpl
        .render_captured(view.to_jinja())
        .map_err(|e| render_error(&e, tmpl.source(), WRAPPER_PREFIX, user_src, *base))?;
    Ok(captured.state().lookup("__value").unwrap_or_default())
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Int(n) => *n != 0,
        Value::Float(f) => *f != 0.0,
        Value::Timestamp(_) => true,
        Value::String(s) => !s.is_empty(),
        Value::List(l) => !l.is_empty(),
    }
}

/// A run-time error message with the position in the user's text: the error's range in
/// the evaluated template `src` starts `shift` bytes before the user's expression, which
/// itself starts at `base` in `user_src`.
fn render_error(
    err: &minijinja::Error,
    src: &str,
    shift: usize,
    user_src: &str,
    base: usize,
) -> String {
    let mut msg = describe(err);
    if let Some(r) = err.range() {
        let offset = (base + r.start.saturating_sub(shift)).min(user_src.len());
        let shown = src.get(r.clone()).unwrap_or_default();
        let _ = fmt::Write::write_fmt(
            &mut msg,
            format_args!(" at {} (`{shown}`)", Position::at(user_src, offset)),
        );
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split() {
        assert_eq!(split_name("Ada King Lovelace"), ("Ada", "King Lovelace"));
        assert_eq!(split_name("Lovelace, Ada"), ("Ada", "Lovelace"));
        assert_eq!(split_name(" Cher "), ("Cher", ""));
    }

    #[test]
    fn single_expression_detection() {
        assert_eq!(single_expression("{{ a }}"), Some((2, " a ")));
        assert_eq!(
            single_expression(" {{- a | lower -}} "),
            Some((4, " a | lower "))
        );
        assert_eq!(single_expression("x {{ a }}"), None);
        assert_eq!(single_expression("{{ a }} {{ b }}"), None);
    }

    #[test]
    fn words_found_whole() {
        assert_eq!(find_word("{{ names | name }}", "name"), None);
        assert_eq!(find_word("{{ names ~ name }}", "name"), Some(11));
        assert_eq!(find_word("{{ x.name ~ name }}", "name"), Some(12));
    }

    #[test]
    fn conversions_round_trip() {
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::Int(-4),
            Value::Float(2.5),
            Value::string("x"),
            Value::List(vec![Value::Int(1), Value::string("a")]),
        ];
        for v in values {
            assert_eq!(from_jinja(&to_jinja(&v)).expect("converts"), v);
        }
        let t = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(
            from_jinja(&to_jinja(&Value::Timestamp(t))).expect("converts"),
            Value::string("1970-01-01T00:00:00Z")
        );
    }
}
