//! SaaS users (seats): `/api/v3/saas/{id}/users` and `/api/v3/saas_users`.

use std::sync::Arc;

use http::Method;
use serde_json::json;

use crate::api::list::List;
use crate::error::{Error, ErrorKind};
use crate::filter::Filter;
use crate::models::{AssignResult, ExternalIdResult, ItemResult, SaasUser, SeatAssignment};
use crate::transport::{Idempotency, Request, Transport};

/// SaaS users (seats).
#[derive(Debug, Clone)]
pub struct SaasUsersHandler {
    t: Arc<Transport>,
}

impl SaasUsersHandler {
    pub(crate) fn new(t: Arc<Transport>) -> Self {
        SaasUsersHandler { t }
    }

    /// The seats of application `saas_id` (`GET /api/v3/saas/{id}/users`), paged.
    pub fn list(&self, saas_id: &str) -> ListSaasUsers {
        List::new(&self.t, &["api", "v3", "saas", saas_id, "users"])
    }

    /// Seats across applications (`GET /api/v3/saas_users`), e.g. filtered on `saas_id`.
    pub fn search(&self, filter: Filter) -> ListSaasUsers {
        List::new(&self.t, &["api", "v3", "saas_users"]).filter(filter)
    }

    /// `POST /api/v3/saas/{id}/users`: assigns (or refreshes, or with `assign: false`
    /// unassigns) seats in one request; one result per item (check each `error`).
    ///
    /// Assigning is idempotent (a second assignment leaves one seat), so this request is
    /// retried like a read.
    pub async fn assign(
        &self,
        saas_id: &str,
        seats: &[SeatAssignment],
    ) -> Result<Vec<AssignResult>, Error> {
        let req = Request::new(Method::POST, &["api", "v3", "saas", saas_id, "users"])
            .json(seats)?
            .idempotency(Idempotency::Idempotent);
        self.t.json(&req).await
    }

    /// `POST /api/v3/saas/{id}/users/{user_id}` `{"user_external_id": …}`: stores the
    /// person's id in the SaaS application. An error inside the 200 answer becomes
    /// [`ErrorKind::Item`].
    pub async fn set_external_id(
        &self,
        saas_id: &str,
        user_id: &str,
        external_id: &str,
    ) -> Result<(), Error> {
        let req = Request::new(
            Method::POST,
            &["api", "v3", "saas", saas_id, "users", user_id],
        )
        .json(&json!({ "user_external_id": external_id }))?
        .idempotency(Idempotency::Idempotent);
        let result: ExternalIdResult = self.t.json(&req).await?;
        match result.errors {
            Some(message) => Err(Error::new(ErrorKind::Item {
                item: format!("the external id of user {user_id}"),
                message,
            })
            .with_request(self.t.context(&req))),
            None => Ok(()),
        }
    }

    /// `PATCH /api/v3/saas_users/activate`: one result per seat id (check each `error`).
    pub async fn activate(&self, saas_user_ids: &[String]) -> Result<Vec<ItemResult>, Error> {
        self.set_status("activate", saas_user_ids).await
    }

    /// `PATCH /api/v3/saas_users/deactivate`: one result per seat id (check each `error`).
    pub async fn deactivate(&self, saas_user_ids: &[String]) -> Result<Vec<ItemResult>, Error> {
        self.set_status("deactivate", saas_user_ids).await
    }

    async fn set_status(&self, action: &str, ids: &[String]) -> Result<Vec<ItemResult>, Error> {
        let req = Request::new(Method::PATCH, &["api", "v3", "saas_users", action])
            .json(&json!({ "saas_user_ids": ids }))?;
        self.t.json(&req).await
    }
}

/// A seat listing; see [`SaasUsersHandler::list`] and [`SaasUsersHandler::search`].
pub type ListSaasUsers = List<SaasUser>;
