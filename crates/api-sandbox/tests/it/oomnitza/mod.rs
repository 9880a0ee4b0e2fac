//! Oomnitza emulator tests: reqwest against a running emulator on loopback, one module per
//! API area; the shared set-up is here.

use std::fmt::Write as _;

use api_sandbox::oomnitza::{OomnitzaConfig, OomnitzaEmulator};
use http::Method;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

mod auth;
mod bulk;
mod faults;
mod listing;
mod metadata;
mod saas;
mod saas_users;
mod state;
mod users;

struct Env {
    emu: OomnitzaEmulator,
    client: reqwest::Client,
}

async fn start() -> Env {
    start_with(OomnitzaConfig::default()).await
}

async fn start_with(config: OomnitzaConfig) -> Env {
    let emu = OomnitzaEmulator::start(config)
        .await
        .expect("emulator starts");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    Env { emu, client }
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.base_url())
    }

    fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("Authorization2", self.emu.token())
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.req(Method::GET, path)
    }

    fn post(&self, path: &str, body: &Value) -> RequestBuilder {
        self.req(Method::POST, path).json(body)
    }

    fn patch(&self, path: &str, body: &Value) -> RequestBuilder {
        self.req(Method::PATCH, path).json(body)
    }

    /// Sends and returns (status, JSON body).
    async fn send(&self, request: RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.expect("body read");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        (status, body)
    }

    /// A page of People: (usernames, X-Total-Count).
    async fn usernames(&self, query: &str) -> (Vec<String>, u64) {
        let response = self
            .get(&format!("/api/v3/users?{query}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::OK, "query {query}");
        let total = total_count(&response);
        let body: Value = response.json().await.expect("json");
        let names = body
            .as_array()
            .expect("a bare array")
            .iter()
            .map(|p| p["username"].as_str().unwrap_or_default().to_owned())
            .collect();
        (names, total)
    }

    fn add(&self, person: Value) -> Value {
        self.emu.state().add_person(person).expect("person added")
    }

    /// Adds `n` people `user000`… with a role and a position.
    fn add_numbered(&self, n: usize) {
        for i in 0..n {
            self.add(json!({
                "username": format!("user{i:03}"),
                "email": format!("user{i:03}@acme.example"),
                "role": i % 5,
            }));
        }
    }
}

fn total_count(response: &Response) -> u64 {
    response
        .headers()
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("X-Total-Count header")
}
fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
fn bulk_payload(portion: &str, sync: &[&str], records: &Value) -> Value {
    json!({
        "connector_version": "sandbox-test", "sync_field": sync, "records": records,
        "portion": portion, "data_type": "users", "insert_only": false, "update_only": false,
        "error": null, "test_run": false, "multi_str_input_value": null,
        "connector_name": "Quip",
    })
}
