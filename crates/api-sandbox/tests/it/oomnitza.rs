//! Oomnitza emulator tests: reqwest against a running emulator on loopback.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Duration;

use api_sandbox::datagen::{self, DataSpec};
use api_sandbox::faults::{Fault, FaultRule};
use api_sandbox::oomnitza::{
    CustomField, DataType, OomnitzaConfig, OomnitzaEmulator, Outcome, SeatStatus,
};
use http::Method;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

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

#[tokio::test]
async fn auth_accepts_authorization2_and_basic_only() {
    let env = start().await;
    let url = env.url("/api/v3/users");
    let c = &env.client;
    let token = env.emu.token();
    let expect_401 = [
        c.get(&url),
        c.get(&url).header("Authorization2", "wrong-token"),
        c.get(&url).bearer_auth(token),
        c.get(&url).header("Authorization", token),
        c.get(&url).basic_auth("sandbox-admin", Some("wrong")),
        c.get(&url).header("Authorization2", ""),
    ];
    for request in expect_401 {
        let (status, body) = env.send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, json!({"errors": ["Authentication failure"]}));
    }
    let (user, password) = env.emu.basic_credentials();
    let (status, body) = env.send(c.get(&url).basic_auth(user, Some(password))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!([]));
    let (status, _) = env.send(env.get("/api/v3/users")).await;
    assert_eq!(status, StatusCode::OK);
    let counters = env.emu.counters();
    assert_eq!(counters.with_status(401), 6, "401s are counted");
    assert_eq!(counters.count("GET", "/api/v3/users"), 8);
    // The actor is recorded: Basic user vs the token's user.
    let (_, created) = env
        .send(
            c.post(&url)
                .basic_auth(user, Some(password))
                .json(&json!({"username": "basic"})),
        )
        .await;
    assert_eq!(created["created_by"], "sandbox-admin");
    let (_, created) = env
        .send(env.post("/api/v3/users", &json!({"username": "token"})))
        .await;
    assert_eq!(created["created_by"], "api-token-user");
}

#[tokio::test]
async fn paging_empty_exact_multiple_and_partial_last_page() {
    let env = start().await;
    let (names, total) = env.usernames("limit=10&skip=0").await;
    assert!(names.is_empty());
    assert_eq!(total, 0);

    env.add_numbered(20);
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (names, total) = env
            .usernames(&format!("limit=10&skip={}", seen.len()))
            .await;
        assert_eq!(total, 20);
        pages += 1;
        let short = names.len() < 10;
        seen.extend(names);
        if short {
            break;
        }
    }
    assert_eq!(
        pages, 3,
        "exact multiple: two full pages, then an empty one"
    );
    assert_eq!(seen.len(), 20);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 20);

    for i in 20..25 {
        env.add(json!({"username": format!("user{i:03}")}));
    }
    let (last, _) = env.usernames("limit=10&skip=20").await;
    assert_eq!(
        last,
        ["user020", "user021", "user022", "user023", "user024"]
    );
    let (beyond, total) = env.usernames("limit=10&skip=500").await;
    assert!(beyond.is_empty());
    assert_eq!(total, 25);

    // Default limit is 100.
    for i in 25..150 {
        env.add(json!({"username": format!("user{i:03}")}));
    }
    let (page, _) = env.usernames("").await;
    assert_eq!(page.len(), 100);
    let (status, body) = env.send(env.get("/api/v3/users?limit=abc")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"][0].as_str().unwrap().contains("limit"));
}

#[tokio::test]
async fn limit_above_1000_is_silently_capped() {
    let env = start().await;
    let persons = datagen::generate(&DataSpec {
        users: 1_200,
        ..DataSpec::default()
    });
    assert_eq!(env.emu.state().seed_people_from(&persons, 1.0).len(), 1_200);
    let (page, total) = env.usernames("limit=5000").await;
    assert_eq!(page.len(), 1000);
    assert_eq!(total, 1200);
    let (rest, _) = env.usernames("limit=5000&skip=1000").await;
    assert_eq!(rest.len(), 200);
}

#[tokio::test]
async fn sortby_orders_and_rejects_unknown_fields() {
    let env = start().await;
    for name in ["carol", "alice", "bob"] {
        env.add(json!({"username": name}));
    }
    let (names, _) = env.usernames("sortby=username%20asc").await;
    assert_eq!(names, ["alice", "bob", "carol"]);
    let (names, _) = env.usernames("sortby=username%20desc").await;
    assert_eq!(names, ["carol", "bob", "alice"]);
    let (names, _) = env.usernames("sortby=uid%20desc&limit=2").await;
    assert_eq!(names, ["bob", "alice"]);
    let (names, _) = env.usernames("").await;
    assert_eq!(
        names,
        ["carol", "alice", "bob"],
        "creation order by default"
    );
    let (status, body) = env
        .send(env.get("/api/v3/users?sortby=shoe_size%20asc"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"][0].as_str().unwrap().contains("shoe_size"));
}

#[tokio::test]
async fn filters_eq_and_parentheses_quotes_and_errors() {
    let env = start().await;
    env.add_numbered(10);
    env.add(json!({"username": "o'brien", "email": "ob@acme.example", "role": 9}));
    let q = |f: &str| format!("filter={}", urlencode(f));
    let (names, total) = env.usernames(&q("username eq 'user003'")).await;
    assert_eq!(names, ["user003"]);
    assert_eq!(total, 1);
    let (names, _) = env.usernames(&q("username eq 'o''brien'")).await;
    assert_eq!(names, ["o'brien"], "'' escapes a quote");
    let (names, _) = env
        .usernames(&q("(role eq 2) and (username ne 'user002')"))
        .await;
    assert_eq!(names, ["user007"]);
    let (names, _) = env.usernames(&q("(role gt '3') and (role lt 9)")).await;
    assert_eq!(
        names,
        ["user004", "user009"],
        "quoted numbers compare as numbers"
    );
    let (names, _) = env
        .usernames(&q("username eq 'user001' or username eq 'user002'"))
        .await;
    assert_eq!(names, ["user001", "user002"]);
    let (names, _) = env.usernames(&q("suspended eq true")).await;
    assert!(names.is_empty());
    let (names, _) = env.usernames(&q("quip_user_id eq ''")).await;
    assert_eq!(names.len(), 11, "empty matches unset");
    let (names, _) = env.usernames(&q("username eq 'USER001'")).await;
    assert!(names.is_empty(), "comparisons are case-sensitive");

    for bad in [
        "shoe_size eq '1'",
        "username eq \"user001\"",
        "username eq 'unterminated",
        "(username eq 'a'",
        "username contains 'a'",
        "role eq 'many'",
    ] {
        let (status, body) = env
            .send(env.get(&format!("/api/v3/users?{}", q(bad))))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            body["errors"][0].as_str().unwrap().starts_with("filter:"),
            "{bad}: {body}"
        );
    }
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

#[tokio::test]
async fn create_get_patch_delete_by_user_id_and_username() {
    let env = start().await;
    let (status, created) = env
        .send(env.post(
            "/api/v3/users",
            &json!({"username": "jane.doe", "email": "jane@acme.example",
                    "first_name": "Jane", "last_name": "Doe", "position": "Employee",
                    "role": "25", "creation_date": null}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let user_id = created["user_id"]
        .as_str()
        .expect("user_id is a string")
        .to_owned();
    assert_eq!(user_id.len(), 32);
    assert!(created["uid"].is_u64(), "uid is an integer");
    assert_ne!(created["uid"].to_string(), user_id);
    assert_eq!(created["role"], 25, "role coerced to an integer");
    assert_eq!(created["full_name"], "Jane Doe");
    assert_eq!(created["suspended"], false);
    assert_eq!(created["version"], 1);
    assert!(created["creation_date"].as_i64().unwrap() > 1_600_000_000);
    assert!(created.as_object().unwrap().contains_key("quip_user_id"));

    let (s1, by_id) = env.send(env.get(&format!("/api/v3/users/{user_id}"))).await;
    let (s2, by_name) = env.send(env.get("/api/v3/users/jane.doe")).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(by_id, by_name);
    assert_eq!(by_id, created);

    let (status, patched) = env
        .send(env.patch("/api/v3/users/jane.doe", &json!({"suspended": true})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["suspended"], true);
    assert_eq!(patched["version"], 2);
    assert_eq!(patched["email"], "jane@acme.example", "PATCH is partial");
    let (_, same) = env
        .send(env.patch(
            &format!("/api/v3/users/{user_id}"),
            &json!({"suspended": true}),
        ))
        .await;
    assert_eq!(same["version"], 2, "no change, no new version");

    let (status, body) = env
        .send(env.patch("/api/v3/users/jane.doe", &json!({"uid": 99})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"]["uid"][0]
            .as_str()
            .unwrap()
            .contains("read-only")
    );

    let (status, body) = env
        .send(env.post("/api/v3/users", &json!({"username": "x", "nickname": "y"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"errors": {"nickname": ["unknown field"]}}));
    let (status, body) = env
        .send(env.post(
            "/api/v3/users",
            &json!({"email": "no-username@acme.example"}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"errors": {"username": ["required field"]}}));
    let (status, _) = env
        .send(env.post(
            "/api/v3/users",
            &json!({"username": "y", "suspended": "maybe"}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, removed) = env
        .send(env.req(Method::DELETE, &format!("/api/v3/users/{user_id}")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(removed["username"], "jane.doe");
    for path in [
        "/api/v3/users/jane.doe",
        &format!("/api/v3/users/{user_id}"),
    ] {
        let (status, body) = env.send(env.get(path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, json!({"errors": ["not found"]}));
    }
    let (status, _) = env
        .send(env.req(Method::DELETE, "/api/v3/users/jane.doe"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unique_fields_conflict_on_create_and_patch() {
    let env = start().await;
    let meta_header = ("Oomnitza-Ignore-Meta-Restriction", "1");
    let create = |body: Value| {
        env.post("/api/v3/users", &body)
            .header(meta_header.0, meta_header.1)
    };
    let (status, _) = env
        .send(create(json!({"username": "a", "quip_user_id": "UAAA"})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = env
        .send(create(json!({"username": "b", "quip_user_id": "UAAA"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({"errors": {"quip_user_id": ["'UAAA' already exists"]}})
    );
    let (status, body) = env.send(create(json!({"username": "a"}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "username is unique");
    assert!(body["errors"]["username"].is_array());
    assert_eq!(
        env.emu.state().people_count(),
        1,
        "nothing created on conflict"
    );

    // Empty and null values never collide.
    for (name, id) in [("c", json!(null)), ("d", json!("")), ("e", json!(null))] {
        let (status, _) = env
            .send(create(json!({"username": name, "quip_user_id": id})))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body) = env
        .send(
            env.patch("/api/v3/users/c", &json!({"quip_user_id": "UAAA"}))
                .header(meta_header.0, meta_header.1),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["errors"]["quip_user_id"][0], "'UAAA' already exists");
    // Re-writing one's own value is no conflict; freeing it lets another take it.
    let (status, _) = env
        .send(
            env.patch("/api/v3/users/a", &json!({"quip_user_id": "UAAA"}))
                .header(meta_header.0, meta_header.1),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    env.emu
        .state()
        .set_field("a", "quip_user_id", json!("UBBB"))
        .expect("handle write");
    let (status, _) = env
        .send(
            env.patch("/api/v3/users/c", &json!({"quip_user_id": "UAAA"}))
                .header(meta_header.0, meta_header.1),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The state handle enforces uniqueness too.
    let err = env
        .emu
        .state()
        .add_person(json!({"username": "z", "quip_user_id": "UBBB"}))
        .expect_err("duplicate");
    assert_eq!(err.status(), 409);
}

#[tokio::test]
async fn non_editable_field_needs_the_meta_restriction_header() {
    let env = start().await;
    let (status, body) = env
        .send(env.post(
            "/api/v3/users",
            &json!({"username": "a", "quip_user_id": "U1"}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"]["quip_user_id"][0]
            .as_str()
            .unwrap()
            .contains("Oomnitza-Ignore-Meta-Restriction")
    );
    let (status, _) = env
        .send(
            env.post(
                "/api/v3/users",
                &json!({"username": "a", "quip_user_id": "U1"}),
            )
            .header("Oomnitza-Ignore-Meta-Restriction", "0"),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "0 does not lift the restriction"
    );
    let (status, created) = env
        .send(
            env.post(
                "/api/v3/users",
                &json!({"username": "a", "quip_user_id": "U1"}),
            )
            .header("Oomnitza-Ignore-Meta-Restriction", "1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(created["quip_user_id"], "U1");
    let (status, _) = env
        .send(env.patch("/api/v3/users/a", &json!({"quip_user_id": "U2"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Sending back the unchanged value (a whole fetched record) is fine.
    let (status, _) = env.send(env.patch("/api/v3/users/a", &created)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(env.emu.state().person("a").unwrap()["quip_user_id"], "U1");
}

#[tokio::test]
async fn metadata_describes_fields_and_follows_configuration() {
    let env = start().await;
    let (status, meta) = env.send(env.get("/api/v3/users/meta")).await;
    assert_eq!(status, StatusCode::OK);
    let quip = &meta["quip_user_id"];
    assert_eq!(quip["label"], "Quip User Id");
    assert_eq!(quip["unique"], "1");
    assert_eq!(quip["editable"], "0");
    assert_eq!(quip["belongs_to"], "users");
    let internal = quip["internal_id"].as_str().unwrap();
    assert_eq!(internal.len(), 32);
    assert!(internal.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(meta["username"]["unique"], "1");
    assert_eq!(meta["username"]["internal_id"], "USER");
    assert_eq!(meta["role"]["internal_id"], "PERMISSIONS_ID");
    assert_eq!(meta["role"]["data_type"], "integer");
    assert_eq!(meta["uid"]["editable"], "0");
    for key in ["uid", "optional", "data_type", "label", "internal_id"] {
        assert!(meta["email"].get(key).is_some(), "{key}");
    }

    let no_field = start_with(OomnitzaConfig::default().without_quip_user_id()).await;
    let (_, meta) = no_field.send(no_field.get("/api/v3/users/meta")).await;
    assert!(meta.get("quip_user_id").is_none());
    let (status, body) = no_field
        .send(no_field.post(
            "/api/v3/users",
            &json!({"username": "a", "quip_user_id": "U"}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"]["quip_user_id"][0], "unknown field");

    let non_unique = start_with(OomnitzaConfig::default().with_non_unique_quip_user_id()).await;
    let (_, meta) = non_unique.send(non_unique.get("/api/v3/users/meta")).await;
    assert_eq!(meta["quip_user_id"]["unique"], "0");

    // Fields added and removed through the handle show up at once.
    let state = env.emu.state();
    state
        .add_field(&CustomField::new("hire_date", "Hire Date").data_type(DataType::Timestamp))
        .expect("added");
    let (_, meta) = env.send(env.get("/api/v3/users/meta")).await;
    assert_eq!(meta["hire_date"]["data_type"], "timestamp");
    let (status, created) = env
        .send(env.post(
            "/api/v3/users",
            &json!({"username": "h", "hire_date": "2024-06-10T06:13:20Z"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(created["hire_date"], 1_718_000_000);
    assert!(state.remove_field("hire_date"));
    let (_, meta) = env.send(env.get("/api/v3/users/meta")).await;
    assert!(meta.get("hire_date").is_none());
    assert!(state.person("h").unwrap().get("hire_date").is_none());
    assert!(!state.remove_field("username"), "built-ins stay");
}

#[tokio::test]
async fn saas_app_create_find_and_get() {
    let env = start().await;
    let (status, body) = env
        .send(env.post("/api/v3/saas", &json!({"saas_name": "Quip"})))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the SaaS schema's required fields"
    );
    for field in ["linked", "link_key", "source", "ignored"] {
        assert_eq!(body["errors"][field][0], "required field", "{body}");
    }
    let (status, body) = env
        .send(env.post(
            "/api/v3/saas",
            &json!({"saas_name": "Quip", "linked": "false", "link_key": "quip",
                    "source": "quip_users", "ignored": "false"}),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        body,
        json!({"saas_id": "4"}),
        "a string id, after 3 preset apps"
    );
    let response = env
        .get(&format!(
            "/api/v3/saas?filter={}",
            urlencode("saas_name eq 'Quip'")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(total_count(&response), 1);
    let found: Value = response.json().await.unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["saas_id"], 4, "an integer in the record");
    assert_eq!(found[0]["saas_name"], "Quip");
    assert_eq!(found[0]["createdby"], "api-token-user");
    let (status, app) = env.send(env.get("/api/v3/saas/4")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app, found[0]);
    let (status, _) = env.send(env.get("/api/v3/saas/99")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = env
        .send(env.post("/api/v3/saas", &json!({"category": "x"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"]["saas_name"][0], "required field");
    let (_, all) = env.send(env.get("/api/v3/saas")).await;
    assert_eq!(all.as_array().unwrap().len(), 4);
    assert_eq!(env.emu.state().saas_app_id("Quip"), Some(4));
}

#[tokio::test]
async fn seats_assign_external_id_activate_deactivate() {
    let env = start().await;
    let state = env.emu.state();
    let saas_id = state.add_saas_app("Quip");
    let jane =
        env.add(json!({"username": "jane", "email": "jane@acme.example", "full_name": "Jane D"}));
    let jane_id = jane["user_id"].as_str().unwrap().to_owned();
    let bob = env.add(json!({"username": "bob"}));
    let bob_id = bob["user_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v3/saas/{saas_id}/users");

    let (status, results) = env
        .send(env.post(
            &path,
            &json!([
                {"user_id": jane_id, "assign": true, "last_visit": 1_718_000_000},
                {"user_id": bob_id, "assign": true},
                {"user_id": "nobody", "assign": true},
            ]),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(results[0]["error"], Value::Null);
    assert!(results[0]["saas_user_id"].is_u64());
    assert_eq!(results[2]["error"], "user nobody not found");
    assert_eq!(results[2]["saas_user_id"], Value::Null);
    let jane_seat = results[0]["saas_user_id"].as_u64().unwrap();
    let bob_seat = results[1]["saas_user_id"].as_u64().unwrap();

    // Assigning again updates last_visit on the same seat.
    let (_, again) = env
        .send(env.post(
            &path,
            &json!([{"user_id": jane_id, "assign": true, "last_visit": "2024-06-11T00:00:00Z"}]),
        ))
        .await;
    assert_eq!(again[0]["saas_user_id"], jane_seat);

    let (_, ext) = env
        .send(env.post(
            &format!("{path}/{jane_id}"),
            &json!({"user_external_id": "UJANE"}),
        ))
        .await;
    assert_eq!(ext, json!({"user_external_id": "UJANE", "errors": []}));
    let (status, ext) = env
        .send(env.post(
            &format!("{path}/nobody"),
            &json!({"user_external_id": "U0"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "seat problems arrive inside a 200");
    assert_eq!(ext["errors"].as_array().unwrap().len(), 1);

    let (status, body) = env
        .send(env.patch(
            "/api/v3/saas_users/deactivate",
            &json!({"saas_user_ids": [bob_seat, "999999"]}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "seat ids are strings");
    assert!(
        body["errors"]["saas_user_ids[0]"][0]
            .as_str()
            .unwrap()
            .contains("a string")
    );
    let (status, body) = env
        .send(env.patch(
            "/api/v3/saas_users/deactivate",
            &json!({"saas_user_ids": [bob_seat.to_string(), "999999"]}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!([{"saas_user_id": bob_seat.to_string(), "error": null},
               {"saas_user_id": "999999", "error": "not found"}])
    );

    let seats = state.saas_users(saas_id);
    assert_eq!(seats.len(), 2);
    assert_eq!(seats[0].user_external_id.as_deref(), Some("UJANE"));
    assert_eq!(seats[0].last_visit, Some(1_718_064_000));
    assert_eq!(seats[0].status, SeatStatus::Active);
    assert_eq!(seats[1].status, SeatStatus::Inactive);

    let (_, listed) = env.send(env.get(&path)).await;
    assert_eq!(listed[0]["username"], "jane");
    assert_eq!(listed[0]["full_name"], "Jane D");
    assert_eq!(listed[0]["user_external_id"], "UJANE");
    assert_eq!(listed[0]["roles"], Value::Null);
    assert_eq!(listed[1]["status"], "inactive");
    let filter = urlencode(&format!("saas_id eq '{saas_id}' and status eq 'inactive'"));
    let (_, inactive) = env
        .send(env.get(&format!("/api/v3/saas_users?filter={filter}")))
        .await;
    assert_eq!(inactive.as_array().unwrap().len(), 1);
    assert_eq!(inactive[0]["user_id"], bob_id.as_str());
    let (_, recent) = env
        .send(env.get(&format!("{path}?last_visit=1718050000")))
        .await;
    assert_eq!(recent.as_array().unwrap().len(), 1);

    let (_, body) = env
        .send(env.patch(
            "/api/v3/saas_users/activate",
            &json!({"saas_user_ids": [bob_seat.to_string()]}),
        ))
        .await;
    assert_eq!(body[0]["error"], Value::Null);
    assert_eq!(state.saas_users(saas_id)[1].status, SeatStatus::Active);

    // Unassign removes the seat; unassigning again is a per-item error.
    let (_, body) = env
        .send(env.post(&path, &json!([{"user_id": bob_id, "assign": false}])))
        .await;
    assert_eq!(body[0]["error"], Value::Null);
    let (_, body) = env
        .send(env.post(&path, &json!([{"user_id": bob_id, "assign": false}])))
        .await;
    assert!(body[0]["error"].as_str().unwrap().contains("not assigned"));
    assert_eq!(state.saas_users(saas_id).len(), 1);
    let (status, _) = env.send(env.get("/api/v3/saas/77/users")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn roles_create_assign_and_overwrite() {
    let env = start().await;
    let state = env.emu.state();
    let saas_id = state.add_saas_app("Quip");
    let jane = env.add(json!({"username": "jane"}));
    let jane_id = jane["user_id"].as_str().unwrap().to_owned();
    state.assign_seat(saas_id, "jane", None).expect("seat");
    let roles = format!("/api/v3/saas/{saas_id}/roles");

    let (status, admin) = env
        .send(env.post(
            &roles,
            &json!({"role_external_label": "Admin", "role_external_id": "admin"}),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(admin["role_external_id"], "admin");
    assert_eq!(admin["role_external_label"], "Admin");
    assert!(admin["role_id"].is_u64());
    let (status, member) = env
        .send(env.post(&roles, &json!({"role_external_label": "Member"})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        member["role_external_id"], "Member",
        "defaults to the label"
    );
    let (status, _) = env
        .send(env.post(
            &roles,
            &json!({"role_external_label": "Admin 2", "role_external_id": "admin"}),
        ))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, listed) = env.send(env.get(&roles)).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);

    let assign = format!("{roles}/users");
    let (status, body) = env
        .send(env.post(
            &assign,
            &json!({"users": [jane_id, "ghost"], "roles": [{"role_external_id": "admin"}]}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "POST roles are strings");
    assert!(
        body["errors"]["roles[0]"][0]
            .as_str()
            .unwrap()
            .contains("a string")
    );
    let admin_id = admin["role_id"].to_string();
    let (status, body) = env
        .send(env.post(
            &assign,
            &json!({"users": [jane_id, "ghost"], "roles": [admin_id]}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["error"], Value::Null);
    assert!(body[1]["error"].as_str().unwrap().contains("not assigned"));
    assert_eq!(
        state.saas_users(saas_id)[0]
            .roles
            .as_ref()
            .unwrap()
            .role_external_id,
        "admin"
    );

    // POST does not replace a different role; PATCH overwrites.
    let (_, body) = env
        .send(env.post(
            &assign,
            &json!({"users": [jane_id], "roles": [member["role_id"].to_string()]}),
        ))
        .await;
    assert!(body[0]["error"].as_str().unwrap().contains("PATCH"));
    // PATCH takes one user id, not an array, and roles by external id.
    let (status, body) = env
        .send(env.patch(
            &assign,
            &json!({"users": [jane_id], "roles": [{"role_external_id": "Member"}]}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"]["users"][0]
            .as_str()
            .unwrap()
            .contains("one user id")
    );
    let (status, body) = env
        .send(env.patch(
            &assign,
            &json!({"users": jane_id, "roles": [{"role_id": member["role_id"]}]}),
        ))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "role_external_id is required"
    );
    assert!(
        body["errors"].get("roles[0].role_external_id").is_some(),
        "{body}"
    );
    let (status, _) = env
        .send(env.patch(
            &assign,
            &json!({"users": jane_id, "roles": [{"role_external_id": "Member"}]}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, seats) = env
        .send(env.get(&format!("/api/v3/saas/{saas_id}/users")))
        .await;
    assert_eq!(seats[0]["roles"], member);
    let (_, by_role) = env
        .send(env.get(&format!("/api/v3/saas/{saas_id}/users?roles=admin")))
        .await;
    assert_eq!(by_role, json!([]));

    let (status, body) = env
        .send(env.post(&assign, &json!({"users": [jane_id], "roles": ["nope"]})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"]["roles"][0]
            .as_str()
            .unwrap()
            .contains("not found")
    );

    let (status, _) = env
        .send(
            env.req(Method::DELETE, &assign)
                .json(&json!({"users": [jane_id]})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(state.saas_users(saas_id)[0].roles.is_none());
    assert_eq!(state.roles(saas_id).len(), 2);

    // A PATCH naming a role value the application lacks creates it (per the document).
    let (status, _) = env
        .send(env.patch(
            &assign,
            &json!({"users": jane_id, "roles": [{"role_external_id": "owner", "role_external_label": "Owner"}]}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state.roles(saas_id).len(), 3);
    assert_eq!(
        state.saas_users(saas_id)[0]
            .roles
            .as_ref()
            .unwrap()
            .role_external_label,
        "Owner"
    );
}

fn bulk_payload(portion: &str, sync: &[&str], records: &Value) -> Value {
    json!({
        "connector_version": "sandbox-test", "sync_field": sync, "records": records,
        "portion": portion, "data_type": "users", "insert_only": false, "update_only": false,
        "error": null, "test_run": false, "multi_str_input_value": null,
        "connector_name": "Quip",
    })
}

#[tokio::test]
async fn bulk_upserts_on_sync_fields_and_finalizes_with_run_log() {
    let env = start().await;
    let state = env.emu.state();
    let meta = state.field_meta();
    let quip_field = meta["quip_user_id"]["internal_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let portion = "3f0e8a1c-0000-4000-8000-000000000001";

    let (status, info) = env.send(env.get(&format!("/api/v3/bulk/{portion}"))).await;
    assert_eq!(status, StatusCode::OK, "answers before the first upload");
    assert_eq!(info["canceled"], false);

    // A pre-existing person found by email (second sync key) gets the Quip id.
    env.add(json!({"username": "old@acme.example", "email": "old@acme.example"}));
    let records = json!([
        {"USER": "alice@acme.example", "EMAIL": "alice@acme.example", "FIRST_NAME": "Alice",
         "PERMISSIONS_ID": "25", "POSITION": "Employee", quip_field.clone(): "UALICE"},
        {"USER": "old@acme.example", "EMAIL": "old@acme.example", quip_field.clone(): "UOLD"},
        {"USER": "bob@acme.example", "quip_user_id": "UBOB", "last_name": "Builder"},
    ]);
    let (status, summary) = env
        .send(env.post(
            "/api/v3/bulk",
            &bulk_payload(portion, &[&quip_field, "EMAIL"], &records),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary["added"], 2);
    assert_eq!(summary["updated"], 1);
    let alice = state.person("alice@acme.example").expect("created");
    assert_eq!(alice["role"], 25);
    assert_eq!(alice["quip_user_id"], "UALICE");
    assert_eq!(alice["first_name"], "Alice");
    assert_eq!(
        state.person("old@acme.example").unwrap()["quip_user_id"],
        "UOLD"
    );
    assert_eq!(
        state.person("bob@acme.example").unwrap()["last_name"],
        "Builder"
    );

    // Second upload of the same portion: match on the Quip id first, even with a new email.
    let records = json!([
        {"USER": "alice@acme.example", "EMAIL": "alice@new.example", quip_field.clone(): "UALICE"},
        {"USER": "bob@acme.example", "quip_user_id": "UBOB", "last_name": "Builder"},
    ]);
    let (_, summary) = env
        .send(env.post(
            "/api/v3/bulk",
            &bulk_payload(portion, &[&quip_field, "EMAIL"], &records),
        ))
        .await;
    assert_eq!(summary["updated"], 1);
    assert_eq!(summary["unchanged"], 1);
    assert_eq!(
        state.person("alice@acme.example").unwrap()["email"],
        "alice@new.example"
    );
    assert_eq!(state.people_count(), 3);

    let (status, log) = env
        .send(env.post(&format!("/api/v3/bulk/{portion}/finalize"), &json!({})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log["added_records_count"], 2);
    assert_eq!(log["updated_records_count"], 2);
    assert_eq!(log["error_logs_count"], 0);
    assert_eq!(log["status"], "finished");
    let (_, again) = env
        .send(env.post(&format!("/api/v3/bulk/{portion}/finalize"), &json!({})))
        .await;
    assert_eq!(again, log, "finalize is idempotent");
    let (status, logs) = env.send(env.get("/api/v3/connector_run_logs/Quip")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(logs.as_array().unwrap().len(), 1);
    assert_eq!(logs[0]["portion_id"], portion);
    assert_eq!(logs[0]["connector"], "Quip");
    for key in [
        "start_time",
        "end_time",
        "test_run",
        "skipped_records_count",
    ] {
        assert!(logs[0].get(key).is_some(), "{key}");
    }
    // Sync keys are tried in order: EMAIL first finds the old person, whose new Quip id
    // then collides with Alice's (a failed record, not a 409). With the Quip id first,
    // the same record would have updated Alice.
    let order = json!([{"EMAIL": "old@acme.example", quip_field.clone(): "UALICE"}]);
    let (status, summary) = env
        .send(env.post(
            "/api/v3/bulk",
            &bulk_payload("p-order", &["EMAIL", &quip_field], &order),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary["failed"], 1);
    let outcome = &state.portion("p-order").unwrap().records[0];
    assert_eq!(
        outcome.user_id,
        state.person("old@acme.example").unwrap()["user_id"]
            .as_str()
            .map(str::to_owned)
    );
    assert!(
        outcome
            .message
            .as_deref()
            .unwrap()
            .contains("already exists")
    );
    let (_, none) = env.send(env.get("/api/v3/connector_run_logs/Other")).await;
    assert_eq!(none, json!([]));
    let kept = state.portion(portion).expect("portion kept");
    assert_eq!(kept.records.len(), 5);
    assert_eq!(kept.records[4].outcome, Outcome::Unchanged);
    assert!(kept.finalized);
    let (status, _) = env
        .send(env.post(
            "/api/v3/bulk",
            &bulk_payload(portion, &["USER"], &json!([{"USER": "late"}])),
        ))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a finalized portion takes no uploads"
    );
}

#[tokio::test]
async fn bulk_insert_only_update_only_and_errors() {
    let env = start().await;
    let state = env.emu.state();
    env.add(json!({"username": "a", "quip_user_id": "QA"}));
    let portion = "p-flags";
    let mut payload = bulk_payload(
        portion,
        &["USER"],
        &json!([{"USER": "a", "FIRST_NAME": "Ann"}, {"USER": "new", "FIRST_NAME": "Neo"}]),
    );
    payload["insert_only"] = json!(true);
    let (_, summary) = env.send(env.post("/api/v3/bulk", &payload)).await;
    assert_eq!(
        (summary["added"].as_u64(), summary["skipped"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(state.person("a").unwrap()["first_name"], Value::Null);

    payload["insert_only"] = json!("false");
    payload["update_only"] = json!("true");
    payload["records"] = json!([{"USER": "a", "FIRST_NAME": "Ann"}, {"USER": "newer"}]);
    let (_, summary) = env.send(env.post("/api/v3/bulk", &payload)).await;
    assert_eq!(
        (summary["updated"].as_u64(), summary["skipped"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(state.person("newer").is_none());

    payload["insert_only"] = json!(true);
    let (status, body) = env.send(env.post("/api/v3/bulk", &payload)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap()
            .contains("mutually exclusive")
    );

    // Unique conflicts, unknown fields and bad values fail the record, not the request.
    let records = json!([
        {"USER": "c", "quip_user_id": "QA"},
        {"USER": "d", "SHOE_SIZE": "44"},
        {"USER": "e", "PERMISSIONS_ID": "admin"},
        {"EMAIL": "no-key@acme.example"},
        {"USER": "f"},
    ]);
    let (status, summary) = env
        .send(env.post("/api/v3/bulk", &bulk_payload(portion, &["USER"], &records)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary["failed"], 4);
    assert_eq!(summary["added"], 1);
    let (status, body) = env
        .send(env.post("/api/v3/bulk", &bulk_payload(portion, &["NOPE"], &records)))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"]["sync_field"][0]
            .as_str()
            .unwrap()
            .contains("NOPE")
    );

    // The connector reports a failure into the same portion.
    let mut failure = bulk_payload(portion, &["USER"], &json!([{}]));
    failure["error"] = json!("Traceback: boom");
    failure["error_type"] = json!("Fatal Error");
    let (status, _) = env.send(env.post("/api/v3/bulk", &failure)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, log) = env
        .send(env.post(&format!("/api/v3/bulk/{portion}/finalize"), &json!({})))
        .await;
    assert_eq!(log["status"], "failed");
    assert_eq!(log["error_logs_count"], 5);
    assert_eq!(log["added_records_count"], 2);
    assert_eq!(log["skipped_records_count"], 2);
    let failed: Vec<_> = state
        .portion(portion)
        .unwrap()
        .records
        .into_iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .collect();
    assert!(
        failed[0]
            .message
            .as_deref()
            .unwrap()
            .contains("already exists")
    );
    assert!(failed[1].message.as_deref().unwrap().contains("SHOE_SIZE"));
    let (_, details) = env
        .send(env.get(&format!("/api/v3/connector_run_logs/connectors/{portion}")))
        .await;
    assert_eq!(details["objects"]["failed"], 4);
    assert_eq!(details["logs"]["Fatal Error"][0], "Traceback: boom");

    let (status, _) = env
        .send(env.post("/api/v3/bulk", &json!({"portion": "x", "records": []})))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "connector_name or connector_id required"
    );
}

#[tokio::test]
async fn canceled_portion_is_reported_and_refuses_uploads() {
    let env = start().await;
    let state = env.emu.state();
    let portion = "p-cancel";
    let (status, _) = env
        .send(env.post(
            "/api/v3/bulk",
            &bulk_payload(portion, &["USER"], &json!([{"USER": "a"}])),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    state.cancel_portion(portion);
    let (_, info) = env.send(env.get(&format!("/api/v3/bulk/{portion}"))).await;
    assert_eq!(info["canceled"], true);
    let (status, _) = env
        .send(env.post(
            "/api/v3/bulk",
            &bulk_payload(portion, &["USER"], &json!([{"USER": "b"}])),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(state.person("b").is_none());
    let (_, log) = env
        .send(env.post(&format!("/api/v3/bulk/{portion}/finalize"), &json!({})))
        .await;
    assert_eq!(log["status"], "canceled");
}

#[tokio::test]
async fn bulk_test_run_writes_nothing_and_saas_object_assigns_seats() {
    let env = start().await;
    let state = env.emu.state();
    let saas_id = state.add_saas_app("Quip");
    let mut payload = bulk_payload("p-test", &["USER"], &json!([{"USER": "t"}]));
    payload["test_run"] = json!(true);
    let (_, summary) = env.send(env.post("/api/v3/bulk", &payload)).await;
    assert_eq!(summary["added"], 1);
    assert_eq!(state.people_count(), 0, "a test run writes nothing");

    let records = json!([{"USER": "u0", "EMAIL": "u0@ex.com", "QUIP_USER_ID": "Q0",
        "SAAS": {"sync_key": "QUIP_USER_ID", "selected_saas_id": saas_id, "name": "Quip"}}]);
    // `QUIP_USER_ID` is not a metadata id here: the record fails, no seat is made.
    let (_, summary) = env
        .send(env.post("/api/v3/bulk", &bulk_payload("p-saas", &["USER"], &records)))
        .await;
    assert_eq!(summary["failed"], 1);
    let internal = state.field_meta()["quip_user_id"]["internal_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let records = json!([{"USER": "u0", "EMAIL": "u0@ex.com", internal.clone(): "Q0",
        "SAAS": {"sync_key": internal, "selected_saas_id": saas_id, "name": "Quip"}}]);
    let (_, summary) = env
        .send(env.post("/api/v3/bulk", &bulk_payload("p-saas", &["USER"], &records)))
        .await;
    assert_eq!(summary["added"], 1);
    let seats = state.saas_users(saas_id);
    assert_eq!(seats.len(), 1);
    assert_eq!(seats[0].username.as_deref(), Some("u0"));
    assert_eq!(seats[0].user_external_id.as_deref(), Some("Q0"));
}

#[tokio::test]
async fn injected_status_malformed_and_truncated_bodies() {
    let env = start().await;
    env.add_numbered(3);
    let faults = env.emu.faults();
    faults.inject(
        FaultRule::new(
            Method::GET,
            "/api/v3/users",
            Fault::status(503, r#"{"errors":["maintenance"]}"#),
        )
        .times(1),
    );
    let (status, body) = env.send(env.get("/api/v3/users")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["errors"][0], "maintenance");
    let (status, body) = env.send(env.get("/api/v3/users")).await;
    assert_eq!(status, StatusCode::OK, "the fault fired once");
    assert_eq!(body.as_array().unwrap().len(), 3);

    faults.inject(
        FaultRule::new(Method::GET, "/api/v3/users/{ident}", Fault::MalformedBody).times(1),
    );
    let response = env.get("/api/v3/users/user001").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.json::<Value>().await.is_err(), "malformed JSON");
    faults.inject(
        FaultRule::new(Method::GET, "/api/v3/users/{ident}", Fault::TruncatedBody).times(1),
    );
    let text = env
        .get("/api/v3/users/user001")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "truncated: {text}"
    );
    assert!(text.starts_with('{'));
    assert_eq!(faults.fired("/api/v3/users/{ident}"), 2);

    // Faults on writes: the bulk upload fails before doing anything.
    faults.inject(FaultRule::new(Method::POST, "/api/v3/bulk", Fault::status(500, "{}")).times(1));
    let (status, _) = env
        .send(env.post(
            "/api/v3/bulk",
            &bulk_payload("p", &["USER"], &json!([{"USER": "zz"}])),
        ))
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(env.emu.state().person("zz").is_none());
    assert_eq!(env.emu.counters().with_status(503), 1);
    assert_eq!(env.emu.counters().with_status(500), 1);
}

#[tokio::test]
async fn repeated_and_skipped_pages() {
    let env = start().await;
    env.add_numbered(30);
    let faults = env.emu.faults();
    faults.inject(
        FaultRule::new(Method::GET, "/api/v3/users", Fault::RepeatPage)
            .after(1)
            .times(1),
    );
    let (first, _) = env.usernames("limit=10&skip=0").await;
    let (second, _) = env.usernames("limit=10&skip=10").await;
    assert_eq!(first, second, "the previous page again");
    faults.inject(FaultRule::new(Method::GET, "/api/v3/users", Fault::SkipPage).times(1));
    let (skipped, _) = env.usernames("limit=10&skip=10").await;
    assert_eq!(skipped[0], "user020", "the next page instead");
    let (normal, _) = env.usernames("limit=10&skip=10").await;
    assert_eq!(normal[0], "user010");

    // Seats lists honour paging faults too.
    let state = env.emu.state();
    let saas_id = state.add_saas_app("Quip");
    for i in 0..4 {
        state
            .assign_seat(saas_id, &format!("user{i:03}"), None)
            .unwrap();
    }
    faults.inject(
        FaultRule::new(Method::GET, "/api/v3/saas/{ident}/users", Fault::SkipPage).times(1),
    );
    let (_, page) = env
        .send(env.get(&format!("/api/v3/saas/{saas_id}/users?limit=2&skip=0")))
        .await;
    assert_eq!(page[0]["username"], "user002");
}

#[tokio::test]
async fn hung_request_times_out_on_the_client() {
    let env = start().await;
    env.emu
        .faults()
        .inject(FaultRule::new(Method::GET, "/api/v3/users/meta", Fault::Hang).times(1));
    let error = env
        .get("/api/v3/users/meta")
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("no answer");
    assert!(error.is_timeout(), "{error}");
    let (status, _) = env.send(env.get("/api/v3/users/meta")).await;
    assert_eq!(status, StatusCode::OK, "later requests are served");
    let hung = env
        .emu
        .counters()
        .snapshot()
        .into_iter()
        .find(|r| r.status == 0)
        .expect("the hung request is counted with status 0");
    assert_eq!(hung.route, "/api/v3/users/meta");
    // Dropping aborts the hung request at once (no graceful wait).
    drop(env);
}

#[tokio::test]
async fn counters_count_writes_by_route_and_status() {
    let env = start().await;
    let counters = env.emu.counters();
    env.send(env.post("/api/v3/users", &json!({"username": "a"})))
        .await;
    env.send(env.post("/api/v3/users", &json!({"username": "a"})))
        .await;
    env.send(env.patch("/api/v3/users/a", &json!({"position": "Boss"})))
        .await;
    env.send(env.get("/api/v3/users")).await;
    env.send(env.get("/api/v3/users/a")).await;
    env.send(env.get("/api/v3/no/such/route")).await;
    assert_eq!(counters.writes(), 3);
    assert_eq!(counters.count("POST", "/api/v3/users"), 2);
    assert_eq!(counters.count("PATCH", "/api/v3/users/{ident}"), 1);
    assert_eq!(counters.with_status(409), 1);
    let rows = counters.snapshot();
    assert!(
        rows.iter()
            .any(|r| r.method == "POST" && r.status == 200 && r.count == 1)
    );
    counters.reset();
    assert_eq!(counters.total(), 0);
}

#[tokio::test]
async fn state_changes_are_visible_to_later_requests() {
    let env = start().await;
    let state = env.emu.state();
    env.add(json!({"username": "a", "email": "a@acme.example"}));
    state.set_field("a", "suspended", json!(true)).unwrap();
    let (_, body) = env.send(env.get("/api/v3/users/a")).await;
    assert_eq!(body["suspended"], true);
    state
        .set_field("a", "last_login_date", json!(1_700_000_000))
        .unwrap();
    let (_, body) = env.send(env.get("/api/v3/users/a")).await;
    assert_eq!(
        body["last_login_date"], 1_700_000_000,
        "the handle may set server fields"
    );

    env.send(env.patch("/api/v3/users/a", &json!({"position": "Engineer"})))
        .await;
    assert_eq!(state.person("a").unwrap()["position"], "Engineer");
    assert_eq!(
        state
            .find_people("position", &json!("Engineer"))
            .unwrap()
            .len(),
        1
    );
    let removed = state.remove_person("a").unwrap();
    assert_eq!(removed["email"], "a@acme.example");
    let (status, _) = env.send(env.get("/api/v3/users/a")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(matches!(
        state.set_field("a", "position", json!("x")),
        Err(e) if e.status() == 404
    ));

    // Seeding takes an evenly spread share, without Quip ids.
    let persons = datagen::generate(&DataSpec {
        users: 100,
        ..DataSpec::default()
    });
    let seeded = state.seed_people_from(&persons, 0.25);
    assert_eq!(seeded.len(), 25);
    assert_eq!(seeded[0], persons[3].email());
    let first = state.person(&seeded[0]).unwrap();
    assert_eq!(first["email"], persons[3].email());
    assert_eq!(first["full_name"], persons[3].name);
    assert!(first["quip_user_id"].is_null());
    assert_eq!(first["created_by"], "sandbox");
    assert_eq!(
        state.seed_people_from(&persons, 0.25).len(),
        0,
        "no duplicates"
    );
    let (names, total) = env.usernames("limit=1").await;
    assert_eq!(total, 25);
    assert_eq!(names[0], persons[3].email());
}

#[tokio::test]
async fn serves_100000_people_through_paging() {
    let env = start().await;
    let persons = datagen::generate(&DataSpec {
        users: 100_000,
        ..DataSpec::default()
    });
    let state = env.emu.state();
    assert_eq!(state.seed_people_from(&persons, 1.0).len(), 100_000);
    let mut seen = HashSet::with_capacity(100_000);
    let mut skip = 0;
    let mut pages = 0;
    loop {
        let response = env
            .get(&format!(
                "/api/v3/users?limit=1000&skip={skip}&fields=user_id,username"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(total_count(&response), 100_000);
        let page: Vec<Value> = response.json().await.unwrap();
        pages += 1;
        for p in &page {
            assert!(seen.insert(p["user_id"].as_str().unwrap().to_owned()));
        }
        skip += page.len();
        if page.len() < 1000 {
            break;
        }
    }
    assert_eq!(seen.len(), 100_000);
    assert_eq!(pages, 101);
    let (one, _) = env
        .usernames(&format!(
            "filter={}",
            urlencode(&format!("username eq '{}'", persons[99_999].email()))
        ))
        .await;
    assert_eq!(one, [persons[99_999].email()]);
}
