//! The Quip emulator (skeleton: being filled in).

use serde::{Deserialize, Serialize};

use crate::SandboxError;
use crate::datagen::Person;
use crate::faults::Instrumentation;
use crate::server::RunningServer;

/// Configuration of the Quip emulator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct QuipConfig {
    /// Port on 127.0.0.1; 0 lets the OS choose.
    pub port: u16,
    /// The bearer token the emulator accepts (an admin's token).
    pub token: String,
}

impl Default for QuipConfig {
    fn default() -> Self {
        QuipConfig {
            port: 0,
            token: "sandbox-quip-token".to_owned(),
        }
    }
}

/// A running Quip emulator.
#[derive(Debug)]
pub struct QuipEmulator {
    server: RunningServer,
    config: QuipConfig,
    instrumentation: Instrumentation,
}

impl QuipEmulator {
    /// Starts the emulator with these people in company `company_id`.
    pub async fn start(
        config: QuipConfig,
        company_id: String,
        people: Vec<Person>,
    ) -> Result<Self, SandboxError> {
        let _ = (company_id, people);
        let instrumentation = Instrumentation::default();
        let router = axum::Router::new();
        let server = RunningServer::start(router, config.port, "quip").await?;
        Ok(QuipEmulator {
            server,
            config,
            instrumentation,
        })
    }

    /// Base URL of the API (Automation, Admin, Events; SCIM is served here too).
    pub fn base_url(&self) -> String {
        self.server.url()
    }

    /// The accepted bearer token (a sandbox value, not a secret).
    pub fn token(&self) -> &str {
        &self.config.token
    }

    /// Injected faults.
    pub fn faults(&self) -> &crate::faults::Faults {
        &self.instrumentation.faults
    }

    /// Request counters.
    pub fn counters(&self) -> &crate::faults::Counters {
        &self.instrumentation.counters
    }

    /// Stops the emulator.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}
