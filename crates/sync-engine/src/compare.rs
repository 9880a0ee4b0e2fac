//! Value normalisation for comparisons, so that a no-op run is truly a no-op.
//!
//! Targets rarely hand back exactly what was written: numbers come back as floats or
//! strings, timestamps as epoch seconds or RFC 3339 text, empty values as `null`. Two values
//! are equal here when they mean the same thing:
//!
//! - `Null`, a missing field, an empty (or blank) string and an empty list are all "empty";
//! - strings are compared trimmed, and lowercase for fields configured case-insensitive;
//! - `Int` and `Float` are equal when numerically equal, and a numeric string equals the number;
//! - a timestamp equals an epoch-seconds number or an RFC 3339 string of the same second;
//! - `true`/`false` strings equal booleans;
//! - lists are compared element by element with the same rules.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::record::{FieldName, Value};

/// How values are compared when planning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompareOptions {
    /// Target fields compared without regard to case (e.g. `email`).
    pub case_insensitive: Vec<FieldName>,
}

impl CompareOptions {
    /// Options with these case-insensitive target fields.
    pub fn case_insensitive<I, S>(fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<FieldName>,
    {
        CompareOptions {
            case_insensitive: fields.into_iter().map(Into::into).collect(),
        }
    }

    pub(crate) fn set(&self) -> HashSet<&str> {
        self.case_insensitive.iter().map(AsRef::as_ref).collect()
    }
}

#[derive(Debug, Clone, Copy)]
enum Norm<'a> {
    Empty,
    Bool(bool),
    Int(i64),
    Float(f64),
    Time(i64),
    Str(&'a str),
    List(&'a [Value]),
}

fn norm(v: &Value) -> Norm<'_> {
    match v {
        Value::Null => Norm::Empty,
        Value::Bool(b) => Norm::Bool(*b),
        Value::Int(n) => Norm::Int(*n),
        Value::Float(f) => Norm::Float(*f),
        Value::Timestamp(t) => Norm::Time(t.timestamp()),
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() {
                Norm::Empty
            } else {
                Norm::Str(s)
            }
        }
        Value::List(l) if l.is_empty() => Norm::Empty,
        Value::List(l) => Norm::List(l),
    }
}

/// True when `a` and `b` mean the same value (see the module docs).
pub fn values_equal(a: &Value, b: &Value, case_insensitive: bool) -> bool {
    // Fast path: the common case of two equal strings.
    if let (Value::String(x), Value::String(y)) = (a, b) {
        let (x, y) = (x.trim(), y.trim());
        if str_eq(x, y, case_insensitive) {
            return true;
        }
        if !(looks_like_time(x) && looks_like_time(y)) {
            return false;
        }
    }
    norm_eq(norm(a), norm(b), case_insensitive)
}

fn norm_eq(left: Norm<'_>, right: Norm<'_>, ci: bool) -> bool {
    use Norm::{Bool, Empty, Float, Int, List, Str, Time};
    match (left, right) {
        (Empty, Empty) => true,
        (Str(l), Str(r)) => {
            // Two spellings of the same instant are equal; numeric strings are not
            // reinterpreted here ("007" and "7" are different identifiers).
            str_eq(l, r, ci)
                || (looks_like_time(l)
                    && looks_like_time(r)
                    && matches!((parse_time(l), parse_time(r)), (Some(p), Some(q)) if p == q))
        }
        (Bool(l), Bool(r)) => l == r,
        (Bool(b), Str(s)) | (Str(s), Bool(b)) => parse_bool(s) == Some(b),
        (Int(_) | Float(_) | Time(_), Int(_) | Float(_) | Time(_)) => scalar_eq(left, right),
        (Int(_) | Float(_) | Time(_), Str(s)) | (Str(s), Int(_) | Float(_) | Time(_)) => {
            let other = if matches!(left, Str(_)) { right } else { left };
            parse_scalar(s).is_some_and(|p| scalar_eq(p, other))
        }
        (List(l), List(r)) => {
            l.len() == r.len() && l.iter().zip(r).all(|(p, q)| norm_eq(norm(p), norm(q), ci))
        }
        _ => false,
    }
}

fn scalar_eq(left: Norm<'_>, right: Norm<'_>) -> bool {
    use Norm::{Float, Int, Time};
    match (left, right) {
        (Int(l) | Time(l), Int(r) | Time(r)) => l == r,
        (Int(n), Float(f)) | (Float(f), Int(n)) => (n as f64) == f,
        (Float(l), Float(r)) => l == r,
        // A fractional epoch denotes the second it falls in.
        (Time(t), Float(f)) | (Float(f), Time(t)) => f.is_finite() && f.floor() as i64 == t,
        _ => false,
    }
}

fn looks_like_time(s: &str) -> bool {
    s.len() >= 19 && s.as_bytes()[4] == b'-' && s.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A string read as a number or a timestamp, when it is one.
fn parse_scalar(s: &str) -> Option<Norm<'static>> {
    let first = s.as_bytes().first()?;
    if !(first.is_ascii_digit() || *first == b'-' || *first == b'+' || *first == b'.') {
        return None;
    }
    if let Ok(n) = s.parse::<i64>() {
        return Some(Norm::Int(n));
    }
    if let Ok(f) = s.parse::<f64>() {
        return Some(Norm::Float(f));
    }
    parse_time(s).map(Norm::Time)
}

/// Epoch seconds of an RFC 3339 string or a `YYYY-MM-DD HH:MM:SS` UTC string.
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp());
        }
    }
    None
}

fn str_eq(a: &str, b: &str, ci: bool) -> bool {
    if a == b {
        return true;
    }
    if !ci {
        return false;
    }
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// The normalised text of a value used to match records by a fallback key:
/// trimmed and lowercase; `None` when empty or not a scalar.
pub(crate) fn match_text(v: &Value) -> Option<compact_str::CompactString> {
    let raw: compact_str::CompactString = match v {
        Value::String(s) => s.trim().into(),
        Value::Int(n) => compact_str::format_compact!("{n}"),
        Value::Float(f) => compact_str::format_compact!("{f}"),
        Value::Bool(b) => compact_str::format_compact!("{b}"),
        Value::Timestamp(t) => compact_str::format_compact!("{}", t.timestamp()),
        Value::Null | Value::List(_) => return None,
    };
    if raw.is_empty() {
        return None;
    }
    if raw.bytes().any(|b| b.is_ascii_uppercase()) || !raw.is_ascii() {
        Some(raw.to_lowercase())
    } else {
        Some(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn eq(a: impl Into<Value>, b: impl Into<Value>) -> bool {
        values_equal(&a.into(), &b.into(), false)
    }

    #[test]
    fn empties_are_equal() {
        assert!(eq(Value::Null, ""));
        assert!(eq("  ", Value::Null));
        assert!(eq(Value::List(vec![]), Value::Null));
        assert!(!eq(Value::Null, "x"));
        assert!(!eq(Value::Null, 0));
        assert!(!eq(false, Value::Null));
    }

    #[test]
    fn strings_trimmed_and_case() {
        assert!(eq(" a ", "a"));
        assert!(!eq("A", "a"));
        assert!(values_equal(&"Ada@X.com".into(), &"ada@x.com".into(), true));
        assert!(values_equal(&"ÉMILE".into(), &"émile".into(), true));
    }

    #[test]
    fn numbers() {
        assert!(eq(3, Value::Float(3.0)));
        assert!(!eq(3, Value::Float(3.5)));
        assert!(eq(3, "3"));
        assert!(eq(Value::Float(2.5), "2.5"));
        assert!(!eq("007", "7"));
        assert!(eq("2024-05-06T07:08:09Z", "2024-05-06 07:08:09"));
        assert!(!eq(3, "three"));
    }

    #[test]
    fn timestamps() {
        let t = chrono::Utc
            .with_ymd_and_hms(2024, 5, 6, 7, 8, 9)
            .single()
            .expect("valid");
        let secs = t.timestamp();
        assert!(eq(t, secs));
        assert!(eq(t, "2024-05-06T07:08:09Z"));
        assert!(eq(t, "2024-05-06T09:08:09+02:00"));
        assert!(eq(t, "2024-05-06 07:08:09"));
        assert!(eq(t, Value::Float(secs as f64 + 0.25)));
        assert!(eq("2024-05-06T07:08:09.000Z", secs));
        assert!(!eq(t, secs + 1));
        assert!(eq(t + chrono::Duration::milliseconds(300), t));
    }

    #[test]
    fn bools_and_lists() {
        assert!(eq(true, "TRUE"));
        assert!(!eq(true, "false"));
        assert!(eq(vec![1_i64, 2], vec!["1", "2"]));
        assert!(!eq(vec![1_i64, 2], vec![2_i64, 1]));
        assert!(!eq(vec![1_i64], 1));
    }

    #[test]
    fn match_text_normalises() {
        assert_eq!(
            match_text(&" Ada@X.com ".into()).as_deref(),
            Some("ada@x.com")
        );
        assert_eq!(match_text(&"".into()), None);
        assert_eq!(match_text(&Value::Null), None);
        assert_eq!(match_text(&Value::Int(7)).as_deref(), Some("7"));
    }
}
