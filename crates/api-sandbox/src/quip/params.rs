//! Request parameters: query strings and form-encoded bodies, with Quip-style errors.

use std::collections::HashMap;

use super::error::ApiError;
use super::state::Shared;

/// Parameters of one request (query string, or form body for POST).
#[derive(Debug, Default)]
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    /// Parses a query string (`None` = no query).
    pub(crate) fn query(raw: Option<&str>) -> Result<Self, ApiError> {
        Self::parse(raw.unwrap_or("").as_bytes())
    }

    /// Parses a form-urlencoded body.
    pub(crate) fn form(body: &[u8]) -> Result<Self, ApiError> {
        Self::parse(body)
    }

    fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
            .map_err(|e| ApiError::bad_request(format!("Malformed parameters: {e}")))?;
        // The first occurrence of a repeated parameter wins.
        let mut map = HashMap::with_capacity(pairs.len());
        for (k, v) in pairs {
            map.entry(k).or_insert(v);
        }
        Ok(Params(map))
    }

    /// Adds the parameters of `other` that this one lacks.
    pub(crate) fn merge(mut self, other: Params) -> Self {
        for (k, v) in other.0 {
            self.0.entry(k).or_insert(v);
        }
        self
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A required parameter.
    pub(crate) fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::bad_request(format!("{name} is required")))
    }

    /// An optional integer parameter.
    pub(crate) fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("{name} must be an integer"))),
        }
    }

    /// An optional boolean parameter (`true`/`1`, `false`/`0`).
    pub(crate) fn flag(&self, name: &str) -> bool {
        matches!(
            self.get(name).map(str::to_ascii_lowercase).as_deref(),
            Some("true" | "1")
        )
    }

    /// Checks `company_id`: required, and it must be the caller's company (else 403).
    pub(crate) fn company(&self, shared: &Shared) -> Result<(), ApiError> {
        let company = self.required("company_id")?;
        if company == shared.company_id {
            Ok(())
        } else {
            Err(ApiError::other_company())
        }
    }
}
