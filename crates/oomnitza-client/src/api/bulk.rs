//! The connector portion API (`/api/v3/bulk`) and run logs
//! (`/api/v3/connector_run_logs`).
//!
//! A run opens a portion (a client-made uuid), uploads records to it in batches with
//! `sync_field` (the server matches on those fields in order and decides create vs.
//! update), then finalizes it. Per-record results exist only in the run logs.

use std::sync::Arc;

use http::Method;
use serde_json::json;

use crate::api::list::List;
use crate::error::Error;
use crate::models::{BulkUpload, PortionDetails, PortionInfo, RunLog, UsersMeta};
use crate::transport::{Idempotency, Request, Transport};

/// The bulk API id of a People field.
///
/// Working assumption (`oomnitza-api.md` §13): `username`→`USER`, `email`→`EMAIL`,
/// `first_name`→`FIRST_NAME`, `last_name`→`LAST_NAME`; any other field is addressed by its
/// metadata `internal_id`, or by its REST name when the metadata has none.
pub fn bulk_field_id(field: &str, meta: &UsersMeta) -> String {
    match field {
        "username" => "USER".to_owned(),
        "email" => "EMAIL".to_owned(),
        "first_name" => "FIRST_NAME".to_owned(),
        "last_name" => "LAST_NAME".to_owned(),
        other => meta
            .get(other)
            .and_then(|m| m.internal_id.clone())
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| other.to_owned()),
    }
}

/// The connector portion API.
#[derive(Debug, Clone)]
pub struct BulkHandler {
    t: Arc<Transport>,
}

impl BulkHandler {
    pub(crate) fn new(t: Arc<Transport>) -> Self {
        BulkHandler { t }
    }

    /// `POST /api/v3/bulk`: uploads one batch to a portion.
    ///
    /// Retried like an idempotent request: the server upserts on `sync_field`, so sending
    /// the same batch twice to the same portion leaves the same records (the run log may
    /// count them twice).
    pub async fn upload(&self, batch: &BulkUpload) -> Result<(), Error> {
        let req = Request::new(Method::POST, &["api", "v3", "bulk"])
            .json(batch)?
            .idempotency(Idempotency::Idempotent);
        self.t.execute(&req).await
    }

    /// `GET /api/v3/bulk/{portion}`: portion info (`canceled`); `None` for a `null` body.
    pub async fn portion(&self, portion: &str) -> Result<Option<PortionInfo>, Error> {
        self.t
            .json(&Request::get(&["api", "v3", "bulk", portion]))
            .await
    }

    /// `POST /api/v3/bulk/{portion}/finalize` with `{}`: closes the sync session.
    pub async fn finalize(&self, portion: &str) -> Result<(), Error> {
        let req = Request::new(Method::POST, &["api", "v3", "bulk", portion, "finalize"])
            .json(&json!({}))?
            .idempotency(Idempotency::Idempotent);
        self.t.execute(&req).await
    }

    /// `GET /api/v3/connector_run_logs/{connector}`: the connector's run logs, paged.
    pub fn run_logs(&self, connector: &str) -> ListRunLogs {
        List::new(&self.t, &["api", "v3", "connector_run_logs", connector])
    }

    /// `GET /api/v3/connector_run_logs/connectors/{ident}`: details of one portion.
    pub async fn run_log_details(&self, ident: &str) -> Result<PortionDetails, Error> {
        self.t
            .json(&Request::get(&[
                "api",
                "v3",
                "connector_run_logs",
                "connectors",
                ident,
            ]))
            .await
    }
}

/// A run-log listing; see [`BulkHandler::run_logs`].
pub type ListRunLogs = List<RunLog>;
