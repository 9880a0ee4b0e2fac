//! Quip emulator tests: reqwest against a running emulator on loopback, one module per API
//! area; the shared set-up is here.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api_sandbox::quip::{QuipConfig, QuipEmulator, QuipLimits};
use api_sandbox::{Clock, DataSpec, Person, datagen};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

mod admin;
mod auth;
mod automation;
mod events;
mod faults;
mod ratelimit;
mod scim;
mod state;

/// A clock that only moves when told to.
#[derive(Debug)]
struct TestClock(Mutex<SystemTime>);

impl TestClock {
    /// At `secs` after the epoch.
    fn at(secs: u64) -> Arc<Self> {
        Arc::new(TestClock(Mutex::new(
            UNIX_EPOCH + Duration::from_secs(secs),
        )))
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().expect("clock lock") += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().expect("clock lock")
    }
}

/// The start of a minute that is also the start of an hour (1_800_000_000 is not).
const HOUR_START: u64 = 1_799_996_400;

fn spec(users: usize) -> DataSpec {
    DataSpec {
        users,
        ..DataSpec::default()
    }
}

fn unlimited() -> QuipConfig {
    QuipConfig {
        limits: QuipLimits::unlimited(),
        ..QuipConfig::default()
    }
}

async fn start(users: usize, config: QuipConfig) -> QuipEmulator {
    let spec = spec(users);
    QuipEmulator::start(
        config,
        datagen::company_id(spec.seed),
        datagen::generate(&spec),
    )
    .await
    .expect("emulator starts")
}

struct Api {
    http: Client,
    base: String,
    token: String,
}

impl Api {
    fn new(quip: &QuipEmulator) -> Self {
        Self::with_token(quip, quip.token())
    }

    fn with_token(quip: &QuipEmulator, token: &str) -> Self {
        Api {
            http: Client::new(),
            base: quip.base_url(),
            token: token.to_owned(),
        }
    }

    async fn get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request sent")
    }

    async fn get_query(&self, path: &str, query: &[(&str, &str)]) -> Response {
        self.http
            .get(format!("{}{path}", self.base))
            .query(query)
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request sent")
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(format!("{}{path}", self.base))
            .form(form)
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request sent")
    }

    async fn delete(&self, path: &str) -> Response {
        self.http
            .delete(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request sent")
    }

    async fn scim_page(&self, start_index: usize, count: usize) -> Value {
        let r = self
            .get_query(
                "/2/Users",
                &[
                    ("startIndex", &start_index.to_string()),
                    ("count", &count.to_string()),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        body(r).await
    }

    async fn admin_page(&self, company: &str, page: usize, count: usize) -> Value {
        let r = self
            .post_form(
                "/1/admin/users/list",
                &[
                    ("company_id", company),
                    ("page", &page.to_string()),
                    ("count", &count.to_string()),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        body(r).await
    }
}

async fn body(r: Response) -> Value {
    r.json().await.expect("JSON body")
}

fn header(r: &Response, name: &str) -> Option<u64> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii").parse().expect("number"))
}

fn ids(values: &Value, key: &str) -> Vec<String> {
    values[key]
        .as_array()
        .expect("array")
        .iter()
        .map(|u| u["id"].as_str().expect("id").to_owned())
        .collect()
}

fn new_person(id: &str, email: &str) -> Person {
    Person {
        quip_id: id.to_owned(),
        name: "Zoë Newcomer".to_owned(),
        first_name: "Zoë".to_owned(),
        last_name: "Newcomer".to_owned(),
        emails: vec![email.to_owned()],
        disabled: false,
        is_robot: false,
        created_usec: 1_700_000_000_000_000,
        admin_role: None,
        last_login_usec: None,
    }
}
