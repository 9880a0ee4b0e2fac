//! Shared test helpers: the canary token, clocks, a scripted server and log capture.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
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

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub hang: bool,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
            hang: false,
        }
    }

    pub fn header(mut self, name: &str, value: u64) -> Self {
        self.headers.push((name.to_owned(), value.to_string()));
        self
    }

    pub fn hang() -> Self {
        Reply {
            hang: true,
            ..Reply::json(200, "{}")
        }
    }
}

/// A request the scripted server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path_and_query: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

#[derive(Debug, Default)]
struct Script {
    replies: VecDeque<Reply>,
    seen: Vec<Seen>,
    unexpected: usize,
}

/// A loopback server answering each request with the next scripted reply. A request
/// beyond the script is answered 599 and counted as unexpected.
pub struct ScriptedServer {
    pub url: String,
    script: Arc<Mutex<Script>>,
    _task: tokio::task::JoinHandle<()>,
}

async fn scripted(State(script): State<Arc<Mutex<Script>>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let header = |name: http::HeaderName| {
        parts
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("<non-ascii>").to_owned())
    };
    let reply = {
        let mut s = script.lock().unwrap();
        s.seen.push(Seen {
            method: parts.method.to_string(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map(ToString::to_string)
                .unwrap_or_default(),
            authorization: header(http::header::AUTHORIZATION),
            content_type: header(http::header::CONTENT_TYPE),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let next = s.replies.pop_front();
        if next.is_none() {
            s.unexpected += 1;
        }
        next
    };
    let Some(reply) = reply else {
        return (
            http::StatusCode::from_u16(599).unwrap(),
            "unexpected request",
        )
            .into_response();
    };
    if reply.hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let mut response = (
        http::StatusCode::from_u16(reply.status).unwrap(),
        reply.body,
    )
        .into_response();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    for (k, v) in reply.headers {
        response.headers_mut().insert(
            http::HeaderName::try_from(k).unwrap(),
            http::HeaderValue::try_from(v).unwrap(),
        );
    }
    response
}

impl ScriptedServer {
    pub async fn start(replies: Vec<Reply>) -> Self {
        let script = Arc::new(Mutex::new(Script {
            replies: replies.into(),
            ..Script::default()
        }));
        let app = axum::Router::new()
            .fallback(scripted)
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        ScriptedServer {
            url,
            script,
            _task: task,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.script.lock().unwrap().seen.clone()
    }

    /// Asserts every scripted reply was used and nothing else was asked.
    pub fn assert_done(&self) {
        let s = self.script.lock().unwrap();
        assert_eq!(s.unexpected, 0, "unexpected requests: {:#?}", s.seen);
        assert!(
            s.replies.is_empty(),
            "{} scripted replies unused; seen: {:#?}",
            s.replies.len(),
            s.seen
        );
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
