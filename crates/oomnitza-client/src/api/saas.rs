//! SaaS applications: `/api/v3/saas`.

use std::sync::Arc;

use futures::TryStreamExt;
use http::Method;

use crate::api::list::List;
use crate::error::Error;
use crate::filter::Filter;
use crate::models::{NewSaasApp, SaasApp, SaasCreated};
use crate::transport::{Request, Transport};

/// SaaS applications (`/api/v3/saas`).
#[derive(Debug, Clone)]
pub struct SaasHandler {
    t: Arc<Transport>,
}

impl SaasHandler {
    pub(crate) fn new(t: Arc<Transport>) -> Self {
        SaasHandler { t }
    }

    /// A listing of applications, paged with `limit`/`skip`.
    pub fn list(&self) -> ListSaas {
        List::new(&self.t, &["api", "v3", "saas"])
    }

    /// `GET /api/v3/saas/{ident}`.
    pub async fn get(&self, saas_id: &str) -> Result<SaasApp, Error> {
        self.t
            .json(&Request::get(&["api", "v3", "saas", saas_id]))
            .await
    }

    /// The application called exactly `name` (`filter=saas_name eq '<name>'`), if any.
    /// When several share the name, the one with the lowest id wins (and a warning is logged).
    pub async fn find_by_name(&self, name: &str) -> Result<Option<SaasApp>, Error> {
        let mut found: Vec<SaasApp> = self
            .list()
            .filter(Filter::new().eq("saas_name", name))
            .stream()
            .try_filter(|app| futures::future::ready(app.saas_name.as_deref() == Some(name)))
            .try_collect()
            .await?;
        if found.len() > 1 {
            tracing::warn!(
                count = found.len(),
                name,
                "several SaaS applications share this name; using the oldest"
            );
            found.sort_by_key(|a| {
                let id = a.saas_id.clone().unwrap_or_default();
                (id.parse::<u64>().unwrap_or(u64::MAX), id)
            });
        }
        Ok(found.into_iter().next())
    }

    /// `POST /api/v3/saas`: creates an application; returns its id (201
    /// `{"saas_id":"4"}`; a string or an integer).
    pub async fn create(&self, app: &NewSaasApp) -> Result<String, Error> {
        let req = Request::new(Method::POST, &["api", "v3", "saas"]).json(app)?;
        let created: SaasCreated = self.t.json(&req).await?;
        created.saas_id.ok_or_else(|| {
            Error::config("Oomnitza created the SaaS application but sent no saas_id".to_owned())
                .with_request(self.t.context(&req))
        })
    }

    /// The id of the application called `app.saas_name`, creating it from `app` when it
    /// does not exist. Returns `(saas_id, created)`.
    ///
    /// A create whose effect is unknown (5xx, timeout) is followed by another lookup
    /// before it is sent again, so the application is never created twice by this call.
    pub async fn find_or_create(&self, app: &NewSaasApp) -> Result<(String, bool), Error> {
        let name = app.saas_name.as_str();
        let mut last = None;
        for _ in 0..3 {
            if let Some(id) = self.find_by_name(name).await?.and_then(|a| a.saas_id) {
                return Ok((id, false));
            }
            match self.create(app).await {
                Ok(id) => return Ok((id, true)),
                Err(e) if e.is_transient() => {
                    tracing::warn!(error = %e, "creating the SaaS application failed with an unknown effect; looking it up again");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            Error::config(format!(
                "could not find or create the SaaS application {name:?}"
            ))
        }))
    }
}

/// An application listing; see [`SaasHandler::list`].
pub type ListSaas = List<SaasApp>;
