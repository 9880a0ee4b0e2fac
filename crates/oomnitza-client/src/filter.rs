//! Building v3 `filter` expressions safely.
//!
//! Oomnitza documents clauses of the form `field eq 'value'`, parenthesised and joined with
//! `and` (`oomnitza-api.md` §4). Quoting and escaping are **unconfirmed**; this project
//! assumes (and its emulator implements) that a text value is wrapped in single quotes and
//! a single quote inside it is doubled (`O'Brien` → `'O''Brien'`), while numbers and
//! booleans go unquoted. Field names are restricted to `[a-z0-9_]` so a field name can
//! never inject syntax.
//!
//! ```
//! use oomnitza_client::Filter;
//!
//! let f = Filter::new().eq("quip_user_id", "Q'1").eq("suspended", false);
//! assert_eq!(f.expression().unwrap(), "(quip_user_id eq 'Q''1') and (suspended eq false)");
//! assert!(Filter::new().eq("Bad Field", "x").expression().is_err());
//! ```

use std::fmt;

use crate::error::Error;

/// A value on the right-hand side of a clause.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    /// Text, single-quoted with `'` doubled.
    Text(String),
    /// A whole number, unquoted.
    Int(i64),
    /// `true` / `false`, unquoted.
    Bool(bool),
}

impl From<&str> for FilterValue {
    fn from(s: &str) -> Self {
        FilterValue::Text(s.to_owned())
    }
}
impl From<String> for FilterValue {
    fn from(s: String) -> Self {
        FilterValue::Text(s)
    }
}
impl From<&String> for FilterValue {
    fn from(s: &String) -> Self {
        FilterValue::Text(s.clone())
    }
}
impl From<i64> for FilterValue {
    fn from(n: i64) -> Self {
        FilterValue::Int(n)
    }
}
impl From<bool> for FilterValue {
    fn from(b: bool) -> Self {
        FilterValue::Bool(b)
    }
}

impl fmt::Display for FilterValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterValue::Text(s) => write!(f, "'{}'", s.replace('\'', "''")),
            FilterValue::Int(n) => write!(f, "{n}"),
            FilterValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    /// `eq` (documented).
    Eq,
    /// `ne` (unconfirmed).
    Ne,
    /// `gt` (documented for numbers).
    Gt,
    /// `lt` (unconfirmed).
    Lt,
}

impl FilterOp {
    fn as_str(self) -> &'static str {
        match self {
            FilterOp::Eq => "eq",
            FilterOp::Ne => "ne",
            FilterOp::Gt => "gt",
            FilterOp::Lt => "lt",
        }
    }
}

/// A conjunction of clauses (`(a eq 'x') and (b eq 'y')`).
///
/// Invalid field names are remembered and reported by [`Filter::expression`], so a filter
/// can be built fluently; handlers call `expression()` before sending anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    clauses: Vec<String>,
    invalid: Option<String>,
}

/// True when `name` is a valid field name for a filter: `[a-z0-9_]+`.
pub fn is_valid_field_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Filter {
    /// An empty filter (matches everything).
    pub fn new() -> Self {
        Filter::default()
    }

    /// Adds `field op value`.
    #[must_use]
    pub fn clause(mut self, field: &str, op: FilterOp, value: impl Into<FilterValue>) -> Self {
        if !is_valid_field_name(field) {
            if self.invalid.is_none() {
                self.invalid = Some(format!(
                    "field name {field:?} is not allowed in a filter (only a-z, 0-9 and _)"
                ));
            }
            return self;
        }
        self.clauses
            .push(format!("{field} {} {}", op.as_str(), value.into()));
        self
    }

    /// Adds `field eq value`.
    #[must_use]
    pub fn eq(self, field: &str, value: impl Into<FilterValue>) -> Self {
        self.clause(field, FilterOp::Eq, value)
    }

    /// Adds `field ne value`.
    #[must_use]
    pub fn ne(self, field: &str, value: impl Into<FilterValue>) -> Self {
        self.clause(field, FilterOp::Ne, value)
    }

    /// Adds `field gt value`.
    #[must_use]
    pub fn gt(self, field: &str, value: impl Into<FilterValue>) -> Self {
        self.clause(field, FilterOp::Gt, value)
    }

    /// Adds `field lt value`.
    #[must_use]
    pub fn lt(self, field: &str, value: impl Into<FilterValue>) -> Self {
        self.clause(field, FilterOp::Lt, value)
    }

    /// True when there are no clauses.
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty() && self.invalid.is_none()
    }

    /// The expression for the `filter` query parameter.
    pub fn expression(&self) -> Result<String, Error> {
        if let Some(reason) = &self.invalid {
            return Err(Error::config(format!("invalid filter: {reason}")));
        }
        Ok(match self.clauses.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            many => many
                .iter()
                .map(|c| format!("({c})"))
                .collect::<Vec<_>>()
                .join(" and "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_clause_is_not_parenthesised() {
        let f = Filter::new().eq("saas_name", "Quip");
        assert_eq!(f.expression().unwrap(), "saas_name eq 'Quip'");
    }

    #[test]
    fn quotes_are_doubled_and_injection_stays_inside_the_literal() {
        let f = Filter::new().eq("email", "x' or username ne '");
        assert_eq!(f.expression().unwrap(), "email eq 'x'' or username ne '''");
    }

    #[test]
    fn numbers_and_bools_are_unquoted_and_ops_render() {
        let f = Filter::new()
            .gt("creation_date", 123)
            .lt("version", 9)
            .ne("suspended", true);
        assert_eq!(
            f.expression().unwrap(),
            "(creation_date gt 123) and (version lt 9) and (suspended ne true)"
        );
    }

    #[test]
    fn bad_field_names_are_rejected() {
        for bad in ["", "Email", "a b", "a)or(b", "é", "x'"] {
            let e = Filter::new().eq(bad, "v").expression().unwrap_err();
            assert!(
                matches!(e.kind(), crate::ErrorKind::Config { message } if message.starts_with("invalid filter")),
                "{bad}"
            );
            assert!(e.to_string().contains(": invalid filter: "), "{bad}: {e}");
        }
        assert!(is_valid_field_name("quip_user_id2"));
    }

    #[test]
    fn empty_filter_is_empty() {
        assert!(Filter::new().is_empty());
        assert_eq!(Filter::new().expression().unwrap(), "");
    }
}
