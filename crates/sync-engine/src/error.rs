//! The crate's error type, [`Error`], and the payloads it carries.

use std::fmt;

use compact_str::CompactString;

use crate::connector::ConnectorError;
use crate::record::Collection;

/// Where in a template or expression a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// 0-based byte offset into the template text.
    pub offset: usize,
}

impl Position {
    /// The position of byte `offset` in `text`.
    pub fn at(text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let mut line = 1;
        let mut line_start = 0;
        for (i, b) in text.bytes().enumerate().take(offset) {
            if b == b'\n' {
                line += 1;
                line_start = i + 1;
            }
        }
        let col = text
            .get(line_start..offset)
            .map_or(offset - line_start, |s| s.chars().count())
            + 1;
        Position { line, col, offset }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} col {}", self.line, self.col)
    }
}

/// A configuration problem found while loading a mapping or filter, before any request.
///
/// `path` names the configuration key, e.g. `mapping.users.fields.full_name` or
/// `filters.exclude[0]`; `position` points into the template when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The configuration key, e.g. `mapping.users.fields.full_name`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// Where in the template, when known.
    pub position: Option<Position>,
}

impl ConfigError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            message: message.into(),
            position: None,
        }
    }

    pub(crate) fn at(mut self, position: Option<Position>) -> Self {
        self.position = position;
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)?;
        if let Some(p) = self.position {
            write!(f, " at {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A mapping or filter that failed for one record at run time.
///
/// Never fatal: the record is skipped with this reason and the run goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingError {
    /// The source key of the record.
    pub key: CompactString,
    /// The configuration key of the failing template, e.g. `mapping.users.fields.email`.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for MappingError {}

/// A saved plan no longer matches the systems it was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StalePlan {
    /// What changed, e.g. `Oomnitza users` or `the source (quip)`.
    pub what: String,
    /// The fingerprint recorded in the plan.
    pub expected: String,
    /// The fingerprint now.
    pub actual: String,
}

impl fmt::Display for StalePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the plan is stale: {} changed since it was made (fingerprint {}… ≠ {}…); make a new plan",
            self.what,
            short(&self.expected),
            short(&self.actual)
        )
    }
}

impl std::error::Error for StalePlan {}

fn short(fp: &str) -> &str {
    fp.get(..12).unwrap_or(fp)
}

/// The error type of this crate.
///
/// A small struct around a boxed [`ErrorKind`], so `Result<T, Error>` stays one pointer wide.
#[derive(Debug)]
pub struct Error {
    kind: Box<ErrorKind>,
}

/// What went wrong; see [`Error::kind`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is invalid (found before any request).
    #[error(transparent)]
    Config(ConfigError),
    /// A template failed for one record.
    #[error(transparent)]
    Mapping(MappingError),
    /// A saved plan does not match the current state.
    #[error(transparent)]
    Stale(StalePlan),
    /// Reading the source failed.
    #[error("reading the source ({system}) failed")]
    Source {
        /// The source's system name.
        system: String,
        /// The connector's error.
        #[source]
        source: ConnectorError,
    },
    /// Validating, reading or finishing a target collection failed.
    #[error("{stage} {collection} in {system} failed")]
    Target {
        /// The target's system name.
        system: String,
        /// What the engine was doing: `validating`, `reading` or `finishing`.
        stage: &'static str,
        /// Which collection.
        collection: Collection,
        /// The connector's error.
        #[source]
        source: ConnectorError,
    },
    /// A plan file could not be read or written.
    #[error("the plan file is not valid")]
    PlanFile(#[source] serde_json::Error),
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Consumes the error, returning its kind.
    pub fn into_kind(self) -> ErrorKind {
        *self.kind
    }

    /// True for configuration errors (the CLI exits 2 for these): invalid mappings or
    /// filters, a source reporting a configuration problem, or a target collection that
    /// cannot hold what the mapping writes.
    pub fn is_config(&self) -> bool {
        matches!(
            *self.kind,
            ErrorKind::Config(_)
                | ErrorKind::Source {
                    source: ConnectorError {
                        kind: crate::connector::ErrorKind::Config,
                        ..
                    },
                    ..
                }
                | ErrorKind::Target {
                    source: ConnectorError {
                        kind: crate::connector::ErrorKind::Config,
                        ..
                    },
                    stage: "validating",
                    ..
                }
        )
    }
}

/// An error and its causes, joined with `: ` — the whole story on one line, each part once
/// (messages never repeat their cause; the cause is the error's `source`).
pub fn report(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

impl Error {
    /// The error with its causes on one line (see [`report`]): what a session report's
    /// `fatal` and the logs show.
    pub fn report(&self) -> String {
        report(self)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.kind)
    }
}

impl<K: Into<ErrorKind>> From<K> for Error {
    fn from(kind: K) -> Self {
        Error {
            kind: Box::new(kind.into()),
        }
    }
}

impl From<ConfigError> for ErrorKind {
    fn from(e: ConfigError) -> Self {
        ErrorKind::Config(e)
    }
}

impl From<MappingError> for ErrorKind {
    fn from(e: MappingError) -> Self {
        ErrorKind::Mapping(e)
    }
}

impl From<StalePlan> for ErrorKind {
    fn from(e: StalePlan) -> Self {
        ErrorKind::Stale(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_counts_lines_and_chars() {
        let text = "ab\ncdé f";
        assert_eq!(
            Position::at(text, 0),
            Position {
                line: 1,
                col: 1,
                offset: 0
            }
        );
        let p = Position::at(text, text.find('f').expect("f"));
        assert_eq!((p.line, p.col), (2, 5));
    }

    #[test]
    fn messages_never_repeat_their_cause_and_the_report_says_each_part_once() {
        let cause = ConnectorError::new(
            crate::connector::ErrorKind::Auth,
            "401 Unauthorized: token rejected",
        );
        let e = Error::from(ErrorKind::Source {
            system: "directory".into(),
            source: cause,
        });
        assert_eq!(e.to_string(), "reading the source (directory) failed");
        assert_eq!(
            e.report(),
            "reading the source (directory) failed: 401 Unauthorized: token rejected"
        );
        let mut chain = Vec::new();
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = next {
            chain.push(c.to_string());
            next = c.source();
        }
        for (i, part) in chain.iter().enumerate() {
            for later in &chain[i + 1..] {
                assert!(!part.contains(later.as_str()), "{part:?} repeats {later:?}");
            }
        }
    }

    #[test]
    fn stale_message_is_clear() {
        let e = StalePlan {
            what: "people users".into(),
            expected: "abcdef0123456789".into(),
            actual: "0011223344556677".into(),
        };
        assert_eq!(
            e.to_string(),
            "the plan is stale: people users changed since it was made (fingerprint abcdef012345… ≠ 001122334455…); make a new plan"
        );
    }
}
