//! Authentication: admin and SCIM tokens.

use api_sandbox::quip::QuipConfig;
use reqwest::{Client, StatusCode};
use serde_json::json;

use super::{Api, body, header, start, unlimited};

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
