//! Admin API: user list paging, user info and admin roles.

use std::collections::HashSet;

use api_sandbox::quip::QuipConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Api, body, ids, start, unlimited};

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
