//! Include/exclude rules over source records.
//!
//! Each rule is an expression in the mapping language, e.g. `is_robot`,
//! `email is endingwith "@acme.com"` or `email.endswith("@acme.com")`. A record is kept when
//! it matches any include rule (or there are none) and no exclude rule. Rules are compiled
//! and validated when the configuration loads; errors name the rule (`filters.exclude[0]`).

use std::collections::BTreeSet;
use std::sync::Arc;

use minijinja::Environment;
use serde::{Deserialize, Serialize};

use crate::connector::FieldSpec;
use crate::error::{ConfigError, MappingError};
use crate::record::SourceRecord;
use crate::template::{self, Compiled, Known, MappingContext, RecordView, RunView};

/// Filter rules as written in configuration (`[filters]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Keep only records matching at least one of these (all records when empty).
    #[serde(default)]
    pub include: Vec<String>,
    /// Drop records matching any of these.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// Compiled filter rules.
#[derive(Debug)]
pub struct Filter {
    env: Environment<'static>,
    include: Vec<(String, Compiled)>,
    exclude: Vec<(String, Compiled)>,
    /// Per rule (include rules, then exclude rules): its path and the variables it reads.
    vars: Vec<(String, Vec<String>)>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter::keep_all()
    }
}

impl FilterConfig {
    /// Validates and compiles the rules; see [`MappingConfig::compile`](crate::MappingConfig::compile)
    /// for `source_fields`.
    pub fn compile(&self, source_fields: Option<&[FieldSpec]>) -> Result<Filter, ConfigError> {
        let mut env = template::environment();
        let known = Known::new(&env, source_fields);
        let mut compile =
            |list: &[String], what: &str| -> Result<Vec<(String, Compiled)>, ConfigError> {
                list.iter()
                    .enumerate()
                    .map(|(i, expr)| {
                        let path = format!("filters.{what}[{i}]");
                        let c = template::compile_expression(&mut env, &path, &path, expr, &known)?;
                        Ok((path, c))
                    })
                    .collect()
            };
        let include = compile(&self.include, "include")?;
        let exclude = compile(&self.exclude, "exclude")?;
        let vars = include
            .iter()
            .chain(&exclude)
            .map(|(path, c)| (path.clone(), template::variables(&env, c)))
            .collect();
        Ok(Filter {
            env,
            include,
            exclude,
            vars,
        })
    }
}

impl Filter {
    /// A filter that keeps every record.
    pub fn keep_all() -> Self {
        Filter {
            env: template::environment(),
            include: Vec::new(),
            exclude: Vec::new(),
            vars: Vec::new(),
        }
    }

    /// Every source field the rules read (derived from the compiled expressions).
    pub fn source_fields(&self) -> BTreeSet<String> {
        self.vars.iter().flat_map(|(_, v)| v.clone()).collect()
    }

    /// The first rule reading a field that is unknown for this record, with that field:
    /// such a record cannot be filtered, so it must not be used.
    pub(crate) fn unknown_rule(&self, unknown: &dyn Fn(&str) -> bool) -> Option<(&str, &str)> {
        self.vars.iter().find_map(|(path, vars)| {
            vars.iter()
                .find(|v| unknown(v))
                .map(|v| (path.as_str(), v.as_str()))
        })
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether `record` passes the rules. An expression that fails for this record is an
    /// error naming the rule; callers skip the record with that reason.
    pub fn keep(&self, record: &SourceRecord, ctx: &MappingContext) -> Result<bool, MappingError> {
        if self.is_empty() {
            return Ok(true);
        }
        let view = RunView::new(ctx).view(Arc::new(record.clone()));
        self.keep_view(&view)
    }

    pub(crate) fn keep_view(&self, view: &RecordView) -> Result<bool, MappingError> {
        let test = |(path, c): &(String, Compiled)| {
            template::eval_bool(&self.env, c, view).map_err(|message| MappingError {
                key: view.record().key.clone(),
                path: path.clone(),
                message,
            })
        };
        if !self.include.is_empty() {
            let mut any = false;
            for rule in &self.include {
                if test(rule)? {
                    any = true;
                    break;
                }
            }
            if !any {
                return Ok(false);
            }
        }
        for rule in &self.exclude {
            if test(rule)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
