//! Roles of one SaaS application: `/api/v3/saas/{id}/roles`.

use std::sync::Arc;

use http::Method;
use serde_json::{Map, Value as Json};

use crate::error::Error;
use crate::models::{RoleAssignment, RoleOverwrite, RoleUserResult, SaasRole};
use crate::transport::{Idempotency, Request, Transport};

/// Roles of one SaaS application.
#[derive(Debug, Clone)]
pub struct RolesHandler {
    t: Arc<Transport>,
    saas_id: String,
}

impl RolesHandler {
    pub(crate) fn new(t: Arc<Transport>, saas_id: String) -> Self {
        RolesHandler { t, saas_id }
    }

    fn path<'a>(&'a self, tail: &[&'a str]) -> Vec<&'a str> {
        let mut p = vec!["api", "v3", "saas", self.saas_id.as_str(), "roles"];
        p.extend_from_slice(tail);
        p
    }

    /// `GET /api/v3/saas/{id}/roles`: every role of the application in one request (the
    /// OpenAPI document gives this operation no query parameters, so none are sent; an
    /// application has a handful of roles).
    pub async fn list(&self) -> Result<Vec<SaasRole>, Error> {
        self.t.json(&Request::get(&self.path(&[]))).await
    }

    /// `POST /api/v3/saas/{id}/roles` `{"role_external_label": …, "role_external_id": …}`
    /// (201 with the role). Not re-sent after a failure with unknown effect; see
    /// [`RolesHandler::create_or_find`].
    pub async fn create(&self, label: &str, external_id: Option<&str>) -> Result<SaasRole, Error> {
        let mut body = Map::new();
        body.insert("role_external_label".into(), Json::String(label.to_owned()));
        if let Some(id) = external_id {
            body.insert("role_external_id".into(), Json::String(id.to_owned()));
        }
        let req = Request::new(Method::POST, &self.path(&[])).json(&body)?;
        self.t.json(&req).await
    }

    /// The role labelled `label`, created when missing, never twice: after a failure with
    /// unknown effect the roles are listed again before the create is re-sent.
    pub async fn create_or_find(
        &self,
        label: &str,
        external_id: Option<&str>,
    ) -> Result<SaasRole, Error> {
        let mut last = None;
        for round in 0..3 {
            if round > 0 {
                let roles = self.list().await?;
                if let Some(r) = roles
                    .into_iter()
                    .find(|r| r.role_external_label.as_deref() == Some(label))
                {
                    return Ok(r);
                }
            }
            match self.create(label, external_id).await {
                Ok(role) => return Ok(role),
                Err(e) if e.is_transient() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::config(format!("could not create the role {label:?}"))))
    }

    /// `POST /api/v3/saas/{id}/roles/users` `{"users":[user_id…],"roles":[role_id…]}`: adds
    /// the roles to a batch of people; per-user results when the server sends them (check
    /// each `error`).
    pub async fn assign(&self, assignment: &RoleAssignment) -> Result<Vec<RoleUserResult>, Error> {
        let req = Request::new(Method::POST, &self.path(&["users"]))
            .json(assignment)?
            .idempotency(Idempotency::Idempotent);
        self.per_user(&req).await
    }

    /// `PATCH /api/v3/saas/{id}/roles/users` `{"users":"<user_id>","roles":[…]}`: replaces
    /// the roles of **one** person (an empty list clears them); per-user results when the
    /// server sends them. Setting the same roles again changes nothing, so it is retried.
    pub async fn overwrite(&self, overwrite: &RoleOverwrite) -> Result<Vec<RoleUserResult>, Error> {
        let req = Request::new(Method::PATCH, &self.path(&["users"])).json(overwrite)?;
        self.per_user(&req).await
    }

    /// Per-user results from a role change: a JSON array, or nothing (an empty or
    /// non-array body is accepted, since the answer's shape is undocumented).
    async fn per_user(&self, req: &Request) -> Result<Vec<RoleUserResult>, Error> {
        let body = self.t.send(req).await?;
        let is_array = body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'[');
        if !is_array {
            return Ok(Vec::new());
        }
        self.t.decode(req, &body)
    }
}
