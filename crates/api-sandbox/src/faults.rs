//! Fault injection and request counting, shared by both emulators.
//!
//! Every request passes through [`layer`]: it is counted by method, route template and
//! final status, and may be hit by an injected [`Fault`]. Faults are rules that match a
//! method and an axum route template (e.g. `GET /2/Users`), skip a number of matching
//! requests, then fire a number of times (or forever).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, Method, StatusCode};
use serde::Serialize;

/// What happens to a request hit by a fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer with this status, body and headers instead of calling the handler.
    Status {
        /// HTTP status.
        status: u16,
        /// Response body (sent as `application/json`).
        body: String,
        /// Extra headers.
        headers: Vec<(String, String)>,
    },
    /// Wait this long, then handle the request normally.
    Latency(Duration),
    /// Never answer (the connection stays open until the client gives up).
    Hang,
    /// Handle the request, then replace the body with invalid JSON (status kept).
    MalformedBody,
    /// Handle the request, then cut the body in half (status kept).
    TruncatedBody,
    /// For paged lists: serve the previous page again instead of the requested one.
    RepeatPage,
    /// For paged lists: skip the requested page and serve the next one in its place.
    SkipPage,
}

impl Fault {
    /// A bare status with a JSON body.
    pub fn status(status: u16, body: impl Into<String>) -> Self {
        Fault::Status {
            status,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// True for faults that list handlers apply themselves (see [`PageFault`]).
    fn is_paging(&self) -> bool {
        matches!(self, Fault::RepeatPage | Fault::SkipPage)
    }
}

/// Which requests a [`FaultRule`] hits.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// Method to match; `None` matches any.
    pub method: Option<Method>,
    /// The route template as registered, e.g. `/2/Users` or `/api/v3/users/{ident}`.
    pub route: String,
    /// The fault.
    pub fault: Fault,
    /// Matching requests to let through before the fault fires.
    pub skip: u32,
    /// How many times it fires; `None` = every matching request from then on.
    pub times: Option<u32>,
}

impl FaultRule {
    /// A rule hitting every `method route` request from now on.
    pub fn new(method: Method, route: impl Into<String>, fault: Fault) -> Self {
        FaultRule {
            method: Some(method),
            route: route.into(),
            fault,
            skip: 0,
            times: None,
        }
    }

    /// Lets the first `n` matching requests through.
    #[must_use]
    pub fn after(mut self, n: u32) -> Self {
        self.skip = n;
        self
    }

    /// Fires only `n` times.
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
}

#[derive(Debug)]
struct ActiveRule {
    rule: FaultRule,
    seen: u32,
    fired: u32,
}

/// The injected faults of one emulator. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    rules: Arc<Mutex<Vec<ActiveRule>>>,
}

impl Faults {
    /// Adds a rule. Rules are checked in the order added; the first that fires wins.
    pub fn inject(&self, rule: FaultRule) {
        self.lock().push(ActiveRule {
            rule,
            seen: 0,
            fired: 0,
        });
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// How many times rules for `route` have fired so far.
    pub fn fired(&self, route: &str) -> u32 {
        self.lock()
            .iter()
            .filter(|r| r.rule.route == route)
            .map(|r| r.fired)
            .sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ActiveRule>> {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fault for this request, if a rule fires (consumes one firing).
    fn next(&self, method: &Method, route: &str) -> Option<Fault> {
        let mut rules = self.lock();
        for active in rules.iter_mut() {
            let rule = &active.rule;
            if rule.route != route || rule.method.as_ref().is_some_and(|m| m != method) {
                continue;
            }
            if rule.times.is_some_and(|t| active.fired >= t) {
                continue;
            }
            active.seen += 1;
            if active.seen <= rule.skip {
                continue;
            }
            active.fired += 1;
            return Some(rule.fault.clone());
        }
        None
    }
}

/// A paging fault for the list handler of this request, inserted as a request extension
/// by [`layer`]. Handlers read it with `Option<Extension<PageFault>>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageFault {
    /// Serve the previous page again.
    Repeat,
    /// Skip this page and serve the next one.
    Skip,
}

/// One row of the request counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestCount {
    /// HTTP method.
    pub method: String,
    /// Route template (or the raw path when no route matched).
    pub route: String,
    /// Status sent (0 when the request was hung and never answered).
    pub status: u16,
    /// How many.
    pub count: u64,
}

/// (method, route, status)
type CounterKey = (String, String, u16);

/// Counters of every request an emulator received. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Counters {
    inner: Arc<Mutex<BTreeMap<CounterKey, u64>>>,
}

impl Counters {
    fn record(&self, method: &Method, route: &str, status: u16) {
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        *map.entry((method.to_string(), route.to_owned(), status))
            .or_default() += 1;
    }

    /// Every counter row, sorted by method, route and status.
    pub fn snapshot(&self) -> Vec<RequestCount> {
        let map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        map.iter()
            .map(|((method, route, status), count)| RequestCount {
                method: method.clone(),
                route: route.clone(),
                status: *status,
                count: *count,
            })
            .collect()
    }

    /// Total requests received.
    pub fn total(&self) -> u64 {
        self.snapshot().iter().map(|r| r.count).sum()
    }

    /// Requests for `method route`, any status.
    pub fn count(&self, method: &str, route: &str) -> u64 {
        self.snapshot()
            .iter()
            .filter(|r| r.method == method && r.route == route)
            .map(|r| r.count)
            .sum()
    }

    /// Requests answered with `status`, any route.
    pub fn with_status(&self, status: u16) -> u64 {
        self.snapshot()
            .iter()
            .filter(|r| r.status == status)
            .map(|r| r.count)
            .sum()
    }

    /// Requests that may change state: every method but GET, HEAD and OPTIONS.
    pub fn writes(&self) -> u64 {
        self.snapshot()
            .iter()
            .filter(|r| !matches!(r.method.as_str(), "GET" | "HEAD" | "OPTIONS"))
            .map(|r| r.count)
            .sum()
    }

    /// Forgets every count.
    pub fn reset(&self) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// What [`layer`] needs: the emulator's faults and counters.
#[derive(Debug, Clone, Default)]
pub struct Instrumentation {
    /// Injected faults.
    pub faults: Faults,
    /// Request counters.
    pub counters: Counters,
}

/// Axum middleware: applies injected faults and counts every request.
/// Install with `axum::middleware::from_fn_with_state(instrumentation, layer)` via
/// `Router::route_layer` so that the route template is known.
pub async fn layer(
    State(inst): State<Instrumentation>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_owned(),
        |m| m.as_str().to_owned(),
    );
    let fault = inst.faults.next(&method, &route);
    if let Some(f) = &fault {
        tracing::debug!(%method, %route, fault = ?f, "injecting fault");
    }
    let response = match fault {
        Some(Fault::Status {
            status,
            body,
            headers,
        }) => {
            let mut response = (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                body,
            )
                .into_response();
            let h = response.headers_mut();
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            for (name, value) in headers {
                if let (Ok(n), Ok(v)) = (
                    HeaderName::try_from(name.as_str()),
                    HeaderValue::try_from(value.as_str()),
                ) {
                    h.insert(n, v);
                }
            }
            response
        }
        Some(Fault::Hang) => {
            inst.counters.record(&method, &route, 0);
            // Long enough for any client timeout; the server's graceful shutdown ends it.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        Some(Fault::Latency(d)) => {
            tokio::time::sleep(d).await;
            next.run(request).await
        }
        Some(f @ (Fault::MalformedBody | Fault::TruncatedBody)) => {
            let response = next.run(request).await;
            let (mut parts, body) = response.into_parts();
            let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
            let new_body = if f == Fault::MalformedBody {
                b"{\"this is\": not json".to_vec()
            } else {
                bytes[..bytes.len() / 2].to_vec()
            };
            parts.headers.remove(http::header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(new_body))
        }
        Some(f) if f.is_paging() => {
            let page_fault = if f == Fault::RepeatPage {
                PageFault::Repeat
            } else {
                PageFault::Skip
            };
            request.extensions_mut().insert(page_fault);
            next.run(request).await
        }
        _ => next.run(request).await,
    };
    inst.counters
        .record(&method, &route, response.status().as_u16());
    response
}
