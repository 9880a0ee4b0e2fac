//! Users and Groups: paging, filters, attribute selection and the resource shapes.

use api_sandbox::scim::{ENTERPRISE_SCHEMA, ScimConfig, USER_SCHEMA};
use reqwest::StatusCode;
use serde_json::json;

use super::{Api, ids, scim_error, start};

#[tokio::test]
async fn paging_follows_rfc_7644_with_a_server_cap() {
    let config = ScimConfig {
        max_count: 10,
        ..ScimConfig::default()
    };
    let scim = start(23, config).await;
    let api = Api::new(&scim);
    let expected: Vec<String> = scim.state().users().into_iter().map(|u| u.id).collect();
    let mut seen = Vec::new();
    for (start, size) in [(1, 10), (11, 10), (21, 3)] {
        let page = api
            .ok(
                "/Users",
                &[("startIndex", &start.to_string()), ("count", "10")],
            )
            .await;
        assert_eq!(
            page["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
        );
        assert_eq!(page["totalResults"], 23);
        assert_eq!(page["startIndex"], start);
        assert_eq!(page["itemsPerPage"], size);
        seen.extend(ids(&page));
    }
    assert_eq!(seen, expected);
    // Past the end: empty.
    let past = api.ok("/Users", &[("startIndex", "24")]).await;
    assert_eq!(past["Resources"], json!([]));
    // No count: the cap. A larger count: capped.
    assert_eq!(api.ok("/Users", &[]).await["itemsPerPage"], 10);
    assert_eq!(
        api.ok("/Users", &[("count", "500")]).await["itemsPerPage"],
        10
    );
    // startIndex < 1 is 1; count 0 gives the total only; negative count is 0.
    let zero = api
        .ok("/Users", &[("startIndex", "-4"), ("count", "0")])
        .await;
    assert_eq!(
        (zero["startIndex"].clone(), zero["itemsPerPage"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(zero["totalResults"], 23);
    assert_eq!(
        api.ok("/Users", &[("count", "-1")]).await["itemsPerPage"],
        0
    );
    let bad = api.get("/Users", &[("count", "ten")]).await;
    assert_eq!(
        scim_error(bad, StatusCode::BAD_REQUEST).await.as_deref(),
        Some("invalidValue")
    );
    scim.shutdown().await;
}

#[tokio::test]
async fn filters_select_users_by_common_attributes() {
    let scim = start(80, ScimConfig::default()).await;
    let api = Api::new(&scim);
    let users = scim.state().users();
    let someone = &users[3];
    let exact = |f: &dyn Fn(&api_sandbox::scim::ScimUser) -> bool| -> Vec<String> {
        users
            .iter()
            .filter(|u| f(u))
            .map(|u| u.id.clone())
            .collect()
    };

    let by_name = format!("userName eq \"{}\"", someone.user_name.to_uppercase());
    assert_eq!(
        api.filtered(&by_name).await,
        std::slice::from_ref(&someone.id)
    );
    let by_id = format!("id eq \"{}\"", someone.id);
    assert_eq!(
        api.filtered(&by_id).await,
        std::slice::from_ref(&someone.id)
    );
    let inactive = exact(&|u| !u.active);
    assert!(!inactive.is_empty());
    assert_eq!(api.filtered("active eq false").await, inactive);
    assert_eq!(
        api.filtered("active eq true").await.len(),
        users.len() - inactive.len()
    );
    let old = exact(&|u| u.emails.iter().any(|e| e.contains("@old.")));
    assert!(!old.is_empty());
    assert_eq!(api.filtered("emails co \"@old.\"").await, old);
    assert_eq!(api.filtered("emails.value co \"@OLD.\"").await, old);
    let sw = exact(&|u| u.user_name.starts_with("jane."));
    assert_eq!(api.filtered("userName sw \"jane.\"").await, sw);
    let no_external = exact(&|u| u.external_id.is_none());
    assert!(!no_external.is_empty());
    assert_eq!(api.filtered("not (externalId pr)").await, no_external);
    let ext = someone.external_id.clone().expect("an external id");
    assert_eq!(
        api.filtered(&format!("externalId eq \"{ext}\"")).await,
        std::slice::from_ref(&someone.id)
    );
    let sales_or_finance =
        exact(&|u| matches!(u.department.as_deref(), Some("Sales" | "Finance")) && u.active);
    assert_eq!(
        api.filtered(&format!(
            "({ENTERPRISE_SCHEMA}:department eq \"sales\" or {ENTERPRISE_SCHEMA}:department eq \"Finance\") and active eq true"
        ))
        .await,
        sales_or_finance
    );
    let name = format!("displayName eq \"{}\"", someone.display_name);
    assert!(api.filtered(&name).await.contains(&someone.id));

    // A quote in a value is escaped as in JSON.
    assert!(
        scim.state()
            .rename_user(&someone.id, "o\"brien@acme.example")
    );
    assert_eq!(
        api.filtered(r#"userName eq "o\"brien@acme.example""#).await,
        std::slice::from_ref(&someone.id)
    );

    for bad in [
        "nickName eq \"x\"",
        "emails[type eq \"work\"]",
        "userName eq unquoted",
        "userName eq \"x\" and",
    ] {
        let r = api.get("/Users", &[("filter", bad)]).await;
        assert_eq!(
            scim_error(r, StatusCode::BAD_REQUEST).await.as_deref(),
            Some("invalidFilter"),
            "{bad}"
        );
    }
    scim.shutdown().await;
}

#[tokio::test]
async fn users_carry_the_enterprise_extension_groups_and_meta() {
    let scim = start(40, ScimConfig::default()).await;
    let api = Api::new(&scim);
    let state = scim.state();
    let managed = state
        .users()
        .into_iter()
        .find(|u| u.manager_id.is_some())
        .expect("someone has a manager");
    let manager = state.user(managed.manager_id.as_deref().unwrap()).unwrap();
    let user = api.ok(&format!("/Users/{}", managed.id), &[]).await;
    assert_eq!(user["schemas"][0], USER_SCHEMA);
    assert!(
        user["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(ENTERPRISE_SCHEMA))
    );
    let ent = &user[ENTERPRISE_SCHEMA];
    assert_eq!(ent["department"], json!(managed.department));
    assert_eq!(ent["employeeNumber"], json!(managed.employee_number));
    assert_eq!(ent["manager"]["value"], json!(manager.id));
    assert_eq!(ent["manager"]["displayName"], json!(manager.display_name));
    assert_eq!(user["emails"][0]["primary"], true);
    assert_eq!(user["userName"], json!(managed.user_name));
    let group = &user["groups"][0];
    assert_eq!(group["display"], json!(managed.department));
    assert_eq!(group["type"], "direct");
    // meta.location is where the resource lives.
    let location = user["meta"]["location"].as_str().unwrap();
    assert_eq!(
        location,
        format!("{}/Users/{}", scim.base_url(), managed.id)
    );
    assert_eq!(user["meta"]["resourceType"], "User");
    assert!(user["meta"]["created"].as_str().unwrap().ends_with('Z'));

    // Groups, their members, and members.value filters.
    let groups = api.ok("/Groups", &[]).await;
    assert_eq!(groups["totalResults"], 8);
    let gid = group["value"].as_str().unwrap();
    let one = api.ok(&format!("/Groups/{gid}"), &[]).await;
    assert_eq!(one["displayName"], json!(managed.department));
    assert!(
        one["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["value"] == json!(managed.id) && m["display"] == json!(managed.display_name))
    );
    let with_member = api
        .ok(
            "/Groups",
            &[("filter", &format!("members.value eq \"{}\"", managed.id))],
        )
        .await;
    assert_eq!(ids(&with_member), [gid.to_owned()]);
    let named = api
        .ok(
            "/Groups",
            &[(
                "filter",
                "displayName sw \"admin\" or displayName eq \"Contractors\"",
            )],
        )
        .await;
    assert_eq!(named["totalResults"], 2);
    let empty = api.ok("/Groups", &[("filter", "not (members pr)")]).await;
    assert_eq!(empty["Resources"][0]["displayName"], "Contractors");
    scim.shutdown().await;
}

#[tokio::test]
async fn attributes_and_excluded_attributes_shape_answers() {
    let scim = start(5, ScimConfig::default()).await;
    let api = Api::new(&scim);
    let page = api
        .ok(
            "/Users",
            &[(
                "attributes",
                &format!("userName,{ENTERPRISE_SCHEMA}:department"),
            )],
        )
        .await;
    let first = page["Resources"][0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "id",
            "schemas",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "userName"
        ]
    );
    let id = first["id"].as_str().unwrap();
    let one = api
        .ok(
            &format!("/Users/{id}"),
            &[("excludedAttributes", "emails,groups,meta,id")],
        )
        .await;
    assert!(one.get("emails").is_none() && one.get("meta").is_none());
    assert_eq!(one["id"], id);
    assert!(one.get("userName").is_some());
    scim.shutdown().await;
}
