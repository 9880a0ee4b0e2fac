//! The v3 list grammar: `filter`, `sortby` and value comparison.
//!
//! ```text
//! expr    := and ("or" and)*
//! and     := term ("and" term)*
//! term    := "(" expr ")" | clause
//! clause  := field op literal
//! op      := eq | ne | gt | lt
//! literal := 'text with '' as a quote' | number | true | false | null
//! ```
//!
//! Keywords are case-insensitive; field names are not. A literal is converted to the
//! field's type (`saas_id eq '4'` compares as the integer 4).

use std::cmp::Ordering;

use serde_json::Value;

use super::fields::{DataType, FieldDef, coerce};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
}

/// A parsed filter, with fields resolved to slots.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Cmp { slot: usize, op: Op, value: Value },
}

impl Expr {
    /// Evaluates the filter against a row; `get` returns the value in a slot.
    pub(crate) fn matches(&self, get: &dyn Fn(usize) -> Value) -> bool {
        match self {
            Expr::And(parts) => parts.iter().all(|p| p.matches(get)),
            Expr::Or(parts) => parts.iter().any(|p| p.matches(get)),
            Expr::Cmp { slot, op, value } => {
                let actual = get(*slot);
                match op {
                    Op::Eq => loosely_equal(&actual, value),
                    Op::Ne => !loosely_equal(&actual, value),
                    Op::Gt => {
                        !actual.is_null() && compare(&actual, value) == Some(Ordering::Greater)
                    }
                    Op::Lt => !actual.is_null() && compare(&actual, value) == Some(Ordering::Less),
                }
            }
        }
    }
}

/// Null equals null and the empty string.
fn loosely_equal(actual: &Value, wanted: &Value) -> bool {
    let empty = |v: &Value| v.is_null() || v.as_str() == Some("");
    if empty(actual) || empty(wanted) {
        return empty(actual) && empty(wanted);
    }
    compare(actual, wanted) == Some(Ordering::Equal)
}

/// Compares two values of the same kind; `None` for different kinds.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

/// Total order for sorting: nulls first, then by kind, then by value.
pub(crate) fn sort_order(a: &Value, b: &Value) -> Ordering {
    let rank = |v: &Value| match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    };
    compare(a, b).unwrap_or_else(|| rank(a).cmp(&rank(b)))
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Word(String),
    Text(String),
    Number(String),
}

fn tokenize(input: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            tokens.push(Token::Open);
            i += 1;
        } else if c == ')' {
            tokens.push(Token::Close);
            i += 1;
        } else if c == '\'' {
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated quoted value".to_owned()),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        text.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        text.push(ch);
                        i += 1;
                    }
                }
            }
            tokens.push(Token::Text(text));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            tokens.push(Token::Number(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            tokens.push(Token::Word(chars[start..i].iter().collect()));
        } else if c == '"' {
            return Err("values must be single-quoted ('value'), not double-quoted".to_owned());
        } else {
            return Err(format!("unexpected character {c:?} at position {i}"));
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    lookup: &'a dyn Fn(&str) -> Option<(usize, &'a FieldDef)>,
}

impl Parser<'_> {
    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let mut parts = vec![self.and()?];
        while self.peek_keyword("or") {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut parts = vec![self.term()?];
        while self.peek_keyword("and") {
            self.pos += 1;
            parts.push(self.term()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn term(&mut self) -> Result<Expr, String> {
        match self.tokens.get(self.pos).cloned() {
            Some(Token::Open) => {
                self.pos += 1;
                let inner = self.expr()?;
                if self.tokens.get(self.pos) != Some(&Token::Close) {
                    return Err("missing closing parenthesis".to_owned());
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(Token::Word(field)) => {
                self.pos += 1;
                self.clause(&field)
            }
            Some(other) => Err(format!("expected a field name, found {}", describe(&other))),
            None => Err("unexpected end of filter".to_owned()),
        }
    }

    fn clause(&mut self, field: &str) -> Result<Expr, String> {
        let (slot, def) = (self.lookup)(field).ok_or_else(|| format!("unknown field '{field}'"))?;
        let op = match self.tokens.get(self.pos) {
            Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "eq" => Op::Eq,
                "ne" => Op::Ne,
                "gt" => Op::Gt,
                "lt" => Op::Lt,
                _ => return Err(format!("unknown operator '{w}' (eq, ne, gt, lt)")),
            },
            Some(other) => {
                return Err(format!(
                    "expected an operator after '{field}', found {}",
                    describe(other)
                ));
            }
            None => return Err(format!("expected an operator after '{field}'")),
        };
        self.pos += 1;
        let raw = match self.tokens.get(self.pos) {
            Some(Token::Text(t)) => Value::String(t.clone()),
            Some(Token::Number(n)) => {
                serde_json::from_str::<Value>(n).map_err(|_| format!("bad number '{n}'"))?
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Value::Null,
            Some(other) => {
                return Err(format!(
                    "expected a value after '{field}', found {} (quote text as 'value')",
                    describe(other)
                ));
            }
            None => return Err(format!("expected a value after '{field}'")),
        };
        self.pos += 1;
        if raw.is_null() && matches!(op, Op::Gt | Op::Lt) {
            return Err(format!(
                "'{field}': null can only be compared with eq or ne"
            ));
        }
        // Text literals compare as text; no length limit applies to a search value.
        let unlimited = FieldDef {
            length: None,
            ..def.clone()
        };
        let value = if def.data_type == DataType::String && matches!(raw, Value::Bool(_)) {
            Value::String(raw.to_string())
        } else {
            coerce(&unlimited, &raw).map_err(|e| format!("'{field}': {e}"))?
        };
        Ok(Expr::Cmp { slot, op, value })
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Open => "'('".to_owned(),
        Token::Close => "')'".to_owned(),
        Token::Word(w) => format!("'{w}'"),
        Token::Text(t) => format!("'{t}'"),
        Token::Number(n) => n.clone(),
    }
}

/// Parses a filter; `lookup` resolves a field name to its slot and definition.
pub(crate) fn parse_filter<'a>(
    input: &str,
    lookup: &'a dyn Fn(&str) -> Option<(usize, &'a FieldDef)>,
) -> Result<Expr, String> {
    let tokens = tokenize(input)?;
    if tokens.is_empty() {
        return Err("empty filter".to_owned());
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        lookup,
    };
    let expr = parser.expr()?;
    if let Some(extra) = parser.tokens.get(parser.pos) {
        return Err(format!(
            "unexpected {} (join clauses with 'and' or 'or')",
            describe(extra)
        ));
    }
    Ok(expr)
}

/// Parses `sortby`: `field`, `field asc`, `field desc`, comma-separated for several keys.
/// Returns (slot, descending) pairs.
pub(crate) fn parse_sort(
    input: &str,
    lookup: &dyn Fn(&str) -> Option<usize>,
) -> Result<Vec<(usize, bool)>, String> {
    let mut keys = Vec::new();
    for part in input.split(',') {
        let mut words = part.split_whitespace();
        let Some(field) = words.next() else {
            return Err("empty sort key".to_owned());
        };
        let slot = lookup(field).ok_or_else(|| format!("unknown sort field '{field}'"))?;
        let desc = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(format!("sort direction must be asc or desc, got '{other}'"));
            }
        };
        if let Some(extra) = words.next() {
            return Err(format!("unexpected '{extra}' in sortby"));
        }
        keys.push((slot, desc));
    }
    Ok(keys)
}

/// Compares two rows by sort keys.
pub(crate) fn compare_rows(
    keys: &[(usize, bool)],
    a: &dyn Fn(usize) -> Value,
    b: &dyn Fn(usize) -> Value,
) -> Ordering {
    for &(slot, desc) in keys {
        let ord = sort_order(&a(slot), &b(slot));
        let ord = if desc { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oomnitza::fields::{Schema, people_builtins};
    use serde_json::json;

    fn parse(input: &str) -> Result<Expr, String> {
        let schema = Schema::new("users", people_builtins());
        let lookup = |name: &str| schema.slot(name).map(|s| (s, schema.def(s)));
        parse_filter(input, &lookup)
    }

    fn row(values: &[(usize, Value)]) -> impl Fn(usize) -> Value + '_ {
        move |slot| {
            values
                .iter()
                .find(|(s, _)| *s == slot)
                .map_or(Value::Null, |(_, v)| v.clone())
        }
    }

    #[test]
    fn parses_quotes_parentheses_and_types() {
        let e = parse("(username eq 'o''brien') and (role gt '3')").unwrap();
        let r = [(2, json!("o'brien")), (10, json!(4))];
        assert!(e.matches(&row(&r)));
        let r = [(2, json!("o'brien")), (10, json!(3))];
        assert!(!e.matches(&row(&r)));
        let e = parse("username eq 'a' or username eq 'b' and suspended eq true").unwrap();
        assert!(e.matches(&row(&[(2, json!("a"))])));
        assert!(!e.matches(&row(&[(2, json!("b")), (7, json!(false))])));
        let e = parse("email eq ''").unwrap();
        assert!(e.matches(&row(&[])));
        let e = parse("email ne null").unwrap();
        assert!(e.matches(&row(&[(3, json!("x@y"))])));
        assert!(!e.matches(&row(&[])));
    }

    #[test]
    fn rejects_bad_filters() {
        for bad in [
            "nosuch eq 'x'",
            "username eq",
            "username 'x'",
            "username like 'x'",
            "username eq \"x\"",
            "username eq 'x",
            "(username eq 'x'",
            "username eq 'x' username eq 'y'",
            "role eq 'abc'",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn sort_keys() {
        let lookup = |name: &str| (name == "username").then_some(2);
        assert_eq!(
            parse_sort("username desc", &lookup).unwrap(),
            vec![(2, true)]
        );
        assert_eq!(parse_sort("username", &lookup).unwrap(), vec![(2, false)]);
        assert!(parse_sort("email asc", &lookup).is_err());
        assert!(parse_sort("username up", &lookup).is_err());
    }
}
