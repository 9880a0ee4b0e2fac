//! Shared set-up: the emulator, clients on a manual clock, and a mock server that answers
//! fixed bodies and records what it was sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api_sandbox::DataSpec;
use api_sandbox::scim::{ScimConfig, ScimEmulator};
use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use scim_client::{Auth, ClientConfig, ManualClock, RetryPolicy, ScimClient, WaitCaps};

/// A fixture's text.
pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The emulator with `users` generated users and pages of at most `max_count`.
pub async fn emulator(users: usize, max_count: usize) -> ScimEmulator {
    let spec = DataSpec {
        users,
        ..DataSpec::default()
    };
    let config = ScimConfig {
        max_count,
        ..ScimConfig::default()
    };
    ScimEmulator::start_generated(config, &spec)
        .await
        .expect("emulator starts")
}

/// A configuration for `base` with `token`, fast backoff and a 10-minute cap per request.
pub fn config(base: &str, token: &str) -> ClientConfig {
    ClientConfig::new(url::Url::parse(base).unwrap(), Auth::bearer(token))
        .timeout(Duration::from_secs(5))
        .retry(
            RetryPolicy::default()
                .max_attempts(3)
                .backoff(Duration::from_millis(100), Duration::from_secs(1))
                .wait_caps(WaitCaps::request(Duration::from_secs(600))),
        )
}

/// A client of the emulator on a manual clock.
pub fn client_of(scim: &ScimEmulator, page_size: u32) -> (ScimClient, Arc<ManualClock>) {
    client_with(config(&scim.base_url(), scim.token()).page_size(page_size))
}

/// A client with `config` on a manual clock.
pub fn client_with(config: ClientConfig) -> (ScimClient, Arc<ManualClock>) {
    let clock = ManualClock::new();
    let client = ScimClient::with_clock(config, clock.clone()).unwrap();
    (client, clock)
}

/// One canned answer.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Canned {
    pub fn scim(status: u16, body: impl Into<String>) -> Self {
        Canned {
            status,
            content_type: "application/scim+json",
            body: body.into(),
        }
    }
}

/// What the mock received: path and query, and headers.
pub type Received = Arc<Mutex<Vec<(String, HeaderMap)>>>;

/// A mock server answering `GET <path>` (path without query) with its canned answer; any
/// other request is a 599, so an unexpected one fails the test that made it.
pub struct Mock {
    pub base: String,
    pub received: Received,
    _task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct MockState {
    routes: Arc<HashMap<String, Canned>>,
    received: Received,
}

async fn answer(State(state): State<MockState>, request: Request) -> Response {
    let uri = request.uri().clone();
    state.received.lock().unwrap().push((
        uri.path_and_query()
            .map(ToString::to_string)
            .unwrap_or_default(),
        request.headers().clone(),
    ));
    match state.routes.get(uri.path()) {
        Some(c) => (
            StatusCode::from_u16(c.status).unwrap(),
            [(header::CONTENT_TYPE, c.content_type)],
            c.body.clone(),
        )
            .into_response(),
        None => (StatusCode::from_u16(599).unwrap(), "unexpected request").into_response(),
    }
}

impl Mock {
    pub async fn start(routes: &[(&str, Canned)]) -> Mock {
        let state = MockState {
            routes: Arc::new(
                routes
                    .iter()
                    .map(|(p, c)| ((*p).to_owned(), c.clone()))
                    .collect(),
            ),
            received: Received::default(),
        };
        let received = Arc::clone(&state.received);
        let app = Router::new().fallback(answer).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Mock {
            base: format!("http://{addr}/scim/v2"),
            received,
            _task: task,
        }
    }

    /// Paths (with query) received, in order.
    pub fn paths(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }
}
