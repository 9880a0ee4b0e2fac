//! The client and its discovery handler.

use std::sync::Arc;

use connector_http::{Clock, SystemClock};
use serde::de::DeserializeOwned;
use sync_engine::ApiStats;

use crate::config::ClientConfig;
use crate::error::Error;
use crate::list::Resources;
use crate::models::{Group, ListResponse, ResourceType, Schema, ServiceProviderConfig, User};
use crate::transport::Transport;

/// A SCIM 2.0 client for one service provider. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct ScimClient {
    transport: Arc<Transport>,
}

impl ScimClient {
    /// A client on the machine's clock. Fails on a base URL that is not http(s), has no
    /// host, or carries a user, password, query or fragment, and on a token an HTTP header
    /// cannot carry.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A client whose every wait (`Retry-After`, backoff) goes through `clock`.
    pub fn with_clock(config: ClientConfig, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        Ok(ScimClient {
            transport: Arc::new(Transport::new(config, clock)?),
        })
    }

    /// `/Users`.
    pub fn users(&self) -> Resources<User> {
        Resources::new(Arc::clone(&self.transport))
    }

    /// `/Groups`.
    pub fn groups(&self) -> Resources<Group> {
        Resources::new(Arc::clone(&self.transport))
    }

    /// `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`.
    pub fn discovery(&self) -> Discovery {
        Discovery {
            transport: Arc::clone(&self.transport),
        }
    }

    /// Traffic so far: every attempt, throttled answers, retries, time waited on rate
    /// limits.
    pub fn stats(&self) -> ApiStats {
        self.transport.stats()
    }

    /// The clock waits go through.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        self.transport.clock()
    }
}

/// The discovery endpoints (RFC 7644 §4). Get one with [`ScimClient::discovery`].
#[derive(Debug, Clone)]
pub struct Discovery {
    transport: Arc<Transport>,
}

impl Discovery {
    /// `GET /ServiceProviderConfig`.
    pub async fn service_provider_config(&self) -> Result<ServiceProviderConfig, Error> {
        let url = self.transport.url(&["ServiceProviderConfig"], &[]);
        self.transport.get_json(url).await
    }

    /// `GET /Schemas`: a list response (RFC 7644 §4) or a bare array (the form of RFC 7643
    /// §8.7's examples); both are read.
    pub async fn schemas(&self) -> Result<Vec<Schema>, Error> {
        self.list_or_array("Schemas").await
    }

    /// `GET /ResourceTypes`, a list response or a bare array (RFC 7643 §8.6).
    pub async fn resource_types(&self) -> Result<Vec<ResourceType>, Error> {
        self.list_or_array("ResourceTypes").await
    }

    async fn list_or_array<T: DeserializeOwned>(&self, endpoint: &str) -> Result<Vec<T>, Error> {
        let url = self.transport.url(&[endpoint], &[]);
        let response = self.transport.get(url).await?;
        let first = response.body.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'[') {
            response.json()
        } else {
            let list: ListResponse<T> = response.json()?;
            Ok(list.resources)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Auth;

    #[test]
    fn bad_tokens_are_refused_and_debug_shows_no_secret() {
        let url = url::Url::parse("https://scim.example/v2").unwrap();
        let e =
            ScimClient::new(ClientConfig::new(url.clone(), Auth::bearer("CANARY\nx"))).unwrap_err();
        assert!(!e.to_string().contains("CANARY"), "{e}");
        let client =
            ScimClient::new(ClientConfig::new(url.clone(), Auth::bearer("CANARY-77"))).unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("CANARY"), "{debug}");
        let config = ClientConfig::new(url, Auth::basic("ops", "CANARY-pw"));
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("CANARY") && debug.contains("ops"),
            "{debug}"
        );
    }
}
