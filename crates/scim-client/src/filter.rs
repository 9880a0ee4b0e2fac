//! SCIM filters (RFC 7644 §3.4.2.2), built rather than written by hand, so string values
//! are always quoted and escaped correctly.
//!
//! ```
//! use scim_client::Filter;
//!
//! let f = Filter::eq("userName", "a\"b").or(Filter::sw("emails.value", "ops@"));
//! assert_eq!(f.to_string(), r#"userName eq "a\"b" or emails.value sw "ops@""#);
//! let f = Filter::eq("active", true).and(Filter::pr("title").or(Filter::co("displayName", "Jo")));
//! assert_eq!(f.to_string(), r#"active eq true and (title pr or displayName co "Jo")"#);
//! ```

use std::fmt;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Co => "co",
            Op::Sw => "sw",
            Op::Ew => "ew",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::Lt => "lt",
            Op::Le => "le",
        }
    }
}

/// A comparison value: a JSON string, boolean, number or null.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CompValue {
    /// A string, written as a JSON string (quotes and backslashes escaped).
    String(String),
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(serde_json::Number),
    /// `null`.
    Null,
}

impl From<&str> for CompValue {
    fn from(s: &str) -> Self {
        CompValue::String(s.to_owned())
    }
}

impl From<String> for CompValue {
    fn from(s: String) -> Self {
        CompValue::String(s)
    }
}

impl From<&String> for CompValue {
    fn from(s: &String) -> Self {
        CompValue::String(s.clone())
    }
}

impl From<bool> for CompValue {
    fn from(b: bool) -> Self {
        CompValue::Bool(b)
    }
}

impl From<i64> for CompValue {
    fn from(n: i64) -> Self {
        CompValue::Number(n.into())
    }
}

impl From<u64> for CompValue {
    fn from(n: u64) -> Self {
        CompValue::Number(n.into())
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // serde_json writes RFC 8259 strings: `"` and `\` escaped, controls as \uXXXX.
            CompValue::String(s) => f.write_str(&serde_json::to_string(s).map_err(|_| fmt::Error)?),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::Null => f.write_str("null"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Present(String),
    Compare(String, Op, CompValue),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

/// A SCIM filter expression. `Display` writes it in the RFC's syntax.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter(Expr);

impl Filter {
    /// `attr op value`.
    pub fn compare(attr: impl Into<String>, op: Op, value: impl Into<CompValue>) -> Self {
        Filter(Expr::Compare(attr.into(), op, value.into()))
    }

    /// `attr eq value`.
    pub fn eq(attr: impl Into<String>, value: impl Into<CompValue>) -> Self {
        Self::compare(attr, Op::Eq, value)
    }

    /// `attr ne value`.
    pub fn ne(attr: impl Into<String>, value: impl Into<CompValue>) -> Self {
        Self::compare(attr, Op::Ne, value)
    }

    /// `attr co "value"`.
    pub fn co(attr: impl Into<String>, value: impl Into<String>) -> Self {
        Self::compare(attr, Op::Co, CompValue::String(value.into()))
    }

    /// `attr sw "value"`.
    pub fn sw(attr: impl Into<String>, value: impl Into<String>) -> Self {
        Self::compare(attr, Op::Sw, CompValue::String(value.into()))
    }

    /// `attr ew "value"`.
    pub fn ew(attr: impl Into<String>, value: impl Into<String>) -> Self {
        Self::compare(attr, Op::Ew, CompValue::String(value.into()))
    }

    /// `attr gt value`.
    pub fn gt(attr: impl Into<String>, value: impl Into<CompValue>) -> Self {
        Self::compare(attr, Op::Gt, value)
    }

    /// `attr ge value`.
    pub fn ge(attr: impl Into<String>, value: impl Into<CompValue>) -> Self {
        Self::compare(attr, Op::Ge, value)
    }

    /// `attr lt value`.
    pub fn lt(attr: impl Into<String>, value: impl Into<CompValue>) -> Self {
        Self::compare(attr, Op::Lt, value)
    }

    /// `attr le value`.
    pub fn le(attr: impl Into<String>, value: impl Into<CompValue>) -> Self {
        Self::compare(attr, Op::Le, value)
    }

    /// `attr pr` (present: has a non-empty value).
    pub fn pr(attr: impl Into<String>) -> Self {
        Filter(Expr::Present(attr.into()))
    }

    /// `self and other`.
    #[must_use]
    pub fn and(self, other: Filter) -> Self {
        Filter(Expr::And(Box::new(self.0), Box::new(other.0)))
    }

    /// `self or other`.
    #[must_use]
    pub fn or(self, other: Filter) -> Self {
        Filter(Expr::Or(Box::new(self.0), Box::new(other.0)))
    }

    /// `not (inner)`; `!inner` does the same.
    pub fn negate(inner: Filter) -> Self {
        Filter(Expr::Not(Box::new(inner.0)))
    }

    /// Checks every attribute path (`[urn:...:]name[.sub]`, names of letters, digits, `-`
    /// and `_` starting with a letter, or `$ref`) and that `co`/`sw`/`ew` compare strings
    /// and `gt`/`ge`/`lt`/`le` no booleans or null (RFC 7644 §3.4.2.2). A filter that
    /// fails never reaches the server.
    pub fn validate(&self) -> Result<(), String> {
        fn walk(e: &Expr) -> Result<(), String> {
            match e {
                Expr::Present(a) => check_path(a),
                Expr::Compare(a, op, v) => {
                    check_path(a)?;
                    match (op, v) {
                        (Op::Co | Op::Sw | Op::Ew, CompValue::String(_)) => Ok(()),
                        (Op::Co | Op::Sw | Op::Ew, _) => {
                            Err(format!("`{a} {}` needs a string value", op.as_str()))
                        }
                        (
                            Op::Gt | Op::Ge | Op::Lt | Op::Le,
                            CompValue::Bool(_) | CompValue::Null,
                        ) => Err(format!("`{a} {}` takes no boolean or null", op.as_str())),
                        _ => Ok(()),
                    }
                }
                Expr::And(a, b) | Expr::Or(a, b) => walk(a).and_then(|()| walk(b)),
                Expr::Not(a) => walk(a),
            }
        }
        walk(&self.0)
    }
}

fn is_name(n: &str) -> bool {
    let mut chars = n.chars();
    n == "$ref"
        || (chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

fn check_path(path: &str) -> Result<(), String> {
    let bad = || Err(format!("`{path}` is not a SCIM attribute path"));
    let attr = if path
        .get(..4)
        .is_some_and(|h| h.eq_ignore_ascii_case("urn:"))
    {
        let Some((urn, attr)) = path.rsplit_once(':') else {
            return bad();
        };
        if urn
            .chars()
            .any(|c| c.is_whitespace() || "\"()[]".contains(c))
        {
            return bad();
        }
        attr
    } else {
        path
    };
    let names: Vec<&str> = attr.split('.').collect();
    if names.len() > 2 || !names.iter().all(|n| is_name(n)) {
        return bad();
    }
    Ok(())
}

impl std::ops::Not for Filter {
    type Output = Filter;

    fn not(self) -> Filter {
        Filter::negate(self)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn write(e: &Expr, f: &mut fmt::Formatter<'_>, parent_and: bool) -> fmt::Result {
            match e {
                Expr::Present(a) => write!(f, "{a} pr"),
                Expr::Compare(a, op, v) => write!(f, "{a} {} {v}", op.as_str()),
                Expr::And(a, b) => {
                    write(a, f, true)?;
                    f.write_str(" and ")?;
                    write(b, f, true)
                }
                // `and` binds tighter than `or`: an `or` under an `and` needs parentheses.
                Expr::Or(a, b) if parent_and => {
                    f.write_str("(")?;
                    write(a, f, false)?;
                    f.write_str(" or ")?;
                    write(b, f, false)?;
                    f.write_str(")")
                }
                Expr::Or(a, b) => {
                    write(a, f, false)?;
                    f.write_str(" or ")?;
                    write(b, f, false)
                }
                Expr::Not(a) => {
                    f.write_str("not (")?;
                    write(a, f, false)?;
                    f.write_str(")")
                }
            }
        }
        write(&self.0, f, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_and_escaped_as_json() {
        assert_eq!(
            Filter::eq("userName", "a\"b").to_string(),
            r#"userName eq "a\"b""#
        );
        assert_eq!(
            Filter::eq("displayName", r"back\slash").to_string(),
            r#"displayName eq "back\\slash""#
        );
        assert_eq!(
            Filter::eq("title", "tab\there\nnewline").to_string(),
            r#"title eq "tab\there\nnewline""#
        );
        assert_eq!(
            Filter::eq("title", "Zoë 田中").to_string(),
            r#"title eq "Zoë 田中""#
        );
        assert_eq!(Filter::eq("active", false).to_string(), "active eq false");
        assert_eq!(
            Filter::gt("loginCount", 3_i64).to_string(),
            "loginCount gt 3"
        );
        assert_eq!(
            Filter::negate(Filter::pr("title")).to_string(),
            "not (title pr)"
        );
        assert_eq!(
            Filter::eq("manager", CompValue::Null).to_string(),
            "manager eq null"
        );
    }

    #[test]
    fn precedence_is_kept_with_parentheses() {
        let a = || Filter::eq("a", "1");
        let b = || Filter::eq("b", "2");
        let c = || Filter::eq("c", "3");
        assert_eq!(
            a().and(b()).or(c()).to_string(),
            r#"a eq "1" and b eq "2" or c eq "3""#
        );
        assert_eq!(
            a().and(b().or(c())).to_string(),
            r#"a eq "1" and (b eq "2" or c eq "3")"#
        );
        assert_eq!(
            a().or(b()).and(c()).to_string(),
            r#"(a eq "1" or b eq "2") and c eq "3""#
        );
        assert_eq!(
            (!a().or(b())).and(Filter::pr("x")).to_string(),
            r#"not (a eq "1" or b eq "2") and x pr"#
        );
    }

    #[test]
    fn validation_refuses_bad_paths_and_operator_values() {
        for ok in [
            Filter::eq("userName", "x"),
            Filter::eq("name.givenName", "x"),
            Filter::pr("members.$ref"),
            Filter::eq(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "x",
            ),
            Filter::eq(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                "x",
            ),
        ] {
            assert_eq!(ok.validate(), Ok(()), "{ok}");
        }
        for bad in [
            Filter::eq("user name", "x"),
            Filter::eq("emails[type eq \"work\"]", "x"),
            Filter::eq("1abc", "x"),
            Filter::eq("a.b.c", "x"),
            Filter::eq("", "x"),
            Filter::eq("userName\" or \"1", "x"),
            Filter::compare("active", Op::Co, true),
            Filter::compare("active", Op::Gt, true),
            Filter::eq("ok", "x").and(Filter::pr("not ok")),
        ] {
            assert!(bad.validate().is_err(), "{bad}");
        }
    }
}
