//! The client: one per tenant, cheap to clone, handlers per API area.

use std::sync::Arc;

use sync_engine::ApiStats;

use crate::api::{BulkHandler, RolesHandler, SaasHandler, SaasUsersHandler, UsersHandler};
use crate::config::ClientConfig;
use crate::error::Error;
use crate::transport::Transport;

/// An Oomnitza REST v3 client.
///
/// Clones share one connection pool, one concurrency limit and one set of statistics.
/// `Debug` shows the base URL, never the credentials.
#[derive(Debug, Clone)]
pub struct OomnitzaClient {
    pub(crate) transport: Arc<Transport>,
}

impl OomnitzaClient {
    /// A client for the tenant in `config`.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        Ok(OomnitzaClient {
            transport: Arc::new(Transport::new(config)?),
        })
    }

    /// People: list, get, create, patch, delete, metadata.
    pub fn users(&self) -> UsersHandler {
        UsersHandler::new(Arc::clone(&self.transport))
    }

    /// SaaS applications: list, find by name, create.
    pub fn saas(&self) -> SaasHandler {
        SaasHandler::new(Arc::clone(&self.transport))
    }

    /// SaaS users (seats): list, assign, external ids, activate, deactivate.
    pub fn saas_users(&self) -> SaasUsersHandler {
        SaasUsersHandler::new(Arc::clone(&self.transport))
    }

    /// Roles of the SaaS application `saas_id`.
    pub fn roles(&self, saas_id: impl Into<String>) -> RolesHandler {
        RolesHandler::new(Arc::clone(&self.transport), saas_id.into())
    }

    /// The connector portion ("bulk") API and run logs.
    pub fn bulk(&self) -> BulkHandler {
        BulkHandler::new(Arc::clone(&self.transport))
    }

    /// Requests sent so far (every attempt), retries, throttled responses and time waited
    /// on throttling.
    pub fn stats(&self) -> ApiStats {
        self.transport.stats()
    }

    /// The page size list calls use.
    pub fn page_size(&self) -> u32 {
        self.transport.page_size()
    }

    /// The tenant's base URL.
    pub fn base_url(&self) -> &url::Url {
        self.transport.base_url()
    }
}
