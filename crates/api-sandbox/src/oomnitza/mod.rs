//! The Oomnitza emulator (skeleton: being filled in).

use serde::{Deserialize, Serialize};

use crate::SandboxError;
use crate::faults::Instrumentation;
use crate::server::RunningServer;

/// Configuration of the Oomnitza emulator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OomnitzaConfig {
    /// Port on 127.0.0.1; 0 lets the OS choose.
    pub port: u16,
    /// The bearer token the emulator accepts in `Authorization2`.
    pub token: String,
}

impl Default for OomnitzaConfig {
    fn default() -> Self {
        OomnitzaConfig {
            port: 0,
            token: "sandbox-oomnitza-token".to_owned(),
        }
    }
}

/// A running Oomnitza emulator.
#[derive(Debug)]
pub struct OomnitzaEmulator {
    server: RunningServer,
    config: OomnitzaConfig,
    instrumentation: Instrumentation,
}

impl OomnitzaEmulator {
    /// Starts the emulator.
    pub async fn start(config: OomnitzaConfig) -> Result<Self, SandboxError> {
        let instrumentation = Instrumentation::default();
        let router = axum::Router::new();
        let server = RunningServer::start(router, config.port, "oomnitza").await?;
        Ok(OomnitzaEmulator {
            server,
            config,
            instrumentation,
        })
    }

    /// Base URL (`/api/v3/...` lives below it).
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
