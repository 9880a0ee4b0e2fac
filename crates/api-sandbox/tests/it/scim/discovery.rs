//! Discovery documents, authentication and not-found answers.

use api_sandbox::scim::{ENTERPRISE_SCHEMA, ScimConfig};
use reqwest::{Client, StatusCode};

use super::{Api, body, scim_error, start};

#[tokio::test]
async fn discovery_documents_describe_what_is_served() {
    let scim = start(3, ScimConfig::default()).await;
    let api = Api::new(&scim);
    let spc = api.ok("/ServiceProviderConfig", &[]).await;
    assert_eq!(
        spc["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    );
    assert_eq!(spc["filter"]["supported"], true);
    assert_eq!(spc["filter"]["maxResults"], 100);
    assert_eq!(spc["patch"]["supported"], false);
    assert_eq!(spc["sort"]["supported"], false);
    let schemes: Vec<&str> = spc["authenticationSchemes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(schemes, ["oauthbearertoken", "httpbasic"]);

    let schemas = api.ok("/Schemas", &[]).await;
    assert_eq!(schemas["totalResults"], 4);
    let ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&ENTERPRISE_SCHEMA), "{ids:?}");
    let one = api.ok(&format!("/Schemas/{ENTERPRISE_SCHEMA}"), &[]).await;
    assert_eq!(one["name"], "EnterpriseUser");
    assert!(
        one["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "department")
    );
    let missing = api.get("/Schemas/urn:nope", &[]).await;
    assert_eq!(scim_error(missing, StatusCode::NOT_FOUND).await, None);

    let types = api.ok("/ResourceTypes", &[]).await;
    let endpoints: Vec<&str> = types["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(endpoints, ["/Users", "/Groups"]);
    assert_eq!(
        types["Resources"][0]["schemaExtensions"][0]["schema"],
        ENTERPRISE_SCHEMA
    );
    scim.shutdown().await;
}

#[tokio::test]
async fn bearer_and_basic_credentials_and_401s() {
    let scim = start(3, ScimConfig::default()).await;
    let http = Client::new();
    let url = format!("{}/Users", scim.base_url());
    let none = http.get(&url).send().await.unwrap();
    let challenges: Vec<String> = none
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    assert!(challenges[0].starts_with("Bearer"));
    assert_eq!(scim_error(none, StatusCode::UNAUTHORIZED).await, None);
    let wrong = http.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let (user, password) = scim.basic_credentials().expect("basic on by default");
    let basic = http
        .get(&url)
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    let bad_basic = http
        .get(&url)
        .basic_auth(user, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_basic.status(), StatusCode::UNAUTHORIZED);
    // The token is no password.
    let token_as_basic = http
        .get(&url)
        .basic_auth(user, Some(scim.token()))
        .send()
        .await
        .unwrap();
    assert_eq!(token_as_basic.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(scim.counters().with_status(401), 4);
    scim.shutdown().await;

    // Basic switched off; discovery open.
    let config = ScimConfig {
        basic_user: None,
        open_discovery: true,
        ..ScimConfig::default()
    };
    let scim = start(3, config).await;
    let base = scim.base_url();
    let basic = http
        .get(format!("{base}/Users"))
        .basic_auth("sandbox-scim-admin", Some("sandbox-scim-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        basic.headers().get_all("www-authenticate").iter().count(),
        1
    );
    let spc = http
        .get(format!("{base}/ServiceProviderConfig"))
        .send()
        .await
        .unwrap();
    assert_eq!(spc.status(), StatusCode::OK);
    let spc = body(spc).await;
    assert_eq!(spc["authenticationSchemes"].as_array().unwrap().len(), 1);
    let schema = http
        .get(format!("{base}/Schemas/{ENTERPRISE_SCHEMA}"))
        .send()
        .await
        .unwrap();
    assert_eq!(schema.status(), StatusCode::OK);
    for closed in ["/Users", "/Users/ServiceProviderConfig", "/Groups/Schemas"] {
        let r = http.get(format!("{base}{closed}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{closed}");
    }
    scim.shutdown().await;
}

#[tokio::test]
async fn unknown_ids_and_paths_are_scim_404s() {
    let scim = start(3, ScimConfig::default()).await;
    let api = Api::new(&scim);
    let r = api
        .get("/Users/2819c223-7f76-453a-919d-413861904646", &[])
        .await;
    assert_eq!(scim_error(r, StatusCode::NOT_FOUND).await, None);
    let r = api.get("/Groups/nope", &[]).await;
    assert_eq!(scim_error(r, StatusCode::NOT_FOUND).await, None);
    let r = api.get("/Nothing", &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    scim.shutdown().await;
}
