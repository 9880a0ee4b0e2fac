//! State changes seen by later reads, and paging 100,000 users.

use std::collections::HashSet;

use api_sandbox::quip::QuipConfig;
use reqwest::StatusCode;

use super::{Api, body, ids, new_person, start, unlimited};

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
