//! The configuration file (TOML, contract in `docs/configuration.md`).
//!
//! The runtime reads its own sections (`[integration]`, `[schedule]`, `[mapping]`,
//! `[filters]`, `[run]`); each connector's section (`[quip]`, `[oomnitza]`, …) is read by
//! that connector's factory, which the [`Pairing`](crate::Pairing) names. Loading never
//! sends a request: it parses, fills defaults and checks every value it can check offline.
//! Values are parsed once into typed values; errors name the file, the line and column,
//! and the key, and every problem found is reported at once.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
pub use sync_engine::settings::{ByteSize, HttpUrl, HumanDuration, Problem};
use toml::de::DeTable;

use crate::connector::{Pairing, SourceSection, TargetSection};

/// A configuration error, with the place it refers to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line and column, when the error has a place in the file.
    pub position: Option<(usize, usize)>,
    /// The key path, e.g. `mapping.users.fields.full_name`, when known.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        f.write_str(": ")?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in a configuration file, in file order (at least one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(Vec<ConfigError>);

impl ConfigErrors {
    /// The problems, in file order.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    /// The first problem.
    pub fn first(&self) -> &ConfigError {
        &self.0[0]
    }

    /// The problems in file order, or `None` when there are none.
    pub fn from_errors(mut errors: Vec<ConfigError>) -> Option<Self> {
        errors.sort_by_key(|e| e.position.unwrap_or((usize::MAX, 0)));
        errors.dedup();
        (!errors.is_empty()).then_some(ConfigErrors(errors))
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

impl fmt::Display for ConfigErrors {
    /// One problem per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// What is synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// People only.
    #[default]
    Users,
    /// People, and SaaS users of the application with role and last activity.
    UsersAndSaas,
}

impl Mode {
    /// The name used in the configuration and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Users => "users",
            Mode::UsersAndSaas => "users_and_saas",
        }
    }
}

/// `[integration]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntegrationSection {
    /// Name, shown in reports and used to key local state; the pairing's default when
    /// absent (see [`Config::name`]).
    pub name: Option<String>,
    /// `users` or `users_and_saas`.
    pub mode: Mode,
    /// `create_and_update`, `create_only` or `update_only`.
    pub preference: sync_engine::Preference,
    /// Who hears about failed runs (cloud service).
    pub contacts: Vec<String>,
    /// `[integration.deactivate]`
    pub deactivate: DeactivateSection,
}

impl Default for IntegrationSection {
    fn default() -> Self {
        IntegrationSection {
            name: None,
            mode: Mode::default(),
            preference: sync_engine::Preference::CreateAndUpdate,
            contacts: Vec::new(),
            deactivate: DeactivateSection::default(),
        }
    }
}

/// `[integration.deactivate]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeactivateSection {
    /// Deactivate people and seats that left or were disabled in the source.
    pub enabled: bool,
    /// Hold deactivations above this many records (per collection); `false` for no limit.
    #[serde(with = "switch")]
    pub max_count: Option<u64>,
    /// ...or above this share (percent) of the records this integration owns; `false` for
    /// no limit.
    #[serde(with = "switch")]
    pub max_percent: Option<f64>,
    /// Allow deactivations when the source returned no users at all (normally a sign of
    /// trouble).
    pub allow_empty_source: bool,
    /// The idle-seat policy (users_and_saas mode): deactivate the seat, never the person,
    /// of a user whose last activity is known and older than this, e.g. `"120d"`; `false`
    /// (the default) for off.
    #[serde(with = "switch")]
    pub idle_seats_after: Option<HumanDuration>,
    /// Roles whose seats the idle-seat policy keeps.
    pub idle_exclude_roles: Vec<String>,
}

impl Default for DeactivateSection {
    fn default() -> Self {
        DeactivateSection {
            enabled: true,
            max_count: Some(50),
            max_percent: Some(10.0),
            allow_empty_source: false,
            idle_seats_after: None,
            idle_exclude_roles: sync_engine::DEFAULT_IDLE_EXCLUDE_ROLES
                .map(str::to_owned)
                .to_vec(),
        }
    }
}

pub use sync_engine::settings::switch;

/// `[schedule]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleSection {
    /// Interval between runs, e.g. `1d`, `12h`, `30m`.
    pub every: HumanDuration,
    /// Time of day (`HH:MM`) the runs are aligned to; `false` for none (runs then follow
    /// every `every` from when the loop starts).
    #[serde(with = "switch")]
    pub at: Option<TimeOfDay>,
    /// `UTC` or a fixed offset such as `+02:00`.
    pub timezone: UtcOffset,
}

impl Default for ScheduleSection {
    fn default() -> Self {
        ScheduleSection {
            every: HumanDuration::from_secs(86_400),
            at: Some(TimeOfDay(120)),
            timezone: UtcOffset(0),
        }
    }
}

/// A time of day, `HH:MM`, as minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(u32);

impl TimeOfDay {
    /// Parses `HH:MM`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("\"{text}\" is not a time of day; use HH:MM, e.g. \"02:00\"");
        let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
        let h: u32 = h.parse().map_err(|_| bad())?;
        let m: u32 = m.parse().map_err(|_| bad())?;
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(TimeOfDay(h * 60 + m))
    }

    /// Minutes after midnight.
    pub fn minutes(self) -> u32 {
        self.0
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// A fixed offset from UTC, in seconds east: `UTC`, `Z`, `+02:00`, `-05:30`. Named zones
/// are refused, so a daylight-saving change never moves runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcOffset(i32);

impl UtcOffset {
    /// Parses `UTC`, `Z` or `±HH:MM` (at most 14 hours).
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(UtcOffset(0));
        }
        let bad = || {
            format!(
                "\"{text}\" is not supported; use \"UTC\" or a fixed offset such as \"+02:00\" \
                 (named zones are not supported, so a daylight-saving change does not move runs)"
            )
        };
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'+') => (1, &t[1..]),
            Some(b'-') => (-1, &t[1..]),
            _ => return Err(bad()),
        };
        let minutes = TimeOfDay::parse(rest).map_err(|_| bad())?.minutes();
        if minutes > 14 * 60 {
            return Err(bad());
        }
        Ok(UtcOffset(
            sign * i32::try_from(minutes * 60).map_err(|_| bad())?,
        ))
    }

    /// Seconds east of UTC.
    pub fn seconds(self) -> i32 {
        self.0
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("UTC");
        }
        let sign = if self.0 < 0 { '-' } else { '+' };
        let m = self.0.unsigned_abs() / 60;
        write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
    }
}

/// Serde for the text forms of [`TimeOfDay`] and [`UtcOffset`].
macro_rules! text_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                <$t>::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}
text_serde!(TimeOfDay);
text_serde!(UtcOffset);

/// `source` → `target` key pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPair {
    /// Source field.
    pub source: String,
    /// Target field.
    pub target: String,
}

/// `[mapping.users]` / `[mapping.saas_users]`; every key optional (defaults per collection).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingSection {
    /// Source field → unique target field that identifies a record.
    pub sync_key: Option<KeyPair>,
    /// Keys that adopt an existing unowned record instead of creating a duplicate.
    pub fallback_keys: Option<Vec<KeyPair>>,
    /// Target field → template or constant. Replaces the default field set when given.
    pub fields: Option<BTreeMap<String, toml::Value>>,
    /// Target fields compared without regard to case.
    pub case_insensitive: Option<Vec<String>>,
}

/// `[mapping]`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingsSection {
    /// People.
    pub users: MappingSection,
    /// SaaS users.
    pub saas_users: MappingSection,
}

/// `[filters]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FiltersSection {
    /// Keep only records matching one of these (all when empty).
    pub include: Vec<String>,
    /// Drop records matching any of these.
    pub exclude: Vec<String>,
}

impl Default for FiltersSection {
    fn default() -> Self {
        FiltersSection {
            include: Vec::new(),
            exclude: vec!["is_robot".to_owned()],
        }
    }
}

/// `[run]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSection {
    /// Batches applied at once.
    pub concurrency: usize,
    /// Changes per batch.
    pub batch_size: usize,
}

impl Default for RunSection {
    fn default() -> Self {
        RunSection {
            concurrency: 4,
            batch_size: 100,
        }
    }
}

/// `[insights]`: what seat usage reports need besides the target's data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InsightsSection {
    /// Yearly price of one seat, used when the target's application records no
    /// `annual_spend` and `total_licenses`.
    pub price_per_seat: Option<f64>,
}

/// The sections the runtime reads itself; connector sections are read by their factories.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RuntimeSections {
    /// `[integration]`
    pub integration: IntegrationSection,
    /// `[schedule]`
    pub schedule: ScheduleSection,
    /// `[mapping]`
    pub mapping: MappingsSection,
    /// `[filters]`
    pub filters: FiltersSection,
    /// `[run]`
    pub run: RunSection,
    /// `[insights]`
    pub insights: InsightsSection,
}

impl RuntimeSections {
    /// Reads each section on its own, so that a problem in one does not hide problems in
    /// the others; `None` when any failed (its error is in `errors`).
    fn load(doc: &ConfigDoc<'_>, errors: &mut Vec<ConfigError>) -> Option<Self> {
        fn read<T: DeserializeOwned + Default>(
            doc: &ConfigDoc<'_>,
            name: &str,
            errors: &mut Vec<ConfigError>,
        ) -> Option<T> {
            doc.section(name).map_err(|e| errors.push(e)).ok()
        }
        let integration = read(doc, "integration", errors);
        let schedule = read(doc, "schedule", errors);
        let mapping = read(doc, "mapping", errors);
        let filters = read(doc, "filters", errors);
        let run = read(doc, "run", errors);
        let insights: Option<InsightsSection> = read(doc, "insights", errors);
        if let Some(price) = insights.as_ref().and_then(|i| i.price_per_seat)
            && !(price.is_finite() && price >= 0.0)
        {
            errors.push(doc.error_at(
                "insights.price_per_seat",
                format!("must be a number of zero or more, got {price}"),
            ));
        }
        if let Some(integration) = &integration {
            errors.extend(check_integration(doc, integration));
        }
        if let Some(run) = &run {
            errors.extend(check_run(doc, run));
        }
        Some(RuntimeSections {
            integration: integration?,
            schedule: schedule?,
            mapping: mapping?,
            filters: filters?,
            run: run?,
            insights: insights?,
        })
    }
}

/// The names of the runtime's own sections, in the order the contract lists them.
const RUNTIME_SECTIONS: [&str; 6] = [
    "integration",
    "schedule",
    "mapping",
    "filters",
    "run",
    "insights",
];

/// A configuration file being loaded, as connector factories see it: read a section into
/// its own type, and place problems in the file. The text is parsed once; sections and
/// error positions come from that one parse.
#[derive(Debug)]
pub struct ConfigDoc<'a> {
    path: &'a Path,
    text: &'a str,
    root: Result<toml::Spanned<DeTable<'a>>, toml::de::Error>,
}

impl<'a> ConfigDoc<'a> {
    /// The document at `path` with this text.
    pub fn new(path: &'a Path, text: &'a str) -> Self {
        ConfigDoc {
            path,
            text,
            root: DeTable::parse(text),
        }
    }

    /// The parsed top-level table, when the text is TOML.
    fn table(&self) -> Option<&DeTable<'a>> {
        self.root.as_ref().ok().map(toml::Spanned::get_ref)
    }

    /// Reads section `name` into `T` (its `Default` when the file has no such section).
    /// A value of the wrong type, or a key `T` does not know (`deny_unknown_fields`), is an
    /// error placed at its line and column.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, ConfigError> {
        let root = self.root.as_ref().map_err(|e| self.toml_error(e))?;
        match root.get_ref().get(name) {
            None => Ok(T::default()),
            Some(value) => T::deserialize(toml::de::ValueDeserializer::from(value.clone()))
                .map_err(|e| self.toml_error(&e)),
        }
    }

    /// An error about `key` (a dotted path), placed at that key in the file when present,
    /// else at its closest enclosing table.
    pub fn error_at(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let parts = split_key(key);
        let position = self
            .table()
            .and_then(|root| span_of(root, &parts))
            .map(|s| line_col(self.text, s.start));
        ConfigError {
            file: self.path.to_owned(),
            position,
            key: Some(key.to_owned()),
            message: message.into(),
        }
    }

    /// `problems` of section `section`, placed in the file.
    pub fn problems(&self, section: &str, problems: Vec<Problem>) -> Vec<ConfigError> {
        problems
            .into_iter()
            .map(|p| self.error_at(&format!("{section}.{}", p.key), p.message))
            .collect()
    }

    fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let position = e.span().map(|s| line_col(self.text, s.start));
        let key = e
            .span()
            .and_then(|s| self.table().and_then(|root| key_at(root, &s)));
        ConfigError {
            file: self.path.to_owned(),
            position,
            key,
            message: e.message().trim().to_owned(),
        }
    }

    /// Top-level keys that are neither a runtime section nor one of `connectors`.
    fn unknown_sections(&self, connectors: &[&str]) -> Vec<ConfigError> {
        let Some(root) = self.table() else {
            return Vec::new();
        };
        let known: Vec<&str> = RUNTIME_SECTIONS
            .iter()
            .take(2)
            .chain(connectors)
            .chain(RUNTIME_SECTIONS.iter().skip(2))
            .copied()
            .collect();
        let expected = known
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        root.iter()
            .filter(|(key, _)| !known.contains(&key.get_ref().as_ref()))
            .map(|(key, _)| ConfigError {
                file: self.path.to_owned(),
                position: Some(line_col(self.text, key.span().start)),
                key: Some(key.get_ref().to_string()),
                message: format!(
                    "unknown field `{}`, expected one of {expected}",
                    key.get_ref()
                ),
            })
            .collect()
    }
}

/// A loaded, checked configuration: the runtime's sections, the connectors' parsed
/// sections, and the text it came from (for error positions).
#[derive(Clone)]
pub struct Config {
    /// Where it was read from.
    pub path: PathBuf,
    /// The runtime's sections, defaults filled in.
    pub file: RuntimeSections,
    /// The source connector's section.
    pub source: Arc<dyn SourceSection>,
    /// The target connector's section.
    pub target: Arc<dyn TargetSection>,
    /// What connects the two (defaults, names).
    pub pairing: &'static Pairing,
    text: String,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("path", &self.path)
            .field("file", &self.file)
            .field("source", &self.source)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads and checks `path` for `pairing`.
    pub fn load(path: &Path, pairing: &'static Pairing) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            position: None,
            key: None,
            message: format!("cannot read the configuration file: {e}"),
        })?;
        Config::parse(path, text, pairing)
    }

    /// Checks `text` as if read from `path`. Every problem found is returned, in file
    /// order: one per section that does not parse, and every value that is out of range.
    pub fn parse(
        path: &Path,
        text: String,
        pairing: &'static Pairing,
    ) -> Result<Config, ConfigErrors> {
        let doc = ConfigDoc::new(path, &text);
        let (source_name, target_name) = (pairing.source.section(), pairing.target.section());
        let mut errors = doc.unknown_sections(&[source_name, target_name]);
        let file = RuntimeSections::load(&doc, &mut errors);
        let source = pairing.source.load(&doc).map_err(|e| errors.extend(e)).ok();
        let target = pairing.target.load(&doc).map_err(|e| errors.extend(e)).ok();
        if let Some(errors) = ConfigErrors::from_errors(errors) {
            return Err(errors);
        }
        let (Some(file), Some(source), Some(target)) = (file, source, target) else {
            unreachable!("every part that failed left an error");
        };
        Ok(Config {
            path: path.to_owned(),
            file,
            source: source.into(),
            target: target.into(),
            pairing,
            text,
        })
    }

    /// The integration's name: `[integration] name`, else the pairing's default.
    pub fn name(&self) -> &str {
        self.file
            .integration
            .name
            .as_deref()
            .unwrap_or(self.pairing.integration_name)
    }

    /// The document, for placing errors found after loading (credentials, templates).
    pub fn doc(&self) -> ConfigDoc<'_> {
        ConfigDoc::new(&self.path, &self.text)
    }

    /// An error about `key` (a dotted path), placed at that key in the file when present.
    pub fn error_at(&self, key: &str, message: impl Into<String>) -> ConfigError {
        self.doc().error_at(key, message)
    }

    /// One warning per plain `http://` URL to another machine that a section's
    /// `allow_insecure_http` lets through: shown on every run, since the token travels in
    /// clear text.
    pub fn insecure_http_warnings(&self) -> Vec<String> {
        self.source
            .insecure_http_warnings()
            .into_iter()
            .chain(self.target.insecure_http_warnings())
            .map(|w| format!("{}: {w}", self.path.display()))
            .collect()
    }
}

/// `[integration]`'s offline checks.
fn check_integration(doc: &ConfigDoc<'_>, section: &IntegrationSection) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    if section.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        errors.push(doc.error_at("integration.name", "must not be empty"));
    }
    if let Some(p) = section.deactivate.max_percent
        && !(0.0..=100.0).contains(&p)
    {
        errors.push(doc.error_at(
            "integration.deactivate.max_percent",
            format!("must be between 0 and 100, got {p}"),
        ));
    }
    if let Some(after) = section.deactivate.idle_seats_after {
        let key = "integration.deactivate.idle_seats_after";
        if section.mode != Mode::UsersAndSaas {
            errors.push(doc.error_at(
                key,
                "reclaims seats, so it needs mode = \"users_and_saas\" (seats are not synced \
                 in mode \"users\")",
            ));
        } else if after.get() < std::time::Duration::from_secs(86_400) {
            errors.push(doc.error_at(key, format!("must be at least 1d, got {after}")));
        }
    }
    errors
}

/// `[run]`'s offline checks.
fn check_run(doc: &ConfigDoc<'_>, section: &RunSection) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    if section.concurrency == 0 {
        errors.push(doc.error_at("run.concurrency", "must be at least 1"));
    }
    if !(1..=1000).contains(&section.batch_size) {
        errors.push(doc.error_at("run.batch_size", "must be between 1 and 1000"));
    }
    errors
}

/// 1-based line and column of byte `offset`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Splits `a.b.c[2]` into `(a, None), (b, None), (c, Some(2))`. Our keys never contain
/// dots, so a plain split suffices.
fn split_key(key: &str) -> Vec<(&str, Option<usize>)> {
    key.split('.')
        .map(|part| match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse().ok()),
            None => (part, None),
        })
        .collect()
}

/// The span of the key (or array element) at `path`; when the full path is absent, the
/// span of its longest present prefix.
fn span_of(root: &DeTable<'_>, path: &[(&str, Option<usize>)]) -> Option<Range<usize>> {
    use toml::de::DeValue;
    let mut table = root;
    let mut span = None;
    for (i, (part, index)) in path.iter().enumerate() {
        let Some((key, value)) = table.get_key_value(*part) else {
            return span;
        };
        span = Some(key.span());
        if let (Some(n), DeValue::Array(items)) = (index, value.get_ref()) {
            if let Some(item) = items.get(*n) {
                span = Some(item.span());
            }
            return span;
        }
        if i + 1 == path.len() {
            break;
        }
        match value.get_ref() {
            DeValue::Table(t) => table = t,
            _ => return span,
        }
    }
    span
}

/// The dotted key whose key or value contains `span`, if any (for parse errors).
fn key_at(root: &DeTable<'_>, span: &Range<usize>) -> Option<String> {
    use toml::de::DeValue;
    fn walk(table: &DeTable<'_>, span: &Range<usize>, prefix: &mut Vec<String>) -> Option<String> {
        let hit = |s: &Range<usize>| s.start <= span.start && span.start < s.end.max(s.start + 1);
        for (key, value) in table {
            prefix.push(key.get_ref().to_string());
            // Table spans may cover only their header: always look inside.
            if let DeValue::Table(t) = value.get_ref()
                && let Some(found) = walk(t, span, prefix)
            {
                return Some(found);
            }
            if hit(&key.span()) || hit(&value.span()) {
                return Some(prefix.join("."));
            }
            prefix.pop();
        }
        None
    }
    walk(root, span, &mut Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_times() {
        let offset = |t: &str| UtcOffset::parse(t).map(UtcOffset::seconds);
        assert_eq!(offset("UTC"), Ok(0));
        assert_eq!(offset("+02:00"), Ok(7200));
        assert_eq!(offset("-05:30"), Ok(-19800));
        assert!(offset("Europe/Paris").is_err());
        assert!(offset("+15:00").is_err());
        assert_eq!(UtcOffset::parse("-05:30").unwrap().to_string(), "-05:30");
        assert_eq!(TimeOfDay::parse("02:30").map(TimeOfDay::minutes), Ok(150));
        assert_eq!(TimeOfDay::parse("2:05").unwrap().to_string(), "02:05");
        assert!(TimeOfDay::parse("24:00").is_err());
    }

    #[test]
    fn keys_are_found_in_the_text() {
        let text = "[integration]\nname = \"x\"\n[mapping.users.fields]\nemail = \"{{ email }}\"\n";
        let root = DeTable::parse(text).expect("TOML");
        let root = root.get_ref();
        let span = span_of(root, &split_key("mapping.users.fields.email")).expect("span");
        assert_eq!(line_col(text, span.start), (4, 1));
        let span = span_of(root, &split_key("integration.mode")).expect("enclosing table");
        assert_eq!(line_col(text, span.start), (1, 2));
        assert_eq!(key_at(root, &(21..22)).as_deref(), Some("integration.name"));
    }
}
