//! Quip emulator tests: reqwest against a running emulator on loopback.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api_sandbox::quip::{QuipConfig, QuipEmulator, QuipLimits, ThrottleStyle};
use api_sandbox::{Clock, DataSpec, Fault, FaultRule, Person, ScaledClock, datagen};
use http::Method;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Helpers

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

// ---------------------------------------------------------------------------------------
// Authentication

#[tokio::test]
async fn auth_failures_missing_wrong_and_non_admin() {
    let quip = start(20, unlimited()).await;
    let url = format!("{}/1/users/current", quip.base_url());
    let expected =
        json!({"error":"Unauthorized","error_code":401,"error_description":"Invalid access_token"});

    let missing = Client::new().get(&url).send().await.expect("sent");
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&missing, "x-ratelimit-remaining"), None);
    assert_eq!(body(missing).await, expected);

    let wrong = Api::with_token(&quip, "not-the-token")
        .get("/1/users/current")
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(wrong).await, expected);

    let basic = Client::new()
        .get(&url)
        .basic_auth(quip.token(), None::<&str>)
        .send()
        .await
        .expect("sent");
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);

    // The member token works on the Automation API, as someone without an admin role...
    let member = Api::with_token(&quip, quip.non_admin_token().expect("configured"));
    let me = body(member.get("/1/users/current").await).await;
    let me_id = me["id"].as_str().expect("id");
    let person = quip.state().person(me_id).expect("a real person");
    assert!(person.admin_role.is_none() && !person.disabled && !person.is_robot);
    assert_ne!(me_id, quip.state().token_owner_id());

    // ...and is refused on Admin routes with 403 and Quip's error JSON.
    let admin = member
        .post_form("/1/admin/users/list", &[("company_id", quip.company_id())])
        .await;
    assert_eq!(admin.status(), StatusCode::FORBIDDEN);
    assert!(header(&admin, "x-ratelimit-remaining").is_some());
    let err = body(admin).await;
    assert_eq!(err["error_code"], 403);
    assert!(
        err["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    quip.shutdown().await;
}

#[tokio::test]
async fn scim_token_is_separate_when_configured() {
    let config = QuipConfig {
        scim_token: Some("scim-only".to_owned()),
        ..unlimited()
    };
    let quip = start(5, config).await;
    assert_eq!(quip.scim_token(), "scim-only");
    let with_admin = Api::new(&quip).get("/2/Users").await;
    assert_eq!(with_admin.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        with_admin.headers()["content-type"],
        "application/scim+json"
    );
    let err = body(with_admin).await;
    assert_eq!(
        err["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(err["status"], "401");

    let scim = Api::with_token(&quip, "scim-only");
    assert_eq!(body(scim.get("/2/Users").await).await["totalResults"], 5);
    assert_eq!(
        scim.get("/1/users/current").await.status(),
        StatusCode::UNAUTHORIZED,
        "a SCIM token is no Automation token"
    );
    quip.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Automation API

#[tokio::test]
async fn current_user_is_the_first_enabled_human_admin() {
    let quip = start(200, unlimited()).await;
    let state = quip.state();
    let owner = state
        .people()
        .into_iter()
        .find(|p| p.admin_role.is_some() && !p.disabled && !p.is_robot)
        .expect("the default data has admins");
    let me = body(Api::new(&quip).get("/1/users/current").await).await;
    assert_eq!(me["id"], owner.quip_id.as_str());
    assert_eq!(me["name"], owner.name.as_str());
    assert_eq!(me["company_id"], quip.company_id());
    assert_eq!(me["emails"], json!(owner.emails));
    assert_eq!(me["disabled"], false);
    assert_eq!(me["created_usec"], owner.created_usec);
    for field in ["desktop_folder_id", "private_folder_id", "chat_thread_id"] {
        assert_eq!(me[field].as_str().map(str::len), Some(11), "{field}");
    }
    assert!(me["shared_folder_ids"].is_array());
    quip.shutdown().await;
}

#[tokio::test]
async fn single_lookup_by_id_and_email_and_404() {
    let quip = start(50, unlimited()).await;
    let api = Api::new(&quip);
    let someone = quip.state().people()[7].clone();

    let by_id = body(api.get(&format!("/1/users/{}", someone.quip_id)).await).await;
    assert_eq!(by_id["id"], someone.quip_id.as_str());
    assert_eq!(by_id["emails"], json!(someone.emails));
    assert_eq!(by_id["is_robot"], someone.is_robot);
    assert!(
        by_id.get("desktop_folder_id").is_none(),
        "folders are the owner's only"
    );
    let affinity = by_id["affinity"].as_f64().expect("affinity");
    assert!((0.0..=1.0).contains(&affinity));

    let email = someone.email().to_uppercase();
    let by_email = body(api.get(&format!("/1/users/{email}")).await).await;
    assert_eq!(by_email["id"], someone.quip_id.as_str());

    let missing = api.get("/1/users/UnknownUser1").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let err = body(missing).await;
    assert_eq!(err["error_code"], 404);
    assert_eq!(err["error"], "Not Found");
    assert_eq!(
        api.get("/1/users/nobody@acme.example").await.status(),
        StatusCode::NOT_FOUND
    );

    let contacts = body(api.get("/1/users/contacts").await).await;
    let contacts = contacts.as_array().expect("contacts are an array");
    assert!(!contacts.is_empty());
    assert!(contacts.iter().all(|c| c["disabled"] == false));
    quip.shutdown().await;
}

#[tokio::test]
async fn bulk_lookup_is_keyed_by_the_given_keys_with_error_strings_and_a_cap() {
    let quip = start(1_200, unlimited()).await;
    let api = Api::new(&quip);
    let people = quip.state().people();
    let a = &people[0];
    let b = &people[1];
    let email_key = b.email().to_uppercase();
    let ids = format!("{},{email_key},NoSuchUser1", a.quip_id);

    let got = api.get_query("/1/users/", &[("ids", &ids)]).await;
    assert_eq!(got.status(), StatusCode::OK);
    let got = body(got).await;
    let map = got.as_object().expect("object");
    assert_eq!(map.len(), 3);
    assert_eq!(got[&a.quip_id]["id"], a.quip_id.as_str());
    assert_eq!(
        got[&email_key]["id"],
        b.quip_id.as_str(),
        "keyed by the email given"
    );
    assert!(
        got["NoSuchUser1"].is_string(),
        "unknown keys map to an error string"
    );

    // The Python client's form: POST /1/users/ with ids in the body.
    let posted = body(api.post_form("/1/users/", &[("ids", &ids)]).await).await;
    assert_eq!(posted, got);
    // go-quip's form: the list in the path.
    let in_path = body(api.get(&format!("/1/users/{ids}")).await).await;
    assert_eq!(in_path, got);

    let thousand: Vec<&str> = people[..1_000].iter().map(|p| p.quip_id.as_str()).collect();
    let ok = api
        .post_form("/1/users/", &[("ids", &thousand.join(","))])
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        body(ok).await.as_object().map(serde_json::Map::len),
        Some(1_000)
    );

    let too_many: Vec<&str> = people[..1_001].iter().map(|p| p.quip_id.as_str()).collect();
    let refused = api
        .post_form("/1/users/", &[("ids", &too_many.join(","))])
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(refused).await["error_code"], 400);

    assert_eq!(
        api.get("/1/users/").await.status(),
        StatusCode::BAD_REQUEST,
        "ids is required"
    );
    quip.shutdown().await;
}

#[tokio::test]
async fn oauth_refresh_issues_a_token_that_works_until_it_expires() {
    let clock = TestClock::at(HOUR_START);
    let config = QuipConfig {
        clock: clock.clone(),
        ..unlimited()
    };
    let quip = start(10, config).await;
    let state = quip.state();
    let http = Client::new();
    let url = format!("{}/1/oauth/access_token", quip.base_url());
    let client_id = state.oauth_client_id();
    let secret = state.oauth_client_secret();
    let refresh = state.refresh_token();
    let form = |secret: &str, refresh: &str| {
        vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), refresh.to_owned()),
            ("client_id".to_owned(), client_id.clone()),
            ("client_secret".to_owned(), secret.to_owned()),
        ]
    };

    let r = http
        .post(&url)
        .form(&form(&secret, &refresh))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(header(&r, "x-ratelimit-remaining").is_some());
    let tokens = body(r).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["refresh_token"], refresh.as_str());
    let lifetime = tokens["expires_in"].as_u64().expect("expires_in");
    let access = tokens["access_token"].as_str().expect("access_token");
    assert_ne!(access, quip.token());

    let api = Api::with_token(&quip, access);
    assert_eq!(
        api.get("/1/oauth/verify_token").await.status(),
        StatusCode::OK
    );
    let me = body(api.get("/1/users/current").await).await;
    assert_eq!(me["id"], state.token_owner_id().as_str());

    let bad_secret = http
        .post(&url)
        .form(&form("wrong", &refresh))
        .send()
        .await
        .expect("sent");
    assert_eq!(bad_secret.status(), StatusCode::UNAUTHORIZED);
    let bad_refresh = http
        .post(&url)
        .form(&form(&secret, "wrong"))
        .send()
        .await
        .expect("sent");
    assert_eq!(bad_refresh.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(bad_refresh).await["error"], "invalid_grant");

    clock.advance(Duration::from_secs(lifetime));
    assert_eq!(
        api.get("/1/oauth/verify_token").await.status(),
        StatusCode::UNAUTHORIZED,
        "expired on the emulator's clock"
    );
    assert_eq!(
        Api::new(&quip).get("/1/oauth/verify_token").await.status(),
        StatusCode::OK,
        "the admin token does not expire"
    );
    quip.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// SCIM

#[tokio::test]
async fn scim_paging_edges_empty_exact_partial_and_capped() {
    let empty = start(0, unlimited()).await;
    let page = Api::new(&empty).scim_page(1, 10).await;
    assert_eq!(page["totalResults"], 0);
    assert_eq!(page["itemsPerPage"], 0);
    assert_eq!(page["Resources"], json!([]));
    assert_eq!(
        page["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    empty.shutdown().await;

    let config = QuipConfig {
        scim_max_count: 7,
        ..unlimited()
    };
    let quip = start(21, config).await;
    let api = Api::new(&quip);
    let expected: Vec<String> = quip
        .state()
        .people()
        .into_iter()
        .map(|p| p.quip_id)
        .collect();

    // Exact multiple of the page size: 3 pages of 7, then an empty page.
    let mut seen = Vec::new();
    let mut start_index = 1;
    loop {
        let page = api.scim_page(start_index, 7).await;
        assert_eq!(page["totalResults"], 21);
        assert_eq!(page["startIndex"], start_index);
        let got = ids(&page, "Resources");
        if got.is_empty() {
            break;
        }
        assert_eq!(got.len(), 7);
        assert_eq!(page["itemsPerPage"], 7);
        start_index += got.len();
        seen.extend(got);
    }
    assert_eq!(seen, expected);

    // A count above the cap is honoured as the cap.
    let capped = api.scim_page(1, 500).await;
    assert_eq!(capped["itemsPerPage"], 7);
    // Last partial page.
    let last = api.scim_page(19, 5).await;
    assert_eq!(ids(&last, "Resources"), expected[18..]);
    assert_eq!(last["itemsPerPage"], 3);
    // RFC 7644: startIndex < 1 is 1, count 0 gives only the total.
    let zero = api
        .get_query("/2/Users", &[("startIndex", "0"), ("count", "0")])
        .await;
    let zero = body(zero).await;
    assert_eq!(zero["startIndex"], 1);
    assert_eq!(zero["itemsPerPage"], 0);
    assert_eq!(zero["totalResults"], 21);
    // Not a number.
    let bad = api.get_query("/2/Users", &[("count", "many")]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(bad).await["scimType"], "invalidValue");
    quip.shutdown().await;
}

#[tokio::test]
async fn scim_filters_by_email_and_username_and_rejects_others() {
    let quip = start(300, unlimited()).await;
    let api = Api::new(&quip);
    let multi = quip
        .state()
        .people()
        .into_iter()
        .find(|p| p.emails.len() > 1)
        .expect("someone has two emails");
    let secondary = multi.emails[1].to_uppercase();

    let by_email = api
        .get_query(
            "/2/Users",
            &[("filter", &format!("EMAILS Eq \"{secondary}\""))],
        )
        .await;
    assert_eq!(by_email.status(), StatusCode::OK);
    assert_eq!(by_email.headers()["content-type"], "application/scim+json");
    let by_email = body(by_email).await;
    assert_eq!(by_email["totalResults"], 1);
    let user = &by_email["Resources"][0];
    assert_eq!(user["id"], multi.quip_id.as_str());
    assert_eq!(user["userName"], multi.email());
    assert_eq!(user["emails"][0]["primary"], true);
    assert_eq!(user["emails"][1]["value"], multi.emails[1].as_str());
    assert_eq!(user["active"], !multi.disabled);
    assert_eq!(user["name"]["formatted"], multi.name.as_str());
    assert_eq!(user["meta"]["resourceType"], "User");
    assert!(
        user["meta"]["lastModified"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    let by_username = body(
        api.get_query(
            "/2/Users",
            &[("filter", &format!("userName eq \"{}\"", multi.email()))],
        )
        .await,
    )
    .await;
    assert_eq!(ids(&by_username, "Resources"), vec![multi.quip_id.clone()]);
    let secondary_is_no_username = body(
        api.get_query(
            "/2/Users",
            &[("filter", &format!("userName eq \"{secondary}\""))],
        )
        .await,
    )
    .await;
    assert_eq!(secondary_is_no_username["totalResults"], 0);

    for bad in [
        format!("emails eq {}", multi.email()),
        "active eq true".to_owned(),
        format!("emails co \"{}\"", multi.email()),
    ] {
        let r = api.get_query("/2/Users", &[("filter", &bad)]).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let err = body(r).await;
        assert_eq!(err["scimType"], "invalidFilter", "{bad}");
        assert_eq!(err["status"], "400");
        assert_eq!(
            err["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
    }
    quip.shutdown().await;
}

#[tokio::test]
async fn scim_delete_disables_the_account() {
    let quip = start(10, unlimited()).await;
    let api = Api::new(&quip);
    let target = quip
        .state()
        .people()
        .into_iter()
        .find(|p| !p.disabled)
        .expect("someone enabled");
    let path = format!("/2/Users/{}", target.quip_id);
    let before = body(api.get(&path).await).await;
    assert_eq!(before["active"], true);

    assert_eq!(api.delete(&path).await.status(), StatusCode::NO_CONTENT);
    let after = body(api.get(&path).await).await;
    assert_eq!(after["active"], false);
    assert!(
        quip.state()
            .person(&target.quip_id)
            .expect("still there")
            .disabled
    );
    let automation = body(api.get(&format!("/1/users/{}", target.quip_id)).await).await;
    assert_eq!(automation["disabled"], true);

    let unknown = api.delete("/2/Users/NoSuchUser1").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(body(unknown).await["status"], "404");
    quip.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Admin API

#[tokio::test]
async fn admin_list_pages_to_a_null_next_page_and_refuses_other_companies() {
    let config = QuipConfig {
        admin_list_max_count: 10,
        ..unlimited()
    };
    let quip = start(25, config).await;
    let api = Api::new(&quip);
    let company = quip.company_id().to_owned();
    let expected: Vec<String> = quip
        .state()
        .people()
        .into_iter()
        .map(|p| p.quip_id)
        .collect();

    let mut seen = Vec::new();
    let mut page = Some(0);
    let mut pages = 0;
    while let Some(p) = page {
        // Asking for 50 is capped at 10.
        let body = api.admin_page(&company, p, 50).await;
        assert_eq!(body["page"], p);
        assert_eq!(body["count"], 10);
        assert_eq!(body["total_count"], 25);
        assert!(
            body["users"]
                .as_array()
                .expect("users")
                .iter()
                .all(|u| u["company_id"] == company.as_str())
        );
        seen.extend(ids(&body, "users"));
        page = body["next_page"]
            .as_u64()
            .map(|n| usize::try_from(n).expect("small"));
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected, "every user once, in a stable order");
    let last = api.admin_page(&company, 2, 10).await;
    assert_eq!(last["next_page"], Value::Null);
    assert_eq!(last["users"].as_array().map(Vec::len), Some(5));
    let beyond = api.admin_page(&company, 9, 10).await;
    assert_eq!(beyond["users"], json!([]));
    assert_eq!(beyond["next_page"], Value::Null);

    let other = api
        .post_form("/1/admin/users/list", &[("company_id", "IOtherCompny")])
        .await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    assert_eq!(body(other).await["error_code"], 403);
    let missing = api.post_form("/1/admin/users/list", &[]).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    quip.shutdown().await;
}

#[tokio::test]
async fn admin_user_info_and_admin_roles() {
    let quip = start(200, unlimited()).await;
    let api = Api::new(&quip);
    let state = quip.state();
    let company = quip.company_id().to_owned();
    let someone = state.people()[3].clone();

    let info = api
        .get_query(
            &format!("/1/admin/users/{}", someone.quip_id),
            &[("company_id", &company)],
        )
        .await;
    assert_eq!(info.status(), StatusCode::OK);
    let info = body(info).await;
    assert_eq!(info["user"]["id"], someone.quip_id.as_str());
    for key in ["threads", "contacts", "companies"] {
        assert!(info[key].is_object(), "{key}");
    }
    let other = api
        .get_query(
            &format!("/1/admin/users/{}", someone.quip_id),
            &[("company_id", "IOtherCompny")],
        )
        .await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    let unknown = api
        .get_query("/1/admin/users/NoSuchUser1", &[("company_id", &company)])
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    state.set_admin_role(&someone.quip_id, Some("Super Admin"));
    let roles = body(
        api.get_query("/1/admin/company/admin-roles", &[("company_id", &company)])
            .await,
    )
    .await;
    let roles = roles["admin_roles"].as_array().expect("admin_roles");
    assert_eq!(roles[0]["name"], "Super Admin");
    assert_eq!(roles[1]["name"], "Site Admin");
    let supers: HashSet<&str> = roles[0]["user_ids"]
        .as_array()
        .expect("user_ids")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let expected: HashSet<String> = state
        .people()
        .into_iter()
        .filter(|p| p.admin_role.as_deref() == Some("Super Admin"))
        .map(|p| p.quip_id)
        .collect();
    assert!(supers.contains(someone.quip_id.as_str()));
    assert_eq!(supers.len(), expected.len());

    // A tenant without the endpoint.
    state.set_admin_roles_endpoint(false);
    let gone = api
        .get_query("/1/admin/company/admin-roles", &[("company_id", &company)])
        .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    quip.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Events API

#[tokio::test]
async fn realtime_cursor_sees_only_new_logins_in_pages() {
    let quip = start(30, unlimited()).await;
    let api = Api::new(&quip);
    let state = quip.state();
    state.set_events_page_size(2);
    let company = quip.company_id().to_owned();
    let q = |cursor: &str| {
        vec![
            ("company_id", company.clone()),
            ("cursor", cursor.to_owned()),
        ]
    };
    let get = "/1/admin/events/1/events/realtime/get";

    let created = body(
        api.get_query(
            "/1/admin/events/1/cursor/realtime/create",
            &[("company_id", &company)],
        )
        .await,
    )
    .await;
    let cursor = created["next_cursor"].as_str().expect("cursor").to_owned();
    let r = body(
        api.http
            .get(format!("{}{get}", api.base))
            .query(&q(&cursor))
            .bearer_auth(&api.token)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(r["events"], json!([]), "seeded history is not realtime");
    assert_eq!(r["more_to_read"], false);

    let people = state.people();
    for (p, i) in people[..3].iter().zip(0_i64..) {
        assert!(state.record_login(&p.quip_id, 1_800_000_000_000_000 + i));
    }
    let mut cursor = r["next_cursor"].as_str().expect("cursor").to_owned();
    let mut seen = Vec::new();
    loop {
        let page = body(
            api.http
                .get(format!("{}{get}", api.base))
                .query(&q(&cursor))
                .bearer_auth(&api.token)
                .send()
                .await
                .expect("sent"),
        )
        .await;
        let events = page["events"].as_array().expect("events").clone();
        assert!(events.len() <= 2);
        for e in &events {
            assert_eq!(e["event"], "login");
            assert!(e["id"].is_string() && e["ip_address"].is_string());
            seen.push((
                e["user_id"].as_str().expect("user").to_owned(),
                e["time_usec"].as_i64().expect("time"),
            ));
        }
        cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
        if page["more_to_read"] == false {
            break;
        }
    }
    let expected: Vec<(String, i64)> = people[..3]
        .iter()
        .zip(0_i64..)
        .map(|(p, i)| (p.quip_id.clone(), 1_800_000_000_000_000 + i))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(
        state
            .person(&people[2].quip_id)
            .and_then(|p| p.last_login_usec),
        Some(1_800_000_000_000_002)
    );

    let bad = api
        .get_query(get, &[("company_id", &company), ("cursor", "nope")])
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let other = api
        .get_query(
            "/1/admin/events/1/cursor/realtime/create",
            &[("company_id", "IOtherCompny")],
        )
        .await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    quip.shutdown().await;
}

#[tokio::test]
async fn batch_cursor_reads_seeded_logins_in_time_order() {
    let quip = start(100, unlimited()).await;
    let api = Api::new(&quip);
    let state = quip.state();
    state.set_events_page_size(7);
    let company = quip.company_id().to_owned();
    let all = state.events();
    assert!(all.len() > 100, "last logins plus older ones are seeded");
    let mut times: Vec<i64> = all.iter().map(|e| e.time_usec).collect();
    times.sort_unstable();
    let (since, until) = (times[10], times[60]);
    let expected = times.iter().filter(|&&t| t >= since && t < until).count();

    let created = body(
        api.get_query(
            "/1/admin/events/1/cursor/create",
            &[
                ("company_id", &company),
                ("since_usec", &since.to_string()),
                ("until_usec", &until.to_string()),
            ],
        )
        .await,
    )
    .await;
    let mut cursor = created["next_cursor"].as_str().expect("cursor").to_owned();
    let mut got = Vec::new();
    loop {
        let page = body(
            api.get_query(
                "/1/admin/events/1/events/get",
                &[("company_id", &company), ("cursor", &cursor)],
            )
            .await,
        )
        .await;
        got.extend(
            page["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|e| e["time_usec"].as_i64().expect("time")),
        );
        cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
        if page["more_to_read"] == false {
            break;
        }
    }
    assert_eq!(got.len(), expected);
    assert!(got.windows(2).all(|w| w[0] <= w[1]), "time order");
    assert!(got.iter().all(|&t| t >= since && t < until));
    quip.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Rate limits

#[tokio::test]
async fn rate_limit_headers_on_every_response_and_decreasing() {
    let quip = start(10, QuipConfig::default()).await;
    let api = Api::new(&quip);
    let mut last = None;
    for _ in 0..3 {
        let r = api.get("/1/users/current").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "x-ratelimit-limit"), Some(50));
        assert_eq!(header(&r, "x-company-ratelimit-limit"), Some(600));
        let remaining = header(&r, "x-ratelimit-remaining").expect("remaining");
        let reset = header(&r, "x-ratelimit-reset").expect("reset");
        assert!(
            reset
                > SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .expect("after epoch")
                    .as_secs()
                    - 1
        );
        if let Some(prev) = last {
            assert!(remaining < prev, "{remaining} < {prev}");
        }
        last = Some(remaining);
        assert!(header(&r, "x-company-ratelimit-remaining").is_some());
        assert!(header(&r, "x-company-ratelimit-reset").is_some());
    }
    // Admin routes report the Admin budget; errors carry headers too.
    let admin = api
        .post_form("/1/admin/users/list", &[("company_id", "IOtherCompny")])
        .await;
    assert_eq!(admin.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&admin, "x-ratelimit-limit"), Some(100));
    assert_eq!(header(&admin, "x-ratelimit-remaining"), Some(99));
    assert_eq!(
        header(&admin, "x-company-ratelimit-remaining"),
        Some(600 - 4)
    );
    // SCIM reports its own per-company budget only.
    let scim = api.get("/2/Users").await;
    assert_eq!(header(&scim, "x-scim-ratelimit-limit"), Some(600));
    assert_eq!(header(&scim, "x-scim-ratelimit-remaining"), Some(599));
    assert_eq!(header(&scim, "x-ratelimit-limit"), None);
    quip.shutdown().await;
}

#[tokio::test]
async fn over_budget_is_503_over_rate_limit_with_a_future_reset() {
    let clock = TestClock::at(HOUR_START + 10);
    let config = QuipConfig {
        clock: clock.clone(),
        limits: QuipLimits {
            automation_per_minute: 2,
            ..QuipLimits::default()
        },
        ..QuipConfig::default()
    };
    let quip = start(10, config).await;
    let api = Api::new(&quip);
    for remaining in [1, 0] {
        let r = api.get("/1/users/current").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "x-ratelimit-remaining"), Some(remaining));
    }
    let r = api.get("/1/users/current").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some(0));
    assert_eq!(header(&r, "x-ratelimit-reset"), Some(HOUR_START + 60));
    assert_eq!(
        header(&r, "x-company-retry-after"),
        None,
        "the company is fine"
    );
    assert_eq!(
        body(r).await,
        json!({"error_description": "Over Rate Limit"})
    );
    // Other APIs keep their own budgets.
    assert_eq!(api.get("/2/Users").await.status(), StatusCode::OK);

    // The same at run time in the 429 style: reset 0.
    quip.state().set_throttle_style(ThrottleStyle::Status429);
    let r = api.get("/1/users/current").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&r, "x-ratelimit-reset"), Some(0));
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some(0));

    // When the window ends, requests succeed again.
    clock.advance(Duration::from_secs(50));
    let r = api.get("/1/users/current").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some(1));
    quip.shutdown().await;
}

#[tokio::test]
async fn company_budget_is_shared_by_tokens_and_sends_retry_after() {
    let clock = TestClock::at(HOUR_START + 15);
    let config = QuipConfig {
        clock: clock.clone(),
        limits: QuipLimits {
            company_per_minute: 3,
            ..QuipLimits::default()
        },
        ..QuipConfig::default()
    };
    let quip = start(10, config).await;
    let admin = Api::new(&quip);
    let member = Api::with_token(&quip, quip.non_admin_token().expect("configured"));
    assert_eq!(admin.get("/1/users/current").await.status(), StatusCode::OK);
    assert_eq!(
        member.get("/1/users/current").await.status(),
        StatusCode::OK
    );
    let r = admin
        .post_form("/1/admin/users/list", &[("company_id", quip.company_id())])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "x-company-ratelimit-remaining"), Some(0));

    let r = member.get("/1/users/current").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&r, "x-company-retry-after"), Some(45));
    assert_eq!(
        header(&r, "x-company-ratelimit-reset"),
        Some(HOUR_START + 60)
    );
    assert_eq!(
        header(&r, "x-ratelimit-remaining"),
        Some(49),
        "the user budget is not the problem"
    );
    // SCIM has its own company budget.
    let scim = admin.get("/2/Users").await;
    assert_eq!(scim.status(), StatusCode::OK);
    assert_eq!(header(&scim, "x-company-retry-after"), None);
    quip.shutdown().await;
}

#[tokio::test]
async fn throttled_requests_do_not_consume_budget_and_the_hour_window_applies() {
    let clock = TestClock::at(HOUR_START);
    let config = QuipConfig {
        clock: clock.clone(),
        limits: QuipLimits {
            admin_per_minute: 3,
            admin_per_hour: 5,
            ..QuipLimits::default()
        },
        ..QuipConfig::default()
    };
    let quip = start(10, config).await;
    let api = Api::new(&quip);
    let company = quip.company_id().to_owned();
    let form = [("company_id", company.as_str())];
    let list = || api.post_form("/1/admin/users/list", &form);
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(list().await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 503, 503, 503, 503, 503]);

    // Next minute: 2 of the hour's 5 are left, since the 5 throttled ones cost nothing.
    clock.advance(Duration::from_secs(60));
    let r = list().await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "x-ratelimit-limit"),
        Some(5),
        "the hour is now the tighter window"
    );
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some(1));
    assert_eq!(list().await.status(), StatusCode::OK);
    let r = list().await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&r, "x-ratelimit-reset"), Some(HOUR_START + 3_600));
    assert_eq!(
        quip.counters().count("POST", "/1/admin/users/list"),
        11,
        "every request is counted, throttled or not"
    );
    assert_eq!(quip.counters().with_status(503), 6);
    quip.shutdown().await;
}

#[tokio::test]
async fn windows_reset_on_a_scaled_clock() {
    // One virtual minute is 100 ms of real time.
    let clock = ScaledClock::new(600.0);
    let config = QuipConfig {
        clock: clock.clone(),
        limits: QuipLimits {
            scim_per_minute: 2,
            ..QuipLimits::default()
        },
        ..QuipConfig::default()
    };
    let quip = start(3, config).await;
    let api = Api::new(&quip);
    // Spend the budget; if a window ends meanwhile, keep spending until one is exhausted.
    let throttled = loop {
        let r = api.get("/2/Users").await;
        if r.status() == StatusCode::SERVICE_UNAVAILABLE {
            break r;
        }
        assert_eq!(r.status(), StatusCode::OK);
    };
    let reset = header(&throttled, "x-scim-ratelimit-reset").expect("reset");
    let retry_after = header(&throttled, "x-scim-retry-after").expect("retry after");
    let now = clock
        .now()
        .duration_since(UNIX_EPOCH)
        .expect("after epoch")
        .as_secs();
    assert!(reset > now && (1..=60).contains(&retry_after));

    clock.sleep(Duration::from_secs(reset - now + 1)).await;
    let r = api.get("/2/Users").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "x-scim-ratelimit-remaining"), Some(1));
    quip.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Faults and counters

#[tokio::test]
async fn injected_statuses_bodies_and_latency() {
    let quip = start(10, unlimited()).await;
    let api = Api::new(&quip);
    let faults = quip.faults();

    faults.inject(
        FaultRule::new(
            Method::GET,
            "/1/users/current",
            Fault::status(500, r#"{"error":"boom"}"#),
        )
        .times(1),
    );
    let r = api.get("/1/users/current").await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body(r).await["error"], "boom");
    assert_eq!(
        api.get("/1/users/current").await.status(),
        StatusCode::OK,
        "fired once"
    );

    faults.inject(FaultRule::new(Method::GET, "/2/Users", Fault::MalformedBody).times(1));
    let r = api.get("/2/Users").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.json::<Value>().await.is_err(), "malformed JSON");

    let id = quip.state().people()[0].quip_id.clone();
    let full = api
        .get(&format!("/2/Users/{id}"))
        .await
        .bytes()
        .await
        .expect("bytes");
    faults.inject(FaultRule::new(Method::GET, "/2/Users/{id}", Fault::TruncatedBody).times(1));
    let r = api.get(&format!("/2/Users/{id}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let cut = r.bytes().await.expect("bytes");
    assert!(cut.len() < full.len());
    assert!(
        serde_json::from_slice::<Value>(&cut).is_err(),
        "truncated JSON"
    );

    faults.inject(
        FaultRule::new(
            Method::GET,
            "/1/users/contacts",
            Fault::Latency(Duration::from_millis(20)),
        )
        .times(1),
    );
    let r = api.get("/1/users/contacts").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        body(r).await.is_array(),
        "a slow answer is still a good one"
    );
    assert_eq!(faults.fired("/1/users/contacts"), 1);

    let counts = quip.state().counts_by_route();
    assert_eq!(counts.get("GET /1/users/current"), Some(&2));
    assert_eq!(counts.get("GET /2/Users/{id}"), Some(&2));
    assert_eq!(quip.counters().with_status(500), 1);
    quip.shutdown().await;
}

#[tokio::test]
async fn repeated_and_skipped_pages() {
    let config = QuipConfig {
        scim_max_count: 5,
        admin_list_max_count: 5,
        ..unlimited()
    };
    let quip = start(20, config).await;
    let api = Api::new(&quip);
    let all: Vec<String> = quip
        .state()
        .people()
        .into_iter()
        .map(|p| p.quip_id)
        .collect();

    // SCIM: the 2nd request repeats page 1, the 3rd skips to the 4th page.
    quip.faults().inject(
        FaultRule::new(Method::GET, "/2/Users", Fault::RepeatPage)
            .after(1)
            .times(1),
    );
    let p1 = ids(&api.scim_page(1, 5).await, "Resources");
    let p2 = api.scim_page(6, 5).await;
    assert_eq!(p2["startIndex"], 6);
    assert_eq!(ids(&p2, "Resources"), p1, "page 1 again");
    quip.faults()
        .inject(FaultRule::new(Method::GET, "/2/Users", Fault::SkipPage).times(1));
    let p3 = ids(&api.scim_page(11, 5).await, "Resources");
    assert_eq!(p3, all[15..20], "page 3 went missing");

    // Admin list: same faults.
    let company = quip.company_id().to_owned();
    quip.faults().inject(
        FaultRule::new(Method::POST, "/1/admin/users/list", Fault::RepeatPage)
            .after(1)
            .times(1),
    );
    let a0 = ids(&api.admin_page(&company, 0, 5).await, "users");
    let a1 = api.admin_page(&company, 1, 5).await;
    assert_eq!(ids(&a1, "users"), a0);
    assert_eq!(a1["next_page"], 2);
    quip.faults()
        .inject(FaultRule::new(Method::POST, "/1/admin/users/list", Fault::SkipPage).times(1));
    let a2 = ids(&api.admin_page(&company, 2, 5).await, "users");
    assert_eq!(a2, all[15..20]);
    assert_eq!(quip.faults().fired("/1/admin/users/list"), 2);
    quip.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// State changes

#[tokio::test]
async fn state_changes_are_visible_to_later_reads() {
    let quip = start(12, unlimited()).await;
    let api = Api::new(&quip);
    let state = quip.state();
    let company = quip.company_id().to_owned();
    let people = state.people();
    let (a, b) = (&people[0], &people[1]);

    // Disable.
    assert!(state.set_disabled(&a.quip_id, true));
    let user = body(api.get(&format!("/1/users/{}", a.quip_id)).await).await;
    assert_eq!(user["disabled"], true);
    let scim = body(api.get(&format!("/2/Users/{}", a.quip_id)).await).await;
    assert_eq!(scim["active"], false);

    // Remove: gone from listings and lookups.
    assert!(state.remove_person(&b.quip_id));
    assert_eq!(
        api.get(&format!("/1/users/{}", b.quip_id)).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get(&format!("/1/users/{}", b.email())).await.status(),
        StatusCode::NOT_FOUND
    );
    let bulk = body(api.get_query("/1/users/", &[("ids", &b.quip_id)]).await).await;
    assert!(bulk[&b.quip_id].is_string());
    let listed = api.scim_page(1, 100).await;
    assert_eq!(listed["totalResults"], 11);
    assert!(!ids(&listed, "Resources").contains(&b.quip_id));
    assert!(!state.remove_person(&b.quip_id), "already gone");

    // Add: appears last, findable by email.
    let newcomer = new_person("UNewcomer01", "zoe.newcomer@acme.example");
    assert!(state.add_person(newcomer.clone()));
    assert!(!state.add_person(newcomer.clone()), "ids are unique");
    let list = api.admin_page(&company, 0, 100).await;
    assert_eq!(list["total_count"], 12);
    assert_eq!(
        ids(&list, "users").last().map(String::as_str),
        Some("UNewcomer01")
    );
    let found = body(api.get("/1/users/Zoe.Newcomer@acme.example").await).await;
    assert_eq!(found["name"], "Zoë Newcomer");
    let filtered = body(
        api.get_query(
            "/2/Users",
            &[("filter", "userName eq \"zoe.newcomer@acme.example\"")],
        )
        .await,
    )
    .await;
    assert_eq!(filtered["totalResults"], 1);

    // Login: seen by a batch cursor covering that time.
    assert!(state.record_login("UNewcomer01", 1_900_000_000_000_000));
    let cursor = body(
        api.get_query(
            "/1/admin/events/1/cursor/create",
            &[
                ("company_id", &company),
                ("since_usec", "1899999999999999"),
                ("until_usec", "1900000000000001"),
            ],
        )
        .await,
    )
    .await["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let events = body(
        api.get_query(
            "/1/admin/events/1/events/get",
            &[("company_id", &company), ("cursor", &cursor)],
        )
        .await,
    )
    .await;
    assert_eq!(events["events"].as_array().map(Vec::len), Some(1));
    assert_eq!(events["events"][0]["user_id"], "UNewcomer01");
    assert!(
        !state.record_login("NoSuchUser1", 1),
        "unknown users have no logins"
    );
    quip.shutdown().await;
}

#[tokio::test]
async fn hundred_thousand_users_through_scim_and_admin_paging() {
    let config = QuipConfig {
        scim_max_count: 1_000,
        admin_list_max_count: 1_000,
        ..unlimited()
    };
    let quip = start(100_000, config).await;
    let api = Api::new(&quip);
    let company = quip.company_id().to_owned();

    let mut scim_ids = HashSet::new();
    let mut start_index = 1;
    loop {
        let page = api.scim_page(start_index, 1_000).await;
        assert_eq!(page["totalResults"], 100_000);
        let got = ids(&page, "Resources");
        if got.is_empty() {
            break;
        }
        start_index += got.len();
        scim_ids.extend(got);
    }
    assert_eq!(scim_ids.len(), 100_000);

    let mut admin_ids = HashSet::new();
    let mut page = Some(0);
    while let Some(p) = page {
        let body = api.admin_page(&company, p, 1_000).await;
        admin_ids.extend(ids(&body, "users"));
        page = body["next_page"]
            .as_u64()
            .map(|n| usize::try_from(n).expect("small"));
    }
    assert_eq!(admin_ids, scim_ids);
    assert_eq!(quip.counters().with_status(200), 101 + 100);
    quip.shutdown().await;
}
