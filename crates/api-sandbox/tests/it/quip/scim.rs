//! SCIM: paging, filters and deletion.

use api_sandbox::quip::QuipConfig;
use reqwest::StatusCode;
use serde_json::json;

use super::{Api, body, ids, start, unlimited};

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
