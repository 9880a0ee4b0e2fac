//! Quip's part of the send path: its hosts, its credentials (the API token, the SCIM
//! token), and its rate limits (pacing from `X-Ratelimit-*` and friends, 429 and 503
//! "Over Rate Limit" as throttling). Retries, backoff, the wait cap, counters, the body
//! cap and redirect refusal are `connector_http`'s.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use connector_http::{
    Authorization, Clock, HttpClient, Idempotency, RedactedUrl, Settings, Vendor, Verdict, Wait,
};
use http::{HeaderMap, Method, StatusCode};
use secrecy::SecretString;

use crate::config::{ClientConfig, RetryPolicy};
use crate::error::{ApiErrorBody, ErrorKind, QuipError};
use crate::ratelimit::{ApiClass, Pacer, RateLimitHeaders, throttle_wait};

/// Which credential a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// The API token.
    Api,
    /// The SCIM token (the API token when none is configured).
    Scim,
    /// No `Authorization` header (OAuth token endpoint: the body carries the client secret).
    None,
}

/// Quip's label of a request: the API it belongs to (its rate-limit window) and its
/// credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Call {
    pub(crate) class: ApiClass,
    pub(crate) auth: Auth,
}

/// One request, before it is sent.
pub(crate) type Request = connector_http::Request<Call>;
/// A successful response.
pub(crate) type Response = connector_http::Response<ApiErrorBody>;

/// A `GET` of `class` with its usual credential.
pub(crate) fn get(class: ApiClass, url: RedactedUrl) -> Request {
    let auth = if class == ApiClass::Scim {
        Auth::Scim
    } else {
        Auth::Api
    };
    Request::get(Call { class, auth }, url)
}

/// A form-encoded `POST` of `class`. Quip's form POSTs read (list users) and are safe to
/// repeat unless the caller says otherwise.
pub(crate) fn post_form(
    class: ApiClass,
    url: RedactedUrl,
    form: Vec<(&'static str, String)>,
) -> Request {
    let mut req = get(class, url).form(form);
    req.method = Method::POST;
    req
}

/// Quip's hooks: credentials, pacing and throttling.
pub(crate) struct Quip {
    token: RwLock<SecretString>,
    scim_token: Option<SecretString>,
    policy: RetryPolicy,
    pacer: Mutex<Pacer>,
}

impl fmt::Debug for Quip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quip")
            .field("token", &"[redacted]")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Quip {
    fn authorization(&self, auth: Auth) -> Option<Authorization> {
        match auth {
            Auth::None => None,
            Auth::Scim if self.scim_token.is_some() => {
                self.scim_token.clone().map(Authorization::Bearer)
            }
            Auth::Api | Auth::Scim => Some(Authorization::Bearer(
                self.token
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone(),
            )),
        }
    }
}

impl Vendor for Quip {
    type Tag = Call;
    type Body = ApiErrorBody;

    fn authorize(&self, call: Call, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.authorization(call.auth) {
            Some(a) => a.apply(builder),
            None => builder,
        }
    }

    fn secrets(&self) -> Vec<SecretString> {
        let mut s = vec![
            self.token
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        ];
        s.extend(self.scim_token.clone());
        s
    }

    fn pace(&self, call: Call, now: SystemTime) -> Option<Wait> {
        self.pacer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .wait_before(call.class, now, self.policy.pace_reserve, self.policy.slack)
    }

    fn observe(&self, call: Call, headers: &HeaderMap, now: SystemTime) {
        let limits = RateLimitHeaders::parse(headers);
        self.pacer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .observe(call.class, &limits, now);
    }

    /// 429, and 503 whose body says "Over Rate Limit", wait for the reset headers (61 s
    /// when they say 0 or nothing); every other 5xx is transient; other 4xx are final.
    fn classify(
        &self,
        call: Call,
        status: StatusCode,
        headers: &HeaderMap,
        body: &ApiErrorBody,
        now: SystemTime,
    ) -> Verdict {
        let over_rate_limit = status == StatusCode::SERVICE_UNAVAILABLE
            && body
                .message()
                .is_some_and(|m| m.to_ascii_lowercase().contains("over rate limit"));
        if status == StatusCode::TOO_MANY_REQUESTS || over_rate_limit {
            let limits = RateLimitHeaders::parse(headers);
            Verdict::Throttled {
                wait: Some(throttle_wait(call.class, &limits, now, &self.policy)),
            }
        } else if status.is_server_error() {
            Verdict::Transient { retry_after: None }
        } else {
            Verdict::Final
        }
    }
}

/// The shared HTTP machinery of a [`crate::QuipClient`].
pub(crate) struct Transport {
    pub(crate) http: HttpClient<Quip>,
    pub(crate) base_url: url::Url,
    pub(crate) scim_url: url::Url,
    /// Most pages one listing or Events cursor may take.
    pub(crate) max_pages: u64,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("base_url", &RedactedUrl::new(self.base_url.clone()))
            .field("scim_url", &RedactedUrl::new(self.scim_url.clone()))
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

fn parse_base(name: &str, raw: &str) -> Result<url::Url, QuipError> {
    let url = url::Url::parse(raw.trim())
        .map_err(|e| QuipError::config(format!("{name} is not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(QuipError::config(format!(
            "{name} must be an http(s) URL with a host, got {}",
            RedactedUrl::new(url)
        )));
    }
    Ok(url)
}

impl Transport {
    pub(crate) fn new(config: ClientConfig, clock: Arc<dyn Clock>) -> Result<Self, QuipError> {
        let base_url = parse_base("base_url", &config.base_url)?;
        let scim_url = parse_base("scim_url", &config.scim_url)?;
        let p = &config.retry;
        let retry = connector_http::RetryPolicy::new(
            p.max_attempts,
            p.max_throttled,
            (p.base_delay, p.max_delay),
            p.wait_caps,
        );
        let settings = Settings::new(
            (config.timeout, config.connect_timeout),
            config.user_agent.clone(),
            config.max_response_bytes,
            retry,
        );
        let quip = Quip {
            token: RwLock::new(config.token),
            scim_token: config.scim_token,
            policy: config.retry,
            pacer: Mutex::new(Pacer::default()),
        };
        for auth in [Auth::Api, Auth::Scim] {
            if !quip.authorization(auth).is_some_and(|a| a.is_valid()) {
                return Err(QuipError::config(
                    "the Quip token contains characters not allowed in an HTTP header",
                ));
            }
        }
        Ok(Transport {
            http: HttpClient::new(settings, quip, clock)?,
            base_url,
            scim_url,
            max_pages: config.max_pages.max(1),
        })
    }

    pub(crate) fn set_token(&self, token: SecretString) {
        *self
            .http
            .vendor()
            .token
            .write()
            .unwrap_or_else(PoisonError::into_inner) = token;
    }

    /// Sends `req` until it succeeds, fails for good, or the wait cap is reached.
    pub(crate) async fn send(&self, req: Request) -> Result<Response, QuipError> {
        self.http.send(&req).await
    }

    /// [`Transport::send`] for an endpoint this project only assumes exists: a 404 is
    /// [`ErrorKind::NotAvailable`].
    pub(crate) async fn send_unconfirmed(&self, req: Request) -> Result<Response, QuipError> {
        self.http.send(&req).await.map_err(|e| {
            if e.status() == Some(StatusCode::NOT_FOUND) {
                let request = e.request().cloned();
                let e = QuipError::new(ErrorKind::NotAvailable);
                match request {
                    Some(r) => e.with_request(r),
                    None => e,
                }
            } else {
                e
            }
        })
    }

    /// A request that must not be repeated after a failure Quip may have acted on.
    pub(crate) fn once(mut req: Request) -> Request {
        req.idempotency = Idempotency::NonIdempotent;
        req
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_base_urls_are_config_errors() {
        for bad in ["not a url", "ftp://host/", "file:///tmp"] {
            let e = parse_base("base_url", bad).unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::Config { .. }), "{bad}: {e}");
        }
    }
}
