//! Against the api-sandbox SCIM emulator: listings, paging under a server cap, filters,
//! attribute selection, single reads, groups and discovery.

use api_sandbox::scim::{ENTERPRISE_SCHEMA, ScimConfig, ScimEmulator};
use futures::TryStreamExt;
use scim_client::{Auth, FailureKind, Filter, ScimErrorExt, ScimType};

use crate::common::{client_of, client_with, config, emulator};

fn expected_ids(scim: &ScimEmulator) -> Vec<String> {
    scim.state().users().into_iter().map(|u| u.id).collect()
}

#[tokio::test]
async fn a_full_listing_reads_every_user_once() {
    let scim = emulator(250, 100).await;
    let (client, clock) = client_of(&scim, 100);
    let users = client.users().list().all().await.unwrap();
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    assert_eq!(ids, expected_ids(&scim));
    assert_eq!(client.stats().calls, 3);
    assert_eq!(scim.counters().count("GET", "/scim/v2/Users"), 3);
    assert!(clock.sleeps().is_empty());
    // The typed fields are filled from the emulator's resources.
    let state = scim.state().users();
    for (u, s) in users.iter().zip(&state) {
        assert_eq!(u.user_name.as_deref(), Some(s.user_name.as_str()));
        assert_eq!(u.is_active(), s.active);
        assert_eq!(u.primary_email(), s.emails.first().map(String::as_str));
        assert_eq!(
            u.enterprise.as_ref().and_then(|e| e.department.clone()),
            s.department
        );
        assert_eq!(
            u.enterprise
                .as_ref()
                .and_then(|e| e.manager.as_ref())
                .and_then(|m| m.value.clone()),
            s.manager_id
        );
    }
    // The vendor extension is reachable by path.
    let with_login = state
        .iter()
        .position(|s| s.last_login_usec.is_some())
        .unwrap();
    assert!(
        users[with_login]
            .attribute("urn:api-sandbox:params:scim:schemas:extension:activity:2.0:User:lastLogin")
            .is_some_and(|v| v.as_str().is_some_and(|t| t.ends_with('Z')))
    );
    scim.shutdown().await;
}

#[tokio::test]
async fn a_server_cap_on_count_sets_the_page_size() {
    let scim = emulator(95, 40).await;
    let (client, _) = client_of(&scim, 100);
    let mut pages = client.users().list().pages();
    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    while let Some(page) = pages.try_next().await.unwrap() {
        assert_eq!(page.total_results, Some(95));
        sizes.push(page.resources.len());
        ids.extend(page.resources.into_iter().map(|u| u.id));
    }
    assert_eq!(sizes, [40, 40, 15]);
    assert_eq!(ids, expected_ids(&scim));
    // Empty directory: one request, nothing listed.
    let empty = emulator(0, 40).await;
    let (client, _) = client_of(&empty, 10);
    assert!(client.users().list().all().await.unwrap().is_empty());
    assert_eq!(client.stats().calls, 1);
    scim.shutdown().await;
    empty.shutdown().await;
}

#[tokio::test]
async fn filters_are_quoted_and_the_server_applies_them() {
    let scim = emulator(120, 100).await;
    let (client, _) = client_of(&scim, 50);
    let state = scim.state();
    let someone = state.users()[7].clone();
    assert!(state.rename_user(&someone.id, "o\"brien\\x@acme.example"));

    let found = client
        .users()
        .list()
        .filter(&Filter::eq("userName", "O\"BRIEN\\x@acme.example"))
        .all()
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, someone.id);

    let inactive: Vec<String> = state
        .users()
        .into_iter()
        .filter(|u| !u.active)
        .map(|u| u.id)
        .collect();
    assert!(!inactive.is_empty());
    let got: Vec<String> = client
        .users()
        .list()
        .filter(&Filter::eq("active", false))
        .items()
        .map_ok(|u| u.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got, inactive);

    let department = format!("{ENTERPRISE_SCHEMA}:department");
    let sales = client
        .users()
        .list()
        .filter(&Filter::eq(department.as_str(), "Sales").and(Filter::pr("title")))
        .count(7)
        .all()
        .await
        .unwrap();
    let expected = state
        .users()
        .iter()
        .filter(|u| u.department.as_deref() == Some("Sales"))
        .count();
    assert_eq!(sales.len(), expected);
    assert!(
        sales
            .iter()
            .all(|u| u.attribute(&department).is_some_and(|d| d == "Sales"))
    );

    let co = client
        .users()
        .list()
        .filter(&Filter::co("emails", "@old.").or(Filter::sw("userName", "o\"brien")))
        .all()
        .await
        .unwrap();
    assert!(co.iter().any(|u| u.id == someone.id));
    assert!(co.len() > 1);

    // The server refuses a filter it does not support: a typed error.
    let before = scim.counters().total();
    let e = client
        .users()
        .list()
        .filter(&Filter::eq("nickName", "x"))
        .all()
        .await
        .unwrap_err();
    assert_eq!(e.failure(), FailureKind::InvalidFilter);
    assert_eq!(e.scim_type(), Some(&ScimType::InvalidFilter));
    assert_eq!(scim.counters().total(), before + 1, "a 400 is not retried");
    // A filter the builder cannot write correctly never leaves the client.
    let e = client
        .users()
        .list()
        .filter(&Filter::eq("user name", "x"))
        .all()
        .await
        .unwrap_err();
    assert_eq!(e.failure(), FailureKind::Config);
    assert_eq!(scim.counters().total(), before + 1);
    // A hand-written one is sent as is.
    let raw = client
        .users()
        .list()
        .filter_raw(format!("id eq \"{}\"", someone.id))
        .all()
        .await
        .unwrap();
    assert_eq!(raw.len(), 1);
    scim.shutdown().await;
}

#[tokio::test]
async fn attribute_selection_and_single_reads() {
    let scim = emulator(30, 100).await;
    let (client, _) = client_of(&scim, 100);
    let users = client
        .users()
        .list()
        .attributes(["userName", "emails.value"])
        .all()
        .await
        .unwrap();
    assert_eq!(users.len(), 30);
    assert!(users.iter().all(|u| u.user_name.is_some()
        && u.display_name.is_none()
        && u.meta.is_none()
        && !u.emails.is_empty()
        && u.emails.iter().all(|e| e.kind.is_none())));
    let slim = client
        .users()
        .list()
        .excluded_attributes(["groups", "emails"])
        .all()
        .await
        .unwrap();
    assert!(
        slim.iter()
            .all(|u| u.emails.is_empty() && u.groups.is_empty() && u.meta.is_some())
    );

    let state = scim.state().users();
    let managed = state.iter().find(|u| u.manager_id.is_some()).unwrap();
    let one = client.users().get(&managed.id).send().await.unwrap();
    assert_eq!(one.id, managed.id);
    assert_eq!(
        one.display_name.as_deref(),
        Some(managed.display_name.as_str())
    );
    let manager = one.enterprise.as_ref().unwrap().manager.as_ref().unwrap();
    assert_eq!(manager.value, managed.manager_id);
    assert!(
        manager
            .reference
            .as_deref()
            .unwrap()
            .starts_with(&scim.base_url())
    );
    assert_eq!(one.groups.len(), 1);
    assert_eq!(one.groups[0].kind.as_deref(), Some("direct"));
    let slim = client
        .users()
        .get(&managed.id)
        .attributes(["active"])
        .send()
        .await
        .unwrap();
    assert_eq!(slim.active, Some(managed.active));
    assert!(slim.user_name.is_none());
    let e = client.users().get("no-such-id").send().await.unwrap_err();
    assert_eq!(e.failure(), FailureKind::NotFound);
    let e = client.users().get(" ").send().await.unwrap_err();
    assert_eq!(e.failure(), FailureKind::Config);
    // An id with a slash stays one path segment.
    let e = client
        .users()
        .get("a/../../Groups")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.failure(), FailureKind::NotFound);

    let groups = client.groups().list().all().await.unwrap();
    assert_eq!(groups.len(), 8);
    let dept = groups
        .iter()
        .find(|g| {
            g.members
                .iter()
                .any(|m| m.value.as_deref() == Some(managed.id.as_str()))
        })
        .unwrap();
    let again = client.groups().get(&dept.id).send().await.unwrap();
    assert_eq!(again.display_name, dept.display_name);
    assert_eq!(again.members.len(), dept.members.len());
    let with_member = client
        .groups()
        .list()
        .filter(&Filter::eq("members.value", managed.id.as_str()))
        .all()
        .await
        .unwrap();
    assert_eq!(with_member.len(), 1);
    scim.shutdown().await;
}

#[tokio::test]
async fn discovery_and_basic_auth_against_the_emulator() {
    let scim = emulator(3, 25).await;
    let (client, _) = client_of(&scim, 100);
    let spc = client.discovery().service_provider_config().await.unwrap();
    assert!(spc.supports_filter());
    assert_eq!(spc.filter.unwrap().max_results, Some(25));
    assert_eq!(spc.sort.unwrap().supported, Some(false));
    let schemas = client.discovery().schemas().await.unwrap();
    assert!(schemas.iter().any(|s| s.id == ENTERPRISE_SCHEMA));
    let types = client.discovery().resource_types().await.unwrap();
    assert_eq!(
        types
            .iter()
            .map(|t| t.endpoint.as_str())
            .collect::<Vec<_>>(),
        ["/Users", "/Groups"]
    );

    let (user, password) = scim.basic_credentials().unwrap();
    let mut basic = config(&scim.base_url(), "unused");
    basic.auth = Auth::basic(user, password.to_owned());
    let (client, _) = client_with(basic);
    assert_eq!(client.users().list().all().await.unwrap().len(), 3);
    scim.shutdown().await;

    let closed = ScimConfig {
        basic_user: None,
        ..ScimConfig::default()
    };
    let scim = ScimEmulator::start_generated(
        closed,
        &api_sandbox::DataSpec {
            users: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut basic = config(&scim.base_url(), "unused");
    basic.auth = Auth::basic("sandbox-scim-admin", "sandbox-scim-password");
    let (client, _) = client_with(basic);
    let e = client.users().list().all().await.unwrap_err();
    assert_eq!(e.failure(), FailureKind::Auth);
    scim.shutdown().await;
}
