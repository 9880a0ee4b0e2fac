//! State changes through `ScimState` are visible to the next request.

use api_sandbox::scim::{ScimConfig, ScimGroup, ScimUser};
use reqwest::StatusCode;
use serde_json::json;

use super::{Api, ids, start};

#[tokio::test]
async fn user_changes_show_in_the_next_answer() {
    let scim = start(6, ScimConfig::default()).await;
    let api = Api::new(&scim);
    let state = scim.state();
    let users = state.users();
    let (a, b) = (&users[0], &users[1]);
    let before = api.ok(&format!("/Users/{}", a.id), &[]).await;

    assert!(state.set_active(&a.id, false));
    assert!(state.rename_user(&a.id, "renamed@acme.example"));
    assert!(
        !state.rename_user(&a.id, &b.user_name.to_uppercase()),
        "taken"
    );
    assert!(state.set_display_name(&a.id, "Renamed Person"));
    assert!(state.set_department(&a.id, Some("Legal")));
    let after = api.ok(&format!("/Users/{}", a.id), &[]).await;
    assert_eq!(after["active"], false);
    assert_eq!(after["userName"], "renamed@acme.example");
    assert_eq!(after["displayName"], "Renamed Person");
    assert_eq!(
        after["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Legal"
    );
    assert!(after["meta"]["lastModified"].as_str() >= before["meta"]["lastModified"].as_str());
    assert_ne!(after["meta"]["version"], before["meta"]["version"]);

    let mut added = ScimUser::new("new-user-1", "new@acme.example", 1_700_000_000_000_000);
    added.external_id = Some("E-NEW".into());
    assert!(state.add_user(added.clone()));
    assert!(!state.add_user(added), "same id");
    assert!(
        !state.add_user(ScimUser::new("other", "NEW@acme.example", 0)),
        "same userName"
    );
    let page = api.ok("/Users", &[]).await;
    assert_eq!(page["totalResults"], 7);
    assert_eq!(ids(&page).last().map(String::as_str), Some("new-user-1"));
    let new = api.ok("/Users/new-user-1", &[]).await;
    assert_eq!(new["externalId"], "E-NEW");
    assert_eq!(new["meta"]["created"], "2023-11-14T22:13:20Z");

    // Removing a user removes their memberships.
    let group = state
        .groups()
        .into_iter()
        .find(|g| g.members.contains(&b.id))
        .expect("b is in a group");
    assert!(state.remove_user(&b.id));
    assert!(!state.remove_user(&b.id));
    let r = api.get(&format!("/Users/{}", b.id), &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!state.group(&group.id).unwrap().members.contains(&b.id));
    assert!(!state.set_active(&b.id, true));
    scim.shutdown().await;
}

#[tokio::test]
async fn group_changes_show_in_the_next_answer() {
    let scim = start(4, ScimConfig::default()).await;
    let api = Api::new(&scim);
    let state = scim.state();
    let user = state.users()[0].id.clone();
    assert!(state.add_group(ScimGroup::new("g-1", "Pilots", vec![], 0)));
    assert!(!state.add_group(ScimGroup::new("g-1", "Again", vec![], 0)));
    assert!(state.add_member("g-1", &user));
    assert!(!state.add_member("g-1", &user));
    assert!(state.rename_group("g-1", "Test Pilots"));
    let g = api.ok("/Groups/g-1", &[]).await;
    assert_eq!(g["displayName"], "Test Pilots");
    assert_eq!(g["members"][0]["value"], json!(user));
    let u = api.ok(&format!("/Users/{user}"), &[]).await;
    assert!(
        u["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["value"] == "g-1")
    );
    assert!(state.remove_member("g-1", &user));
    assert!(!state.remove_member("g-1", &user));
    assert!(
        api.ok("/Groups/g-1", &[]).await["members"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(state.remove_group("g-1"));
    assert!(!state.remove_group("g-1"));
    assert!(!state.rename_group("g-1", "x"));
    assert_eq!(
        api.get("/Groups/g-1", &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    scim.shutdown().await;
}
