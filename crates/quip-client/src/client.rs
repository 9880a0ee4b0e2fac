//! The client and its handlers per API area.

use std::sync::Arc;
use std::time::Duration;

use connector_http::{Clock, SystemClock};
use secrecy::SecretString;
use sync_engine::ApiStats;

use crate::admin::AdminHandler;
use crate::config::ClientConfig;
use crate::error::QuipError;
use crate::events::EventsHandler;
use crate::oauth::OAuthHandler;
use crate::scim::ScimHandler;
use crate::transport::Transport;
use crate::users::UsersHandler;

/// A Quip API client. Cheap to clone: clones share connections, rate-limit state and
/// counters.
#[derive(Debug, Clone)]
pub struct QuipClient {
    pub(crate) transport: Arc<Transport>,
}

impl QuipClient {
    /// A client using the real clock.
    pub fn new(config: ClientConfig) -> Result<Self, QuipError> {
        QuipClient::with_clock(config, Arc::new(SystemClock))
    }

    /// A client whose waits go through `clock` (tests share a scaled clock with an
    /// emulator).
    pub fn with_clock(config: ClientConfig, clock: Arc<dyn Clock>) -> Result<Self, QuipError> {
        let transport = Transport::new(config, clock)?;
        Ok(QuipClient {
            transport: Arc::new(transport),
        })
    }

    /// The Platform API base URL requests go to.
    pub fn base_url(&self) -> &url::Url {
        &self.transport.base_url
    }

    /// Automation API users: current user, one user, bulk lookup, contacts.
    pub fn users(&self) -> UsersHandler {
        UsersHandler::new(self.clone())
    }

    /// Admin API: list users of a company, user information, admin roles.
    pub fn admin(&self) -> AdminHandler {
        AdminHandler::new(self.clone())
    }

    /// SCIM 2.0 users.
    pub fn scim(&self) -> ScimHandler {
        ScimHandler::new(self.clone())
    }

    /// Events API (paid add-on): cursors and `login` events.
    pub fn events(&self) -> EventsHandler {
        EventsHandler::new(self.clone())
    }

    /// OAuth2: refresh and verify tokens.
    pub fn oauth(&self) -> OAuthHandler {
        OAuthHandler::new(self.clone())
    }

    /// Replaces the access token (e.g. after [`OAuthHandler::refresh`]).
    pub fn set_token(&self, token: SecretString) {
        self.transport.set_token(token);
    }

    /// Traffic so far: every attempt, throttled responses, retries, rate-limit wait.
    pub fn stats(&self) -> ApiStats {
        self.transport.http.stats()
    }

    /// Time spent in backoff after transient failures (not part of `rate_limit_wait`).
    pub fn backoff_wait(&self) -> Duration {
        self.transport.http.backoff_wait()
    }

    /// Everything waited (pacing, throttling, backoff) since the run started; compared
    /// against [`crate::RetryPolicy::wait_caps`].
    pub fn run_waited(&self) -> Duration {
        self.transport.http.run_waited()
    }
}
