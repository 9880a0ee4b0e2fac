//! Automation API: current user, user lookups and OAuth refresh.

use std::time::Duration;

use api_sandbox::quip::QuipConfig;
use reqwest::{Client, StatusCode};
use serde_json::json;

use super::{Api, HOUR_START, TestClock, body, header, start, unlimited};

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
