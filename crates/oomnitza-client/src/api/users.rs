//! People: `/api/v3/users` and `/api/v3/users/meta`.

use std::sync::Arc;

use futures::StreamExt;
use http::Method;
use serde::Serialize;

use crate::api::list::List;
use crate::error::Error;
use crate::filter::{Filter, is_valid_field_name};
use crate::models::{User, UsersMeta};
use crate::transport::{Idempotency, Request, Transport};

/// Options of a write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteOptions {
    /// Send `Oomnitza-Ignore-Meta-Restriction: 1`, needed to write fields whose metadata
    /// says `editable: "0"` (such as a read-only "Quip User Id").
    pub ignore_meta_restriction: bool,
}

impl WriteOptions {
    /// Options that send `Oomnitza-Ignore-Meta-Restriction: 1`.
    pub fn ignore_meta_restriction() -> Self {
        WriteOptions {
            ignore_meta_restriction: true,
        }
    }
}

/// People (`/api/v3/users`).
#[derive(Debug, Clone)]
pub struct UsersHandler {
    t: Arc<Transport>,
}

impl UsersHandler {
    pub(crate) fn new(t: Arc<Transport>) -> Self {
        UsersHandler { t }
    }

    /// A listing (all people unless filtered), paged with `limit`/`skip`.
    pub fn list(&self) -> ListUsers {
        List::new(&self.t, &["api", "v3", "users"])
    }

    /// People whose `field` equals `value` (first page only: meant for unique fields).
    pub async fn find_by(&self, field: &str, value: &str) -> Result<Vec<User>, Error> {
        self.list()
            .filter(Filter::new().eq(field, value))
            .page_size(10)
            .pages()
            .next()
            .await
            .unwrap_or(Ok(Vec::new()))
    }

    /// `GET /api/v3/users/{ident}` (`ident`: `user_id` or `username`).
    pub async fn get(&self, ident: &str) -> Result<User, Error> {
        self.t
            .json(&Request::get(&["api", "v3", "users", ident]))
            .await
    }

    /// `GET /api/v3/users/meta`: every People field, keyed by `external_id`.
    pub async fn meta(&self) -> Result<UsersMeta, Error> {
        self.t
            .json(&Request::get(&["api", "v3", "users", "meta"]))
            .await
    }

    /// `POST /api/v3/users`: creates a person (200 with the record).
    ///
    /// Never re-sent after a 5xx or a timeout (the server may have created it); see
    /// [`UsersHandler::create_or_find`].
    pub async fn create<B: Serialize + ?Sized>(
        &self,
        body: &B,
        options: WriteOptions,
    ) -> Result<User, Error> {
        let req = Request::new(Method::POST, &["api", "v3", "users"])
            .json(body)?
            .ignore_meta(options.ignore_meta_restriction);
        self.t.json(&req).await
    }

    /// Creates a person without ever creating it twice.
    ///
    /// When a create fails in a way that leaves its effect unknown (5xx, timeout, broken
    /// connection), looks the person up by `sync_field = key` (a unique field the body
    /// sets): found means the create went through; absent means it is sent again, up to
    /// three attempts in all. Other errors (such as 409) are returned as they are.
    pub async fn create_or_find<B: Serialize + ?Sized>(
        &self,
        body: &B,
        options: WriteOptions,
        sync_field: &str,
        key: &str,
    ) -> Result<User, Error> {
        if !is_valid_field_name(sync_field) {
            return Err(Error::config(format!(
                "sync field {sync_field:?} is not a valid field name"
            )));
        }
        let mut last = None;
        for round in 1..=3u32 {
            match self.create(body, options).await {
                Ok(user) => return Ok(user),
                Err(e) if e.is_transient() => {
                    tracing::warn!(round, error = %e, "create failed with an unknown effect; looking the person up before sending it again");
                    let found = self.find_by(sync_field, key).await?;
                    if let Some(user) = found.into_iter().next() {
                        return Ok(user);
                    }
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::config("create was never attempted".to_owned())))
    }

    /// `PATCH /api/v3/users/{ident}`: sets the fields in `body` (200 with the record).
    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        ident: &str,
        body: &B,
        options: WriteOptions,
    ) -> Result<User, Error> {
        let req = Request::new(Method::PATCH, &["api", "v3", "users", ident])
            .json(body)?
            .ignore_meta(options.ignore_meta_restriction);
        self.t.json(&req).await
    }

    /// `DELETE /api/v3/users/{ident}`: removes a person; returns the removed record when
    /// the server sends one (200), `None` for an empty answer (204).
    ///
    /// The sync never deletes people (it deactivates them); this is for tools and tests.
    pub async fn delete(&self, ident: &str) -> Result<Option<User>, Error> {
        let req = Request::new(Method::DELETE, &["api", "v3", "users", ident])
            .idempotency(Idempotency::Idempotent);
        let body = self.t.send(&req).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        self.t.decode(&req, &body).map(Some)
    }
}

/// A People listing; see [`UsersHandler::list`].
pub type ListUsers = List<User>;
