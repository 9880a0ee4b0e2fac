//! The configuration file (TOML, contract in `docs/configuration.md`).
//!
//! Loading never sends a request: it parses, fills defaults and checks every value it can
//! check offline. Errors name the file, the line and column, and the key.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

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

/// Where a credential comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CredentialRef {
    /// A name in the local credential store (`quip-oomnitza credentials add NAME`).
    Store(String),
    /// An environment variable holding the secret itself.
    Env {
        /// The variable's name.
        env: String,
    },
}

impl fmt::Display for CredentialRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialRef::Store(name) => write!(f, "credential store entry \"{name}\""),
            CredentialRef::Env { env } => write!(f, "environment variable {env}"),
        }
    }
}

impl CredentialRef {
    /// The name shown as "Connect: Credentials" in mappings.
    pub fn display_name(&self) -> &str {
        match self {
            CredentialRef::Store(name) => name,
            CredentialRef::Env { env } => env,
        }
    }
}

/// What is synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// People only.
    #[default]
    Users,
    /// People, and SaaS users of the Quip application with role and last activity.
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
    /// Name, shown in reports and used to key local state.
    pub name: String,
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
            name: "Quip users".to_owned(),
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
    /// Deactivate people and seats that left or were disabled in Quip.
    pub enabled: bool,
    /// Hold deactivations above this many records (per collection).
    pub max_count: Option<u64>,
    /// ...or above this share (percent) of the records this integration owns.
    pub max_percent: Option<f64>,
    /// Allow deactivations when Quip returned no users at all (normally a sign of trouble).
    pub allow_empty_source: bool,
}

impl Default for DeactivateSection {
    fn default() -> Self {
        DeactivateSection {
            enabled: true,
            max_count: Some(50),
            max_percent: Some(10.0),
            allow_empty_source: false,
        }
    }
}

/// `[schedule]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleSection {
    /// Interval between runs, e.g. `1d`, `12h`, `30m`.
    pub every: String,
    /// Time of day (`HH:MM`) of the first run; runs then follow every `every`.
    pub at: Option<String>,
    /// `UTC` or a fixed offset such as `+02:00`.
    pub timezone: String,
}

impl Default for ScheduleSection {
    fn default() -> Self {
        ScheduleSection {
            every: "1d".to_owned(),
            at: Some("02:00".to_owned()),
            timezone: "UTC".to_owned(),
        }
    }
}

/// How users are listed in Quip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Listing {
    /// SCIM `GET /2/Users` (Enterprise, SCIM token).
    #[default]
    Scim,
    /// Admin API `POST /1/admin/users/list` (admin token).
    Admin,
}

/// `[quip]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuipSection {
    /// Platform API host (VPC sites have their own).
    pub base_url: String,
    /// SCIM host.
    pub scim_url: String,
    /// `scim` or `admin`.
    pub listing: Listing,
    /// The API token (an admin's); required.
    pub credential: Option<CredentialRef>,
    /// A separate SCIM token, when SCIM listing uses one.
    pub scim_credential: Option<CredentialRef>,
    /// Company id; read from `/1/users/current` when absent.
    pub company_id: Option<String>,
    /// Look up admin roles through the Admin API (unconfirmed endpoint; falls back to `admins`).
    pub admin_role_endpoint: bool,
    /// Quip ids or emails of admins, when the admin-role endpoint is unavailable.
    pub admins: Vec<String>,
    /// Role reported for everyone else.
    pub default_role: String,
    /// Read last activity from Events API `login` events (paid add-on; absent when unavailable).
    pub last_activity: bool,
    /// How far back to look for login events, e.g. `90d`.
    pub events_lookback: String,
    /// Per-request timeout, e.g. `30s`.
    pub timeout: String,
    /// Cap on the total time spent waiting on rate limits and retries per run, e.g. `15m`.
    pub max_wait: String,
    /// Largest response body accepted, e.g. `"64MiB"` or a number of bytes.
    pub max_response_bytes: ByteSize,
    /// Most pages one listing or Events cursor may take.
    pub max_pages: u64,
    /// Accept plain `http://` URLs to hosts other than this machine (tokens in clear text).
    pub allow_insecure_http: bool,
}

impl Default for QuipSection {
    fn default() -> Self {
        QuipSection {
            base_url: "https://platform.quip.com".to_owned(),
            scim_url: "https://scim.quip.com".to_owned(),
            listing: Listing::Scim,
            credential: None,
            scim_credential: None,
            company_id: None,
            admin_role_endpoint: true,
            admins: Vec::new(),
            default_role: "Member".to_owned(),
            last_activity: true,
            events_lookback: "90d".to_owned(),
            timeout: "30s".to_owned(),
            max_wait: "15m".to_owned(),
            max_response_bytes: ByteSize::default(),
            max_pages: 10_000,
            allow_insecure_http: false,
        }
    }
}

/// A size in bytes: a number of bytes, or text with a unit (`"64MiB"`, `"512 KiB"`,
/// `"1GB"`; `KiB`/`MiB`/`GiB` are powers of 1024, `KB`/`MB`/`GB` powers of 1000).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ByteSize {
    /// A number of bytes.
    Bytes(u64),
    /// Text with a unit.
    Text(String),
}

impl Default for ByteSize {
    fn default() -> Self {
        ByteSize::Text("64MiB".to_owned())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    /// A clearer message than an untagged enum's "did not match any variant".
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of bytes or a size such as \"64MiB\"")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<ByteSize, E> {
                Ok(ByteSize::Bytes(n))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<ByteSize, E> {
                u64::try_from(n).map(ByteSize::Bytes).map_err(|_| {
                    E::custom(format!("{n} is not a size: it must be at least 1 byte"))
                })
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ByteSize, E> {
                Ok(ByteSize::Text(text.to_owned()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl ByteSize {
    /// The size in bytes (at least 1).
    pub fn bytes(&self) -> Result<u64, String> {
        let n = match self {
            ByteSize::Bytes(n) => *n,
            ByteSize::Text(text) => parse_size(text)?,
        };
        if n == 0 {
            return Err("must be at least 1 byte".to_owned());
        }
        Ok(n)
    }
}

/// Parses `64MiB`, `512 KiB`, `1GB`, `1000`.
fn parse_size(text: &str) -> Result<u64, String> {
    let bad =
        || format!("\"{text}\" is not a size; use e.g. \"64MiB\", \"512KiB\" or a number of bytes");
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(bad()),
    };
    n.checked_mul(factor).ok_or_else(bad)
}

/// How writes reach Oomnitza.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WriteStrategy {
    /// Per-record REST calls with exact per-record outcomes.
    #[default]
    Rest,
    /// Connector portions (`/api/v3/bulk`), visible in Oomnitza's own sync sessions.
    Bulk,
}

/// `[oomnitza]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OomnitzaSection {
    /// `https://<tenant>.oomnitza.com`; required.
    pub base_url: Option<String>,
    /// The API token (sent as `Authorization2`); required.
    pub credential: Option<CredentialRef>,
    /// The SaaS application's name.
    pub saas_name: String,
    /// `rest` or `bulk`.
    pub write_strategy: WriteStrategy,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// People field that marks a person inactive (unconfirmed in Oomnitza's docs).
    pub deactivate_field: String,
    /// Its value for an inactive person.
    pub deactivate_value: toml::Value,
    /// Its value for an active person.
    pub activate_value: toml::Value,
    /// Connector name for bulk portions.
    pub connector_name: String,
    /// Per-request timeout, e.g. `30s`.
    pub timeout: String,
    /// Cap on the time one request spends waiting between retries (429, 5xx, timeouts).
    pub max_wait: String,
    /// Largest response body accepted, e.g. `"64MiB"` or a number of bytes.
    pub max_response_bytes: ByteSize,
    /// Most pages one listing may take.
    pub max_pages: u64,
    /// Accept a plain `http://` URL to a host other than this machine (token in clear text).
    pub allow_insecure_http: bool,
}

impl Default for OomnitzaSection {
    fn default() -> Self {
        OomnitzaSection {
            base_url: None,
            credential: None,
            saas_name: "Quip".to_owned(),
            write_strategy: WriteStrategy::Rest,
            concurrency: 8,
            deactivate_field: "suspended".to_owned(),
            deactivate_value: toml::Value::Boolean(true),
            activate_value: toml::Value::Boolean(false),
            connector_name: "quip-oomnitza".to_owned(),
            timeout: "30s".to_owned(),
            max_wait: "2m".to_owned(),
            max_response_bytes: ByteSize::default(),
            max_pages: 1000,
            allow_insecure_http: false,
        }
    }
}

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

/// The whole file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    /// `[integration]`
    pub integration: IntegrationSection,
    /// `[schedule]`
    pub schedule: ScheduleSection,
    /// `[quip]`
    pub quip: QuipSection,
    /// `[oomnitza]`
    pub oomnitza: OomnitzaSection,
    /// `[mapping]`
    pub mapping: MappingsSection,
    /// `[filters]`
    pub filters: FiltersSection,
    /// `[run]`
    pub run: RunSection,
}

/// A loaded, checked configuration and the text it came from (for error positions).
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from.
    pub path: PathBuf,
    /// The values, defaults filled in.
    pub file: ConfigFile,
    text: String,
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            position: None,
            key: None,
            message: format!("cannot read the configuration file: {e}"),
        })?;
        Config::parse(path, text)
    }

    /// Checks `text` as if read from `path`.
    pub fn parse(path: &Path, text: String) -> Result<Config, ConfigError> {
        let file: ConfigFile = toml::from_str(&text).map_err(|e| {
            let position = e.span().map(|s| line_col(&text, s.start));
            let key = e.span().and_then(|s| key_at(&text, &s));
            ConfigError {
                file: path.to_owned(),
                position,
                key,
                message: e.message().trim().to_owned(),
            }
        })?;
        let config = Config {
            path: path.to_owned(),
            file,
            text,
        };
        config.check()?;
        Ok(config)
    }

    /// An error about `key` (a dotted path), placed at that key in the file when present.
    pub fn error_at(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let parts = split_key(key);
        let position = span_of(&self.text, &parts).map(|s| line_col(&self.text, s.start));
        ConfigError {
            file: self.path.clone(),
            position,
            key: Some(key.to_owned()),
            message: message.into(),
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        let f = &self.file;
        if f.integration.name.trim().is_empty() {
            return Err(self.error_at("integration.name", "must not be empty"));
        }
        if let Some(p) = f.integration.deactivate.max_percent
            && !(0.0..=100.0).contains(&p)
        {
            return Err(self.error_at(
                "integration.deactivate.max_percent",
                format!("must be between 0 and 100, got {p}"),
            ));
        }
        parse_duration(&f.schedule.every).map_err(|m| self.error_at("schedule.every", m))?;
        if let Some(at) = &f.schedule.at {
            parse_time_of_day(at).map_err(|m| self.error_at("schedule.at", m))?;
        }
        parse_utc_offset(&f.schedule.timezone)
            .map_err(|m| self.error_at("schedule.timezone", m))?;
        check_url(&f.quip.base_url).map_err(|m| self.error_at("quip.base_url", m))?;
        check_url(&f.quip.scim_url).map_err(|m| self.error_at("quip.scim_url", m))?;
        if f.quip.credential.is_none() {
            return Err(self.error_at(
                "quip.credential",
                "missing: name a stored credential (credential = \"quip\") or an environment \
                 variable (credential = { env = \"QUIP_TOKEN\" })",
            ));
        }
        check_plain_http(&f.quip.base_url, f.quip.allow_insecure_http, "quip")
            .map_err(|m| self.error_at("quip.base_url", m))?;
        check_plain_http(&f.quip.scim_url, f.quip.allow_insecure_http, "quip")
            .map_err(|m| self.error_at("quip.scim_url", m))?;
        f.quip
            .max_response_bytes
            .bytes()
            .map_err(|m| self.error_at("quip.max_response_bytes", m))?;
        if f.quip.max_pages == 0 {
            return Err(self.error_at("quip.max_pages", "must be at least 1"));
        }
        for key in ["quip.events_lookback", "quip.timeout", "quip.max_wait"] {
            let value = match key {
                "quip.events_lookback" => &f.quip.events_lookback,
                "quip.timeout" => &f.quip.timeout,
                _ => &f.quip.max_wait,
            };
            parse_duration(value).map_err(|m| self.error_at(key, m))?;
        }
        match &f.oomnitza.base_url {
            None => {
                return Err(self.error_at(
                    "oomnitza.base_url",
                    "missing: set it to your tenant, e.g. \"https://acme.oomnitza.com\"",
                ));
            }
            Some(url) => {
                check_url(url).map_err(|m| self.error_at("oomnitza.base_url", m))?;
                check_plain_http(url, f.oomnitza.allow_insecure_http, "oomnitza")
                    .map_err(|m| self.error_at("oomnitza.base_url", m))?;
            }
        }
        f.oomnitza
            .max_response_bytes
            .bytes()
            .map_err(|m| self.error_at("oomnitza.max_response_bytes", m))?;
        if !(1..=u64::from(u32::MAX)).contains(&f.oomnitza.max_pages) {
            return Err(self.error_at(
                "oomnitza.max_pages",
                format!("must be between 1 and {}", u32::MAX),
            ));
        }
        if f.oomnitza.credential.is_none() {
            return Err(self.error_at(
                "oomnitza.credential",
                "missing: name a stored credential or { env = \"OOMNITZA_TOKEN\" }",
            ));
        }
        parse_duration(&f.oomnitza.timeout).map_err(|m| self.error_at("oomnitza.timeout", m))?;
        parse_duration(&f.oomnitza.max_wait).map_err(|m| self.error_at("oomnitza.max_wait", m))?;
        if f.oomnitza.concurrency == 0 {
            return Err(self.error_at("oomnitza.concurrency", "must be at least 1"));
        }
        if f.oomnitza.saas_name.trim().is_empty() {
            return Err(self.error_at("oomnitza.saas_name", "must not be empty"));
        }
        if f.run.concurrency == 0 {
            return Err(self.error_at("run.concurrency", "must be at least 1"));
        }
        if !(1..=1000).contains(&f.run.batch_size) {
            return Err(self.error_at("run.batch_size", "must be between 1 and 1000"));
        }
        Ok(())
    }
}

impl Config {
    /// One warning per plain `http://` URL to another machine that `allow_insecure_http`
    /// lets through: shown on every run, since the token travels in clear text.
    pub fn insecure_http_warnings(&self) -> Vec<String> {
        let f = &self.file;
        let mut urls = vec![
            ("quip.base_url", f.quip.base_url.as_str()),
            ("quip.scim_url", f.quip.scim_url.as_str()),
        ];
        if let Some(url) = &f.oomnitza.base_url {
            urls.push(("oomnitza.base_url", url.as_str()));
        }
        let mut warnings = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (key, url) in urls {
            if let Some(host) = plain_http_host(url)
                && seen.insert(url)
            {
                let section = key.split('.').next().unwrap_or_default();
                warnings.push(format!(
                    "{}: {key} = {url} is plain http:// to {host}, another machine: the {section} \
                     token and people's data travel unencrypted ([{section}] allow_insecure_http \
                     = true)",
                    self.path.display()
                ));
            }
        }
        warnings
    }
}

/// The host of a plain `http://` URL when it is not this machine (`localhost`,
/// `127.0.0.0/8`, `::1`); `None` for https and for loopback.
fn plain_http_host(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (!loopback).then_some(host)
}

/// Refuses plain `http://` to another machine unless `allowed`.
fn check_plain_http(url: &str, allowed: bool, section: &str) -> Result<(), String> {
    match plain_http_host(url) {
        Some(host) if !allowed => Err(format!(
            "plain http:// to {host} would send the {section} token and people's data \
             unencrypted; use https://, or set `allow_insecure_http = true` in [{section}] to \
             accept that (plain http:// is allowed without it only to localhost, 127.0.0.0/8 \
             and ::1)"
        )),
        _ => Ok(()),
    }
}

/// Parses `1d`, `12h`, `90s`, `1h 30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        format!("\"{text}\" is not a duration ({e}); use e.g. \"30s\", \"15m\", \"1d\"")
    })?;
    if d.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    Ok(d)
}

/// Parses `HH:MM` into minutes after midnight.
pub fn parse_time_of_day(text: &str) -> Result<u32, String> {
    let bad = || format!("\"{text}\" is not a time of day; use HH:MM, e.g. \"02:00\"");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Parses `UTC`, `Z` or `+HH:MM`/`-HH:MM` into an offset in seconds east of UTC.
pub fn parse_utc_offset(text: &str) -> Result<i32, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("utc") || t == "Z" {
        return Ok(0);
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
    let minutes = parse_time_of_day(rest).map_err(|_| bad())?;
    if minutes > 14 * 60 {
        return Err(bad());
    }
    Ok(sign * i32::try_from(minutes * 60).map_err(|_| bad())?)
}

fn check_url(text: &str) -> Result<(), String> {
    let ok = (text.starts_with("https://") || text.starts_with("http://"))
        && text.len() > "https://".len()
        && !text.contains(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(format!("\"{text}\" is not an http(s) URL"))
    }
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
fn span_of(text: &str, path: &[(&str, Option<usize>)]) -> Option<Range<usize>> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
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
fn key_at(text: &str, span: &Range<usize>) -> Option<String> {
    use toml::de::{DeTable, DeValue};
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
    let root = DeTable::parse(text).ok()?;
    walk(root.get_ref(), span, &mut Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("quip-oomnitza.toml"), text.to_owned())
    }

    const MINIMAL: &str = r#"
[quip]
credential = { env = "QUIP_TOKEN" }

[oomnitza]
base_url = "https://acme.oomnitza.com"
credential = "oomnitza"
"#;

    #[test]
    fn minimal_file_gets_defaults() {
        let c = parse(MINIMAL).expect("minimal config loads");
        assert_eq!(c.file.quip.base_url, "https://platform.quip.com");
        assert_eq!(
            c.file.quip.credential,
            Some(CredentialRef::Env {
                env: "QUIP_TOKEN".into()
            })
        );
        assert_eq!(
            c.file.oomnitza.credential,
            Some(CredentialRef::Store("oomnitza".into()))
        );
        assert_eq!(c.file.integration.mode, Mode::Users);
        assert_eq!(c.file.filters.exclude, vec!["is_robot".to_owned()]);
        assert_eq!(c.file.integration.deactivate.max_count, Some(50));
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let text = format!("{MINIMAL}\n[integration]\nnmae = \"x\"\n");
        let e = parse(&text).expect_err("unknown key");
        assert_eq!(e.position.map(|p| p.0), Some(10));
        assert_eq!(e.key.as_deref(), Some("integration.nmae"));
        assert!(e.message.contains("unknown field `nmae`"), "{e}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let text = MINIMAL.replace(
            "credential = \"oomnitza\"",
            "credential = \"oomnitza\"\nconcurrency = \"eight\"",
        );
        let e = parse(&text).expect_err("wrong type");
        assert_eq!(e.key.as_deref(), Some("oomnitza.concurrency"));
        assert_eq!(e.position.map(|p| p.0), Some(8));
    }

    #[test]
    fn semantic_errors_point_at_the_key() {
        let text = format!("{MINIMAL}\n[schedule]\nevery = \"sometimes\"\n");
        let e = parse(&text).expect_err("bad duration");
        assert_eq!(e.key.as_deref(), Some("schedule.every"));
        assert_eq!(e.position, Some((10, 1)));
        let e = parse(
            "[quip]\n[oomnitza]\nbase_url = \"https://x.oomnitza.com\"\ncredential = \"o\"\n",
        )
        .expect_err("no quip credential");
        assert_eq!(e.key.as_deref(), Some("quip.credential"));
        assert_eq!(
            e.position,
            Some((1, 2)),
            "points at the [quip] table when the key is absent"
        );
    }

    #[test]
    fn plain_http_is_refused_for_other_hosts_unless_allowed() {
        for loopback in [
            "http://127.0.0.1:8080",
            "http://127.9.9.9/x",
            "http://localhost:99",
            "http://[::1]:8080/",
        ] {
            let text = MINIMAL.replace("https://acme.oomnitza.com", loopback);
            let c = parse(&text).unwrap_or_else(|e| panic!("{loopback}: {e}"));
            assert!(c.insecure_http_warnings().is_empty(), "{loopback}");
        }
        for remote in [
            "http://acme.oomnitza.com",
            "http://0.0.0.0:8080",
            "http://10.0.0.1",
            "http://[::2]/",
            "http://127.0.0.1.nip.io",
            "http://localhost.evil.example",
        ] {
            let text = MINIMAL.replace("https://acme.oomnitza.com", remote);
            let e = parse(&text).expect_err(remote);
            assert_eq!(e.key.as_deref(), Some("oomnitza.base_url"), "{remote}");
            assert_eq!(e.position.map(|p| p.0), Some(6), "{remote}");
            let shown = e.to_string();
            assert!(shown.starts_with("quip-oomnitza.toml:6:"), "{shown}");
            assert!(shown.contains("allow_insecure_http = true"), "{shown}");

            let allowed = text.replace(
                "credential = \"oomnitza\"",
                "credential = \"oomnitza\"\nallow_insecure_http = true",
            );
            let c = parse(&allowed).unwrap_or_else(|e| panic!("{remote}: {e}"));
            let warnings = c.insecure_http_warnings();
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(warnings[0].contains("oomnitza.base_url"), "{warnings:?}");
        }
        // The option is per system: Oomnitza's does not let Quip through.
        let text = "[quip]\nbase_url = \"http://quip.example\"\ncredential = \"q\"\n\
             [oomnitza]\nbase_url = \"https://a.oomnitza.com\"\ncredential = \"o\"\n\
             allow_insecure_http = true\n";
        let e = parse(text).expect_err("quip over http");
        assert_eq!(e.key.as_deref(), Some("quip.base_url"));
    }

    #[test]
    fn limits_parse_and_reject_zero() {
        let c = parse(MINIMAL).expect("defaults");
        assert_eq!(c.file.quip.max_response_bytes.bytes(), Ok(64 << 20));
        assert_eq!(c.file.oomnitza.max_pages, 1000);
        assert_eq!(c.file.quip.max_pages, 10_000);
        for (value, bytes) in [
            ("\"512KiB\"", 512 << 10),
            ("\"1 GiB\"", 1 << 30),
            ("\"2MB\"", 2_000_000),
            ("4096", 4096),
        ] {
            let text = MINIMAL.replace(
                "credential = \"oomnitza\"",
                &format!("credential = \"oomnitza\"\nmax_response_bytes = {value}"),
            );
            let c = parse(&text).unwrap_or_else(|e| panic!("{value}: {e}"));
            assert_eq!(c.file.oomnitza.max_response_bytes.bytes(), Ok(bytes));
        }
        for (line, key) in [
            (
                "max_response_bytes = \"lots\"",
                "oomnitza.max_response_bytes",
            ),
            ("max_response_bytes = 0", "oomnitza.max_response_bytes"),
            ("max_response_bytes = -5", "oomnitza.max_response_bytes"),
            ("max_response_bytes = 1.5", "oomnitza.max_response_bytes"),
            ("max_pages = 0", "oomnitza.max_pages"),
        ] {
            let text = MINIMAL.replace(
                "credential = \"oomnitza\"",
                &format!("credential = \"oomnitza\"\n{line}"),
            );
            let e = parse(&text).expect_err(line);
            assert_eq!(e.key.as_deref(), Some(key), "{line}: {e}");
        }
    }

    #[test]
    fn offsets_and_times() {
        assert_eq!(parse_utc_offset("UTC"), Ok(0));
        assert_eq!(parse_utc_offset("+02:00"), Ok(7200));
        assert_eq!(parse_utc_offset("-05:30"), Ok(-19800));
        assert!(parse_utc_offset("Europe/Paris").is_err());
        assert_eq!(parse_time_of_day("02:30"), Ok(150));
        assert!(parse_time_of_day("24:00").is_err());
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("0s").is_err());
    }
}
