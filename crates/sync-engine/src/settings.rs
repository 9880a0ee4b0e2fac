//! Typed values for configuration sections, parsed once when the file loads: durations,
//! byte sizes and http(s) URLs; and [`Problem`], what is wrong with one key of a section.
//!
//! The runtime and every connector's section use these, so a duration means the same
//! thing, and is refused with the same words, everywhere. They deserialize from the text a
//! person writes (`"30s"`, `"64MiB"`, `"https://acme.example.com"`), so a bad value is an
//! error of the file, placed at its line and column by the format's deserializer.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A problem with one key of a configuration section, found after it parsed (a value out
/// of range, a missing required key). `key` is relative to the section (`max_pages`); the
/// runtime prefixes the section and places it in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key, relative to the section (`credential`, `timeout`).
    pub key: String,
    /// What is wrong and, where it helps, what to write instead.
    pub message: String,
}

impl Problem {
    /// A problem with `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// A positive duration written as text: `"30s"`, `"15m"`, `"1h 30m"`, `"90d"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(Duration);

impl HumanDuration {
    /// `secs` seconds (for defaults).
    pub const fn from_secs(secs: u64) -> Self {
        HumanDuration(Duration::from_secs(secs))
    }

    /// The duration.
    pub const fn get(self) -> Duration {
        self.0
    }

    /// Parses `"30s"`, `"1d"`, `"1h 30m"`; zero is refused.
    pub fn parse(text: &str) -> Result<Self, String> {
        let d = humantime::parse_duration(text.trim()).map_err(|e| {
            format!("\"{text}\" is not a duration ({e}); use e.g. \"30s\", \"15m\", \"1d\"")
        })?;
        if d.is_zero() {
            return Err("must be longer than zero".to_owned());
        }
        Ok(HumanDuration(d))
    }
}

impl From<HumanDuration> for Duration {
    fn from(d: HumanDuration) -> Duration {
        d.0
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        HumanDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A size in bytes, at least 1: a number of bytes, or text with a unit (`"64MiB"`,
/// `"512 KiB"`, `"1GB"`; `KiB`/`MiB`/`GiB` are powers of 1024, `KB`/`MB`/`GB` of 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(u64);

impl ByteSize {
    /// `n` mebibytes (for defaults).
    pub const fn mib(n: u64) -> Self {
        ByteSize(n << 20)
    }

    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }

    /// Parses `"64MiB"`, `"512 KiB"`, `"1GB"`, `"1000"`; zero is refused.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!("\"{text}\" is not a size; use e.g. \"64MiB\", \"512KiB\" or a number of bytes")
        };
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
        ByteSize::from_bytes(n.checked_mul(factor).ok_or_else(bad)?)
    }

    fn from_bytes(n: u64) -> Result<Self, String> {
        if n == 0 {
            return Err("must be at least 1 byte".to_owned());
        }
        Ok(ByteSize(n))
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of bytes or a size such as \"64MiB\"")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<ByteSize, E> {
                ByteSize::from_bytes(n).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<ByteSize, E> {
                let n = u64::try_from(n).map_err(|_| {
                    E::custom(format!("{n} is not a size: it must be at least 1 byte"))
                })?;
                self.visit_u64(n)
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ByteSize, E> {
                ByteSize::parse(text).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// An absolute `http://` or `https://` URL, kept as written without a trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpUrl {
    text: String,
    url: url::Url,
}

impl HttpUrl {
    /// Parses an absolute http(s) URL with a host. A user name, password, query string or
    /// fragment is refused: credentials belong in the section's `credential`, where they
    /// stay secret, while a URL is shown in messages and logs. Messages never repeat what
    /// could be a password or token in the text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let shown = redacted(text);
        let bad = |why: &str| format!("\"{shown}\" is not an http(s) URL: {why}");
        if text.contains(char::is_whitespace) {
            return Err(bad("it contains white space"));
        }
        let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("the scheme must be https:// (or http://)"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("it has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "it carries a user name or password; name a credential with `credential` instead",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad(
                "a base URL takes no query string or fragment (tokens belong in `credential`)",
            ));
        }
        Ok(HttpUrl {
            text: text.trim_end_matches('/').to_owned(),
            url,
        })
    }

    /// The URL as written, without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed URL.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// The host of a plain `http://` URL when it is not this machine (`localhost`,
    /// `127.0.0.0/8`, `::1`); `None` for https and for loopback.
    pub fn insecure_host(&self) -> Option<&str> {
        if self.url.scheme() != "http" {
            return None;
        }
        let loopback = match self.url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        };
        if loopback {
            return None;
        }
        self.url
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
    }

    /// Refuses plain `http://` to another machine unless `allowed` (the section's
    /// `allow_insecure_http`): the `section` token and people's data would travel
    /// unencrypted.
    pub fn check_transport(&self, allowed: bool, section: &str) -> Result<(), String> {
        match self.insecure_host() {
            Some(host) if !allowed => Err(format!(
                "plain http:// to {host} would send the {section} token and people's data \
                 unencrypted; use https://, or set `allow_insecure_http = true` in [{section}] \
                 to accept that (plain http:// is allowed without it only to localhost, \
                 127.0.0.0/8 and ::1)"
            )),
            _ => Ok(()),
        }
    }
}

/// `text` with what could be a secret hidden: anything between `//` and `@` (user and
/// password) and everything from `?` or `#` on.
fn redacted(text: &str) -> String {
    let mut out = text.to_owned();
    if let Some(cut) = out.find(['?', '#']) {
        out.truncate(cut);
        out.push_str("?***");
    }
    if let Some(start) = out.find("//").map(|i| i + 2)
        && let Some(at) = out[start..].find('@').map(|i| start + i)
        && !out[start..at].contains('/')
    {
        out.replace_range(start..at, "***");
    }
    out
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for HttpUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        HttpUrl::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// One warning per plain `http://` URL to another machine that a section's
/// `allow_insecure_http` lets through: `(key, url)` pairs of one section, shown on every
/// run since the token travels in clear text.
pub fn insecure_http_warnings<'a>(
    section: &str,
    urls: impl IntoIterator<Item = (&'a str, &'a HttpUrl)>,
) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut warnings = Vec::new();
    for (key, url) in urls {
        if let Some(host) = url.insecure_host()
            && seen.insert(url.as_str())
        {
            warnings.push(format!(
                "{section}.{key} = {url} is plain http:// to {host}, another machine: the \
                 {section} token and people's data travel unencrypted ([{section}] \
                 allow_insecure_http = true)"
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            HumanDuration::parse("1d").map(HumanDuration::get),
            Ok(Duration::from_secs(86_400))
        );
        assert_eq!(HumanDuration::from_secs(90).to_string(), "1m 30s");
        assert!(HumanDuration::parse("0s").is_err());
        assert!(
            HumanDuration::parse("soon")
                .unwrap_err()
                .contains("\"soon\"")
        );
    }

    #[test]
    fn sizes() {
        for (text, n) in [
            ("512KiB", 512 << 10),
            ("1 GiB", 1 << 30),
            ("2MB", 2_000_000),
            ("4096", 4096),
        ] {
            assert_eq!(ByteSize::parse(text).map(ByteSize::bytes), Ok(n), "{text}");
        }
        for bad in ["lots", "0", "0MiB", "99999999999999GiB"] {
            assert!(ByteSize::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_and_plain_http() {
        for loopback in [
            "http://127.0.0.1:8080",
            "http://127.9.9.9/x",
            "http://localhost:99",
            "http://[::1]:8080/",
            "https://acme.example.com",
        ] {
            let url = HttpUrl::parse(loopback).expect(loopback);
            assert_eq!(url.insecure_host(), None, "{loopback}");
            assert!(url.check_transport(false, "x").is_ok());
        }
        for (remote, host) in [
            ("http://acme.example.com", "acme.example.com"),
            ("http://0.0.0.0:8080", "0.0.0.0"),
            ("http://10.0.0.1", "10.0.0.1"),
            ("http://[::2]/", "::2"),
            ("http://127.0.0.1.nip.io", "127.0.0.1.nip.io"),
            ("http://localhost.evil.example", "localhost.evil.example"),
        ] {
            let url = HttpUrl::parse(remote).expect(remote);
            assert_eq!(url.insecure_host(), Some(host), "{remote}");
            let e = url.check_transport(false, "x").unwrap_err();
            assert!(e.contains("allow_insecure_http = true"), "{e}");
            assert!(url.check_transport(true, "x").is_ok());
        }
        assert_eq!(
            HttpUrl::parse("https://a.example.com/").unwrap().as_str(),
            "https://a.example.com"
        );
        for bad in [
            "acme.example.com",
            "ftp://a.example.com",
            "https://",
            "https://a b",
        ] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_in_a_url_are_refused_and_never_shown() {
        const CANARY: &str = "canary-9f3e1c";
        for text in [
            format!("https://admin:{CANARY}@acme.example.com"),
            format!("https://{CANARY}@acme.example.com"),
            format!("https://acme.example.com/api?token={CANARY}"),
            format!("https://acme.example.com/#{CANARY}"),
            format!("htps://admin:{CANARY}@acme.example.com"),
            format!("https://admin:{CANARY}@"),
        ] {
            let e = HttpUrl::parse(&text).expect_err(&text);
            assert!(!e.contains(CANARY), "{e}");
            assert!(e.contains("***"), "{e}");
        }
    }
}

/// Optional settings that have a default can be switched off with `false`
/// (`max_count = false`: no count limit); `true` is refused, since it names no value. Use
/// with `#[serde(with = "switch")]` on an `Option<T>` field.
pub mod switch {
    use serde::de::{self, Deserializer};
    use serde::{Deserialize, Serialize, Serializer};
    use serde_json::Value;

    /// Reads a value, or `false` for none.
    pub fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: serde::de::DeserializeOwned,
    {
        match Value::deserialize(deserializer)? {
            Value::Bool(false) => Ok(None),
            Value::Bool(true) => Err(de::Error::custom(
                "`true` names no value: write the value, or `false` to switch it off",
            )),
            other => T::deserialize(other)
                .map(Some)
                .map_err(|e| de::Error::custom(e.to_string().trim())),
        }
    }

    /// Writes the value, or `false` for none.
    pub fn serialize<S: Serializer, T: Serialize>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => v.serialize(serializer),
            None => serializer.serialize_bool(false),
        }
    }
}
