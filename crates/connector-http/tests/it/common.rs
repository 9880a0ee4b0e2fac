//! The scripted loopback server, a manual clock and a test vendor.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

pub use api_sandbox::scripted::{Reply, ScriptedServer};
pub use connector_http::ManualClock;
use connector_http::{
    ApiBody, Authorization, Clock, HttpClient, RedactedUrl, RetryPolicy, Settings, Vendor, Wait,
    WaitCaps,
};
use secrecy::SecretString;

/// A token that must never show up in an error, a URL shown or `Debug` output.
pub const CANARY: &str = "CANARY-http-5e1d0";

/// Epoch second the manual clock starts at.
pub const T0: u64 = ManualClock::START;

/// The test vendor's error body: the text, scrubbed.
#[derive(Debug)]
pub struct TextBody(pub String);

impl fmt::Display for TextBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ApiBody for TextBody {
    const VENDOR: &'static str = "Acme";

    fn parse(bytes: &[u8], secrets: &[&str]) -> Self {
        let text = String::from_utf8_lossy(bytes).trim().to_owned();
        TextBody(
            secrets
                .iter()
                .filter(|s| !s.is_empty())
                .fold(text, |t, s| t.replace(s, "[redacted]")),
        )
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A vendor with the default classification, a bearer token and an optional one-off
/// pacing wait.
#[derive(Debug)]
pub struct Acme {
    pub auth: Authorization,
    pub pace_once: Mutex<Option<Duration>>,
    pub observed: Mutex<Vec<Option<String>>>,
}

impl Vendor for Acme {
    type Tag = ();
    type Body = TextBody;

    fn authorize(&self, (): (), builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        self.auth.apply(builder)
    }

    fn secrets(&self) -> Vec<SecretString> {
        vec![self.auth.secret().clone()]
    }

    fn pace(&self, (): (), _now: SystemTime) -> Option<Wait> {
        self.pace_once.lock().unwrap().take().map(|duration| Wait {
            duration,
            reason: "window exhausted".into(),
        })
    }

    fn observe(&self, (): (), headers: &http::HeaderMap, _now: SystemTime) {
        let remaining = headers
            .get("x-remaining")
            .map(|v| v.to_str().unwrap().to_owned());
        self.observed.lock().unwrap().push(remaining);
    }
}

/// A policy with fast, bounded backoff.
pub fn policy() -> RetryPolicy {
    RetryPolicy::new(
        4,
        3,
        (Duration::from_millis(500), Duration::from_secs(8)),
        WaitCaps::run(Duration::from_secs(600)),
    )
}

/// A client for `server` with `policy`, the canary token and `clock`.
pub fn client(clock: &Arc<ManualClock>, policy: RetryPolicy) -> HttpClient<Acme> {
    client_with(clock, policy, 1 << 20)
}

pub fn client_with(
    clock: &Arc<ManualClock>,
    policy: RetryPolicy,
    max_bytes: u64,
) -> HttpClient<Acme> {
    let settings = Settings::new(
        (Duration::from_secs(5), Duration::from_secs(2)),
        "connector-http-tests",
        max_bytes,
        policy,
    );
    let vendor = Acme {
        auth: Authorization::Bearer(SecretString::from(CANARY)),
        pace_once: Mutex::new(None),
        observed: Mutex::new(Vec::new()),
    };
    let clock: Arc<dyn Clock> = clock.clone();
    HttpClient::new(settings, vendor, clock).expect("client")
}

/// `base` + `path` as a URL to send to.
pub fn url(base: &str, path: &str) -> RedactedUrl {
    RedactedUrl::new(url::Url::parse(&format!("{base}{path}")).unwrap())
}
