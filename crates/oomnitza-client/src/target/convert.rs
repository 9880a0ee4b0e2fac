//! Converting between engine [`Value`]s and Oomnitza JSON.

use chrono::DateTime;
use serde_json::{Map, Number, Value as Json};
use sync_engine::{Fields, Value};

/// An engine value as Oomnitza JSON. Timestamps become epoch seconds (Oomnitza accepts
/// both epoch seconds and ISO 8601, and sends dates back as epoch integers, so the value
/// reads back equal and a no-op run stays a no-op).
pub(crate) fn to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(n) => Json::Number((*n).into()),
        Value::Float(f) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Timestamp(t) => Json::Number(t.timestamp().into()),
        Value::String(s) => Json::String(s.to_string()),
        Value::List(items) => Json::Array(items.iter().map(to_json).collect()),
    }
}

/// Oomnitza JSON as an engine value (objects are kept as their JSON text).
pub(crate) fn from_json(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .or_else(|| n.as_f64().map(Value::Float))
            .unwrap_or(Value::Null),
        Json::String(s) => Value::string(s.as_str()),
        Json::Array(items) => Value::List(items.iter().map(from_json).collect()),
        Json::Object(_) => Value::string(v.to_string()),
    }
}

/// Engine fields as a JSON object.
pub(crate) fn fields_to_map(fields: &Fields) -> Map<String, Json> {
    fields
        .iter()
        .map(|(k, v)| (k.to_string(), to_json(v)))
        .collect()
}

/// A value as text (for keys): strings as they are, numbers in decimal; empty → `None`.
pub(crate) fn json_key(v: &Json) -> Option<String> {
    match v {
        Json::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A value as epoch seconds: integers, floats, timestamps, numeric or RFC 3339 strings.
pub(crate) fn to_epoch(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        Value::Float(f) if f.is_finite() => Some(*f as i64),
        Value::Timestamp(t) => Some(t.timestamp()),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp()))
        }
        _ => None,
    }
}

/// A value as a role label: a string, or the first string of a list; empty → `None`.
pub(crate) fn to_label(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::List(items) => items.iter().find_map(to_label),
        _ => None,
    }
}

/// True when `actual` (as Oomnitza sent it) means the same as `wanted` (as configured):
/// equal JSON, or the same flag written differently (`true`, `1`, `"1"`, `"true"`).
pub(crate) fn same_value(actual: &Json, wanted: &Json) -> bool {
    if actual == wanted {
        return true;
    }
    let flag = |v: &Json| match v {
        Json::Bool(b) => Some(*b),
        Json::Number(n) => n.as_i64().and_then(|n| match n {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }),
        Json::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "true" => Some(true),
            "0" | "false" => Some(false),
            _ => None,
        },
        _ => None,
    };
    match (flag(actual), flag(wanted)) {
        (Some(a), Some(w)) => a == w,
        _ => match (actual, wanted) {
            (Json::String(a), Json::String(w)) => a.trim() == w.trim(),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn round_trips_and_timestamps() {
        let t = chrono::Utc.timestamp_opt(1_718_000_000, 0).unwrap();
        assert_eq!(
            to_json(&Value::Timestamp(t)),
            serde_json::json!(1_718_000_000)
        );
        assert_eq!(from_json(&serde_json::json!(3)), Value::Int(3));
        assert_eq!(from_json(&serde_json::json!(1.5)), Value::Float(1.5));
        assert_eq!(from_json(&serde_json::json!("x")), Value::string("x"));
        assert_eq!(
            from_json(&serde_json::json!(["a", true])),
            Value::List(vec![Value::string("a"), Value::Bool(true)])
        );
        assert_eq!(
            to_epoch(&Value::string("2024-06-10T06:13:20Z")),
            Some(1_718_000_000)
        );
        assert_eq!(to_epoch(&Value::Timestamp(t)), Some(1_718_000_000));
        assert_eq!(to_epoch(&Value::Null), None);
        assert_eq!(
            to_label(&Value::List(vec![Value::string(" Admin ")])),
            Some("Admin".into())
        );
        assert_eq!(to_label(&Value::string("")), None);
    }

    #[test]
    fn flags_compare_loosely() {
        use serde_json::json;
        assert!(same_value(&json!("1"), &json!(true)));
        assert!(same_value(&json!(0), &json!(false)));
        assert!(!same_value(&json!(false), &json!(true)));
        assert!(!same_value(&Json::Null, &json!(true)));
        assert!(same_value(&json!("Inactive"), &json!("Inactive")));
    }
}
