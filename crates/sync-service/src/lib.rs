//! The cloud service: the HTTP API under `/api/v1` (bearer tokens, owner-scoped
//! credentials and integrations, RUN NOW, runs, notifications, problem+json errors),
//! `/healthz`, `/metrics`, and the worker loop that runs queued runs, all on one
//! [`sync_store::Store`]. Vendor-neutral: a binary gives it its [`Pairing`] and the master
//! key, and calls [`serve`].
//!
//! The API is described endpoint by endpoint in the project's `docs/api.md`; deployment
//! and configuration in `docs/operations.md` ("Cloud service").
//!
//! # Example
//!
//! ```no_run
//! # async fn demo(pairing: &'static sync_runtime::Pairing) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use sync_service::{App, ServiceConfig};
//!
//! let store = sync_store::Store::open("/var/lib/acme-sync/cloud.db").await?;
//! let master = credential_store::MasterKey::from_env("ACME_SYNC_")?;
//! let config = ServiceConfig::default();
//! let listener = tokio::net::TcpListener::bind(config.listen).await?;
//! let app = Arc::new(App::new(store, Arc::new(master), pairing, config));
//! sync_service::serve(app, listener, None, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! None.

pub mod api;
pub mod extract;
pub mod metrics;
pub mod problem;
pub mod settings;
pub mod worker;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use credential_store::MasterKey;
use sync_runtime::Pairing;
use sync_store::{Mailer, Store};

pub use metrics::Metrics;
pub use problem::{Item, Problem};
pub use worker::WorkerConfig;

/// How the service runs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Where the API listens.
    pub listen: SocketAddr,
    /// The largest request body accepted, in bytes (413 above it).
    pub body_limit: usize,
    /// The longest a request may take (a launch's online checks included); 503 after.
    pub request_timeout: Duration,
    /// The worker loop.
    pub worker: WorkerConfig,
}

impl Default for ServiceConfig {
    /// `127.0.0.1:8080`, 1 MiB bodies, 60 s per request, the default worker.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            worker: WorkerConfig::default(),
        }
    }
}

/// Everything the handlers and the worker share.
#[derive(Debug)]
pub struct App {
    /// The database.
    pub store: Store,
    /// Seals and opens credentials.
    pub master: Arc<MasterKey>,
    /// The connectors this service runs.
    pub pairing: &'static Pairing,
    /// The metrics registry.
    pub metrics: Metrics,
    /// Configuration.
    pub config: ServiceConfig,
    /// Wakes the worker (RUN NOW).
    pub wake: worker::Wake,
}

impl App {
    /// The shared state of a service.
    pub fn new(
        store: Store,
        master: Arc<MasterKey>,
        pairing: &'static Pairing,
        config: ServiceConfig,
    ) -> Self {
        Self {
            store,
            master,
            pairing,
            metrics: Metrics::new(),
            config,
            wake: worker::Wake::default(),
        }
    }
}

/// A failure to serve.
#[derive(Debug, thiserror::Error)]
#[error("the HTTP server failed: {0}")]
pub struct ServeError(#[from] std::io::Error);

/// Serves the API on `listener` and runs the worker until `shutdown` completes; then stops
/// taking connections, lets requests in flight finish and drains the worker
/// ([`worker::run`]).
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    mailer: Option<Arc<dyn Mailer>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = if app.config.worker.concurrency > 0 {
        Some(tokio::spawn(worker::run(Arc::clone(&app), mailer, stop_rx)))
    } else {
        None
    };
    let router = api::router(Arc::clone(&app));
    let signal = async move {
        shutdown.await;
        tracing::info!("shutdown requested");
        // The worker sees `true` even once the sender is gone.
        let _ = stop_tx.send(true);
    };
    tracing::info!(listen = %listener.local_addr()?, store = %app.store.describe(), "serving");
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(signal)
        .await;
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    served.map_err(ServeError)
}
