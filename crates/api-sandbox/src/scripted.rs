//! A scripted loopback server for client tests: each request gets the next reply of a
//! script, and the server records what it received. For the exact answers an emulator
//! would not give (a `Retry-After` in the past, a hung response, a body that is not
//! JSON), where a test pins down one request at a time.
//!
//! ```no_run
//! # async fn demo() {
//! use api_sandbox::scripted::{Reply, ScriptedServer};
//!
//! let server = ScriptedServer::start(vec![
//!     Reply::json(429, "{}").header("retry-after", 2),
//!     Reply::json(200, r#"{"ok":true}"#),
//! ])
//! .await;
//! // ... point a client at server.url ...
//! server.assert_done();
//! # }
//! ```

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code (any number from 100 to 999).
    pub status: u16,
    /// Headers to send, in order.
    pub headers: Vec<(String, String)>,
    /// The body, as is.
    pub body: String,
    /// Never answer (for timeouts).
    pub hang: bool,
}

impl Reply {
    /// `status` with `body` as `text/plain`.
    pub fn new(status: u16, body: &str) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
            hang: false,
        }
    }

    /// `status` with a JSON `body` (`Content-Type: application/json`).
    pub fn json(status: u16, body: &str) -> Self {
        Reply::new(status, body).header("content-type", "application/json")
    }

    /// A request that is never answered.
    pub fn hang() -> Self {
        Reply {
            hang: true,
            ..Reply::json(200, "{}")
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        self.headers.push((name.to_owned(), value.to_string()));
        self
    }
}

/// A request the scripted server received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query as sent.
    pub path_and_query: String,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The body, lossily decoded.
    pub body: String,
}

#[derive(Debug, Default)]
struct Script {
    replies: VecDeque<Reply>,
    seen: Vec<Seen>,
    unexpected: usize,
}

impl Script {
    fn lock(script: &Mutex<Script>) -> std::sync::MutexGuard<'_, Script> {
        script.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A loopback server answering each request with the next scripted reply. A request
/// beyond the script is answered 599 and counted as unexpected.
#[derive(Debug)]
pub struct ScriptedServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    script: Arc<Mutex<Script>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
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
        let mut s = Script::lock(&script);
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
        return (status(599), "unexpected request").into_response();
    };
    if reply.hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let mut response = (status(reply.status), reply.body).into_response();
    if reply
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        response.headers_mut().remove(http::header::CONTENT_TYPE);
    }
    for (k, v) in reply.headers {
        let name = http::HeaderName::try_from(k).expect("a valid header name");
        let value = http::HeaderValue::try_from(v).expect("a valid header value");
        response.headers_mut().append(name, value);
    }
    response
}

fn status(code: u16) -> http::StatusCode {
    http::StatusCode::from_u16(code).expect("a status code from 100 to 999")
}

impl ScriptedServer {
    /// Starts serving `replies` on a free loopback port.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(replies: Vec<Reply>) -> Self {
        let script = Arc::new(Mutex::new(Script {
            replies: replies.into(),
            ..Script::default()
        }));
        let app = axum::Router::new()
            .fallback(scripted)
            .with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("a bound listener's address")
        );
        let task = tokio::spawn(async move {
            // Ends when the test drops the server.
            let _ = axum::serve(listener, app).await;
        });
        ScriptedServer { url, script, task }
    }

    /// The requests received so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        Script::lock(&self.script).seen.clone()
    }

    /// Asserts every scripted reply was used and nothing else was asked.
    ///
    /// # Panics
    /// When a reply is unused or a request came beyond the script.
    pub fn assert_done(&self) {
        let s = Script::lock(&self.script);
        assert_eq!(s.unexpected, 0, "unexpected requests: {:#?}", s.seen);
        assert!(
            s.replies.is_empty(),
            "{} scripted replies unused; seen: {:#?}",
            s.replies.len(),
            s.seen
        );
    }
}
