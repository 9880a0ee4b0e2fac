//! Automation API users (quip-api.md §4.1–4.4).

use std::collections::BTreeMap;

use crate::client::QuipClient;
use crate::error::{ErrorKind, QuipError};
use crate::models::{BulkEntry, BulkLookup, User};
use crate::ratelimit::ApiClass;
use crate::transport::get;

/// Most keys one bulk lookup accepts.
pub const BULK_LIMIT: usize = 1000;

/// Automation API users. Get one with [`QuipClient::users`].
#[derive(Debug, Clone)]
pub struct UsersHandler {
    client: QuipClient,
}

impl UsersHandler {
    pub(crate) fn new(client: QuipClient) -> Self {
        UsersHandler { client }
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> crate::RedactedUrl {
        crate::RedactedUrl::join(&self.client.transport.base_url, segments, query)
    }

    /// `GET /1/users/current`: the token owner, whose `company_id` every Admin call needs.
    pub async fn current(&self) -> Result<User, QuipError> {
        let url = self.url(&["1", "users", "current"], &[]);
        self.client
            .transport
            .send(get(ApiClass::Automation, url))
            .await?
            .json()
    }

    /// `GET /1/users/{id_or_email}`. An unknown user is an error with status 404 (see
    /// [`UsersHandler::find`]).
    pub async fn get(&self, id_or_email: &str) -> Result<User, QuipError> {
        let url = self.url(&["1", "users", id_or_email], &[]);
        self.client
            .transport
            .send(get(ApiClass::Automation, url))
            .await?
            .json()
    }

    /// Like [`UsersHandler::get`], with an unknown user (404) as `None`.
    pub async fn find(&self, id_or_email: &str) -> Result<Option<User>, QuipError> {
        match self.get(id_or_email).await {
            Ok(u) => Ok(Some(u)),
            Err(e) if matches!(e.kind(), ErrorKind::Api { .. }) && e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /1/users/?ids=a,b,c`: up to [`BULK_LIMIT`] ids or emails in one call. The
    /// result is keyed by the keys passed in; a key Quip does not know maps to
    /// [`BulkEntry::Error`] with Quip's message (the call itself succeeds).
    pub async fn lookup<S: AsRef<str>>(&self, keys: &[S]) -> Result<BulkLookup, QuipError> {
        if keys.is_empty() {
            return Ok(BulkLookup::new());
        }
        if keys.len() > BULK_LIMIT {
            return Err(QuipError::config(format!(
                "a bulk lookup takes at most {BULK_LIMIT} ids or emails, got {}",
                keys.len()
            )));
        }
        let ids = keys.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(",");
        let url = self.url(&["1", "users", ""], &[("ids", &ids)]);
        let response = self
            .client
            .transport
            .send(get(ApiClass::Automation, url))
            .await?;
        let raw: BTreeMap<String, serde_json::Value> = response.json()?;
        let mut out = BulkLookup::new();
        for (key, value) in raw {
            let entry = match value {
                serde_json::Value::String(message) => BulkEntry::Error(message),
                serde_json::Value::Object(mut map) => {
                    if !map.contains_key("id") && !key.contains('@') {
                        map.insert("id".to_owned(), serde_json::Value::String(key.clone()));
                    }
                    if map.contains_key("id") {
                        let bytes = serde_json::to_vec(&map).unwrap_or_default();
                        let user: User =
                            response.decode(&bytes).map_err(|e| prefix_path(e, &key))?;
                        BulkEntry::Found(Box::new(user))
                    } else {
                        BulkEntry::Error("Quip returned this user without an id".to_owned())
                    }
                }
                other => BulkEntry::Error(format!("unexpected entry: {other}")),
            };
            out.insert(key, entry);
        }
        Ok(out)
    }

    /// `GET /1/users/contacts`: the token owner's contacts (not a company directory).
    pub async fn contacts(&self) -> Result<Vec<User>, QuipError> {
        let url = self.url(&["1", "users", "contacts"], &[]);
        self.client
            .transport
            .send(get(ApiClass::Automation, url))
            .await?
            .json()
    }
}

/// Puts the map key in front of a decode error's path, so it names the failing entry.
fn prefix_path(error: QuipError, key: &str) -> QuipError {
    let request = error.request().cloned();
    let error = match error.into_kind() {
        ErrorKind::Decode { path, source } => QuipError::new(ErrorKind::Decode {
            path: if path == "." {
                key.to_owned()
            } else {
                format!("{key}.{path}")
            },
            source,
        }),
        other => QuipError::new(other),
    };
    match request {
        Some(r) => error.with_request(r),
        None => error,
    }
}
