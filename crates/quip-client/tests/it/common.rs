//! Shared test helpers: the canary token, clocks, a scripted server and log capture.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

pub use api_sandbox::scripted::{Reply, ScriptedServer};
use async_trait::async_trait;
pub use connector_http::ManualClock;
use quip_client::{ClientConfig, Clock, RetryPolicy};
use secrecy::SecretString;

/// A recognisable token that must never appear in any output.
pub const CANARY: &str = "CANARY-quip-7f3a9";
/// A recognisable SCIM token.
pub const SCIM_CANARY: &str = "CANARY-scim-51c2e";

/// Epoch second the manual clock starts at.
pub const T0: u64 = ManualClock::START;

/// A client configuration for a loopback server with the canary token.
pub fn config(base: &str) -> ClientConfig {
    ClientConfig::new(SecretString::from(CANARY))
        .base_url(base)
        .scim_url(base)
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(2))
        .retry(
            RetryPolicy::default()
                .base_delay(Duration::from_millis(500))
                .max_delay(Duration::from_secs(8)),
        )
}

/// Adapter: the emulator's scaled clock as the client's clock (one shared timeline).
#[derive(Debug)]
pub struct Scaled(pub Arc<api_sandbox::ScaledClock>);

#[async_trait]
impl Clock for Scaled {
    fn now(&self) -> SystemTime {
        api_sandbox::Clock::now(&*self.0)
    }

    async fn sleep(&self, duration: Duration) {
        self.0.sleep(duration).await;
    }
}

/// A buffer that collects formatted log lines.
#[derive(Debug, Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Installs a subscriber writing every event at TRACE (the emulator's own logs excluded)
/// into a buffer, for the current thread, until the guard drops.
pub fn capture_logs() -> (LogBuffer, tracing::subscriber::DefaultGuard) {
    let buffer = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("trace,api_sandbox=off")
        .with_writer(buffer.clone())
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    (buffer, guard)
}

/// Asserts `text` holds neither canary token.
pub fn assert_no_canary(what: &str, text: &str) {
    assert!(
        !text.contains(CANARY) && !text.contains(SCIM_CANARY),
        "{what} leaks a token: {text}"
    );
}
