//! SCIM emulator tests: reqwest against a running emulator on loopback, one module per
//! area; the shared set-up is here.

use api_sandbox::DataSpec;
use api_sandbox::scim::{ScimConfig, ScimEmulator};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

mod discovery;
mod faults;
mod listing;
mod state;

async fn start(users: usize, config: ScimConfig) -> ScimEmulator {
    let spec = DataSpec {
        users,
        ..DataSpec::default()
    };
    ScimEmulator::start_generated(config, &spec)
        .await
        .expect("emulator starts")
}

struct Api {
    http: Client,
    base: String,
    token: String,
}

impl Api {
    fn new(scim: &ScimEmulator) -> Self {
        Api {
            http: Client::new(),
            base: scim.base_url(),
            token: scim.token().to_owned(),
        }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Response {
        self.http
            .get(format!("{}{path}", self.base))
            .query(query)
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request sent")
    }

    /// A 200 answer's body.
    async fn ok(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let r = self.get(path, query).await;
        assert_eq!(r.status(), StatusCode::OK, "{path} {query:?}");
        body(r).await
    }

    /// The ids of `/Users` matching `filter`, all on one page.
    async fn filtered(&self, filter: &str) -> Vec<String> {
        let page = self
            .ok("/Users", &[("filter", filter), ("count", "100")])
            .await;
        assert!(
            page["totalResults"].as_u64() <= Some(100),
            "{filter}: one page expected"
        );
        ids(&page)
    }
}

async fn body(r: Response) -> Value {
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(ct, "application/scim+json");
    r.json().await.expect("a JSON body")
}

fn ids(page: &Value) -> Vec<String> {
    page["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .map(|r| r["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// A SCIM error body: checks the schema and the status string; returns `scimType`.
async fn scim_error(r: Response, status: StatusCode) -> Option<String> {
    assert_eq!(r.status(), status);
    let b = body(r).await;
    assert_eq!(
        b["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(b["status"], status.as_u16().to_string());
    assert!(b["detail"].as_str().is_some_and(|d| !d.is_empty()), "{b}");
    b["scimType"].as_str().map(str::to_owned)
}
