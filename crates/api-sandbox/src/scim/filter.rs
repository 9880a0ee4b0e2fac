//! SCIM filters (RFC 7644 §3.4.2.2): parsing and evaluation over a resource's JSON.
//!
//! Grammar supported (case-insensitive operators and attribute names):
//!
//! ```text
//! FILTER    = OR
//! OR        = AND *("or" AND)
//! AND       = UNARY *("and" UNARY)
//! UNARY     = "not" "(" FILTER ")" / "(" FILTER ")" / ATTREXP
//! ATTREXP   = attrPath "pr" / attrPath compareOp compValue
//! compareOp = "eq" / "ne" / "co" / "sw" / "ew" / "gt" / "ge" / "lt" / "le"
//! compValue = "false" / "null" / "true" / number / JSON string
//! ```
//!
//! Value filters (`emails[type eq "work"]`) are not supported and answer `invalidFilter`,
//! as does any attribute outside the emulator's list of filterable attributes.

use serde_json::Value;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    /// `attr pr`
    Present(Path),
    /// `attr op value`
    Compare(Path, Op, Value),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

/// An attribute path: an optional schema URN (lower-cased) and the attribute and
/// sub-attribute names (lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path {
    pub(crate) urn: Option<String>,
    pub(crate) names: Vec<String>,
}

impl Path {
    /// The path as `name.sub` (without the URN), lower-cased.
    pub(crate) fn dotted(&self) -> String {
        self.names.join(".")
    }
}

/// What a resource type allows in filters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schema {
    /// The core schema URN, lower-cased (`urn:...:core:2.0:user`).
    pub(crate) core: &'static str,
    /// Extension URNs, lower-cased.
    pub(crate) extensions: &'static [&'static str],
    /// Filterable attributes as lower-cased `[urn:]name[.sub]`.
    pub(crate) attributes: &'static [&'static str],
    /// Attributes compared case-sensitively (`caseExact: true`), lower-cased dotted paths.
    pub(crate) case_exact: &'static [&'static str],
}

impl Schema {
    /// Whether `path` may be filtered on.
    fn allows(&self, path: &Path) -> bool {
        let dotted = path.dotted();
        match &path.urn {
            None => self.attributes.contains(&dotted.as_str()),
            Some(urn) if urn == self.core => self.attributes.contains(&dotted.as_str()),
            Some(urn) => {
                let full = format!("{urn}:{dotted}");
                self.attributes.contains(&full.as_str())
            }
        }
    }

    fn is_case_exact(&self, path: &Path) -> bool {
        path.urn.as_deref().is_none_or(|u| u == self.core)
            && self.case_exact.contains(&path.dotted().as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Value(Value),
    Open,
    Close,
}

fn tokenize(raw: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = raw.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '[' | ']' => {
                return Err("value filters (`attr[...]`) are not supported".to_owned());
            }
            '"' => {
                let start = i;
                i += 1;
                let mut closed = false;
                while i < chars.len() {
                    match chars[i] {
                        '\\' => i += 2,
                        '"' => {
                            closed = true;
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                if !closed {
                    return Err("an unterminated string".to_owned());
                }
                let text: String = chars[start..i].iter().collect();
                let value: String = serde_json::from_str(&text)
                    .map_err(|_| format!("{text} is not a valid JSON string"))?;
                tokens.push(Token::Value(Value::String(value)));
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '(' | ')' | '"' | '[' | ']')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

struct Parser<'s> {
    tokens: Vec<Token>,
    at: usize,
    schema: &'s Schema,
}

impl Parser<'_> {
    fn peek_word(&self) -> Option<String> {
        match self.tokens.get(self.at) {
            Some(Token::Word(w)) => Some(w.to_ascii_lowercase()),
            _ => None,
        }
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.peek_word().as_deref() == Some("or") {
            self.at += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.peek_word().as_deref() == Some("and") {
            self.at += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn group(&mut self) -> Result<Filter, String> {
        if self.next() != Some(Token::Open) {
            return Err("expected `(`".to_owned());
        }
        let inner = self.or()?;
        if self.next() != Some(Token::Close) {
            return Err("expected `)`".to_owned());
        }
        Ok(inner)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        match self.tokens.get(self.at) {
            Some(Token::Open) => self.group(),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") => {
                self.at += 1;
                Ok(Filter::Not(Box::new(self.group()?)))
            }
            Some(Token::Word(_)) => self.expression(),
            Some(other) => Err(format!("unexpected {other:?}")),
            None => Err("the filter ends too early".to_owned()),
        }
    }

    fn expression(&mut self) -> Result<Filter, String> {
        let Some(Token::Word(attr)) = self.next() else {
            return Err("expected an attribute".to_owned());
        };
        let path = parse_path(&attr, self.schema)?;
        if !self.schema.allows(&path) {
            return Err(format!("filtering on `{attr}` is not supported"));
        }
        let Some(Token::Word(op)) = self.next() else {
            return Err(format!("expected an operator after `{attr}`"));
        };
        let op = match op.to_ascii_lowercase().as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            _ => return Err(format!("unknown operator `{op}`")),
        };
        let value = match self.next() {
            Some(Token::Value(v)) => v,
            Some(Token::Word(w)) => match w.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                number => serde_json::from_str::<serde_json::Number>(number)
                    .map(Value::Number)
                    .map_err(|_| {
                        format!("`{w}` is not a value (strings must be in double quotes)")
                    })?,
            },
            _ => return Err(format!("expected a value after `{attr} {op:?}`")),
        };
        if matches!(op, Op::Co | Op::Sw | Op::Ew) && !value.is_string() {
            return Err(format!("{op:?} needs a string value"));
        }
        if matches!(op, Op::Gt | Op::Ge | Op::Lt | Op::Le)
            && (value.is_boolean() || value.is_null())
        {
            return Err("gt, ge, lt and le take no boolean or null (RFC 7644 §3.4.2.2)".to_owned());
        }
        Ok(Filter::Compare(path, op, value))
    }
}

/// `[urn:...:]name[.sub]`: the URN is everything up to the last `:` when the path starts
/// with `urn:`.
fn parse_path(raw: &str, schema: &Schema) -> Result<Path, String> {
    let lower = raw.to_ascii_lowercase();
    let (urn, rest) = if lower.starts_with("urn:") {
        let known = std::iter::once(schema.core)
            .chain(schema.extensions.iter().copied())
            .find(|u| lower.starts_with(u) && lower[u.len()..].starts_with(':'));
        match known {
            Some(u) => (Some(u.to_owned()), &lower[u.len() + 1..]),
            None => return Err(format!("`{raw}` names an unknown schema")),
        }
    } else {
        (None, lower.as_str())
    };
    let names: Vec<String> = rest.split('.').map(str::to_owned).collect();
    let valid = |n: &String| {
        let mut chars = n.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if names.is_empty() || names.len() > 2 || !names.iter().all(valid) {
        return Err(format!("`{raw}` is not an attribute path"));
    }
    Ok(Path { urn, names })
}

/// Parses `raw` for a resource of `schema`.
pub(crate) fn parse(raw: &str, schema: &Schema) -> Result<Filter, String> {
    let tokens = tokenize(raw)?;
    if tokens.is_empty() {
        return Err("the filter is empty".to_owned());
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        schema,
    };
    let filter = parser.or()?;
    if parser.at < parser.tokens.len() {
        return Err("unexpected text after the filter".to_owned());
    }
    Ok(filter)
}

/// A key of `object` equal to `name` ignoring ASCII case.
fn get_ci<'v>(object: &'v Value, name: &str) -> Option<&'v Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The values `path` designates in `resource`: a multi-valued attribute gives each of its
/// values; a complex multi-valued one without a sub-attribute gives each `value`.
fn values<'v>(resource: &'v Value, path: &Path) -> Vec<&'v Value> {
    let root = match &path.urn {
        Some(urn) if !urn.contains(":core:") => match get_ci(resource, urn) {
            Some(ext) => ext,
            None => return Vec::new(),
        },
        _ => resource,
    };
    let Some(top) = get_ci(root, &path.names[0]) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match top {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    let sub = path
        .names
        .get(1)
        .map(String::as_str)
        .or_else(|| items.iter().any(|v| v.is_object()).then_some("value"));
    match sub {
        None => items,
        Some(sub) => items
            .into_iter()
            .filter_map(|v| get_ci(v, sub))
            .filter(|v| !v.is_null())
            .collect(),
    }
}

fn compare(actual: &Value, op: Op, expected: &Value, case_exact: bool) -> bool {
    match (actual, expected) {
        (Value::String(a), Value::String(e)) => {
            let (a, e) = if case_exact {
                (a.clone(), e.clone())
            } else {
                (a.to_lowercase(), e.to_lowercase())
            };
            match op {
                Op::Eq => a == e,
                Op::Ne => a != e,
                Op::Co => a.contains(&e),
                Op::Sw => a.starts_with(&e),
                Op::Ew => a.ends_with(&e),
                // Dates are RFC 3339 in one format here, so text order is time order.
                Op::Gt => a > e,
                Op::Ge => a >= e,
                Op::Lt => a < e,
                Op::Le => a <= e,
            }
        }
        (Value::Bool(a), Value::Bool(e)) => match op {
            Op::Eq => a == e,
            Op::Ne => a != e,
            _ => false,
        },
        (Value::Number(a), Value::Number(e)) => {
            let (a, e) = (
                a.as_f64().unwrap_or(f64::NAN),
                e.as_f64().unwrap_or(f64::NAN),
            );
            match op {
                Op::Eq => (a - e).abs() < f64::EPSILON,
                Op::Ne => (a - e).abs() >= f64::EPSILON,
                Op::Gt => a > e,
                Op::Ge => a >= e,
                Op::Lt => a < e,
                Op::Le => a <= e,
                _ => false,
            }
        }
        _ => op == Op::Ne,
    }
}

/// Whether `resource` matches `filter`.
pub(crate) fn matches(filter: &Filter, resource: &Value, schema: &Schema) -> bool {
    match filter {
        Filter::Present(path) => values(resource, path).iter().any(|v| match v {
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Null => false,
            _ => true,
        }),
        Filter::Compare(path, op, expected) => {
            let found = values(resource, path);
            if expected.is_null() {
                // `eq null`: absent; `ne null`: present.
                return match op {
                    Op::Eq => found.is_empty(),
                    Op::Ne => !found.is_empty(),
                    _ => false,
                };
            }
            let exact = schema.is_case_exact(path);
            if *op == Op::Ne {
                // Not equal to every value (a multi-valued attribute with one equal value
                // does not match).
                !found.iter().any(|v| compare(v, Op::Eq, expected, exact))
            } else {
                found.iter().any(|v| compare(v, *op, expected, exact))
            }
        }
        Filter::And(a, b) => matches(a, resource, schema) && matches(b, resource, schema),
        Filter::Or(a, b) => matches(a, resource, schema) || matches(b, resource, schema),
        Filter::Not(inner) => !matches(inner, resource, schema),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SCHEMA: Schema = Schema {
        core: "urn:ietf:params:scim:schemas:core:2.0:user",
        extensions: &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"],
        attributes: &[
            "id",
            "username",
            "active",
            "emails",
            "emails.value",
            "emails.type",
            "name.givenname",
            "meta.lastmodified",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:department",
        ],
        case_exact: &["id"],
    };

    fn user() -> Value {
        json!({
            "id": "U1",
            "userName": "Bjensen@Example.com",
            "active": true,
            "name": {"givenName": "Barbara"},
            "emails": [{"value": "bjensen@example.com", "type": "work"}, {"value": "babs@jensen.org", "type": "home"}],
            "meta": {"lastModified": "2011-05-13T04:42:34Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tour Operations"}
        })
    }

    fn check(raw: &str) -> bool {
        let f = parse(raw, &SCHEMA).unwrap_or_else(|e| panic!("{raw}: {e}"));
        matches(&f, &user(), &SCHEMA)
    }

    #[test]
    fn operators_and_case_rules() {
        assert!(check(r#"userName eq "bjensen@example.com""#));
        assert!(check(r#"USERNAME Eq "BJENSEN@EXAMPLE.COM""#));
        assert!(!check(r#"id eq "u1""#), "id is caseExact");
        assert!(check(r#"id eq "U1""#));
        assert!(check(r#"emails co "jensen.org""#));
        assert!(check(r#"emails.value sw "BABS""#));
        assert!(check(r#"userName ew ".com""#));
        assert!(check(r#"emails.type eq "home""#));
        assert!(!check(r#"emails ne "babs@jensen.org""#));
        assert!(check("active eq true"));
        assert!(!check("active eq false"));
        assert!(check("name.givenName pr"));
        assert!(!check("emails.type pr and active eq false"));
        assert!(check(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#));
        assert!(!check(r#"meta.lastModified lt "2011-05-13T04:42:34Z""#));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations""#
        ));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "b""#
        ));
    }

    #[test]
    fn precedence_grouping_and_not() {
        // and binds tighter than or.
        assert!(check(r#"active eq false and id eq "x" or userName sw "b""#));
        assert!(!check(
            r#"active eq false and (id eq "x" or userName sw "b")"#
        ));
        assert!(check("not (active eq false)"));
        assert!(check(
            r#"userName eq "a \"quoted\" name" or active eq true"#
        ));
    }

    #[test]
    fn escaped_strings_compare_unescaped() {
        let f = parse(r#"userName eq "a\"b\\c""#, &SCHEMA).unwrap();
        assert_eq!(
            f,
            Filter::Compare(
                Path {
                    urn: None,
                    names: vec!["username".into()]
                },
                Op::Eq,
                Value::String("a\"b\\c".into())
            )
        );
    }

    #[test]
    fn rejects_what_is_not_supported() {
        for bad in [
            "",
            "userName",
            "userName eq",
            "userName eq bjensen",
            r#"userName zz "x""#,
            r#"title eq "x""#,
            r#"emails[type eq "work"]"#,
            r#"userName eq "x" and"#,
            r#"(userName eq "x""#,
            r#"userName eq "x")"#,
            r#"userName eq "unterminated"#,
            "active gt true",
            "active co true",
            r#"urn:example:unknown:attr eq "x""#,
            r#"name.givenName.deeper eq "x""#,
        ] {
            assert!(parse(bad, &SCHEMA).is_err(), "{bad:?} should be refused");
        }
    }
}
