//! First sync of 2,000 users, unchanged re-sync, deactivation, reactivation, the
//! mass-removal guard and the group filter.

use std::collections::{BTreeMap, BTreeSet};

use api_sandbox::oomnitza::SeatStatus;
use serde_json::Value;

use crate::support::{Harness, active_humans, counts};

/// `scim_user_id` → person for every Oomnitza person that has one (panics on duplicates).
fn owned_people(h: &Harness) -> BTreeMap<String, Value> {
    let mut owned = BTreeMap::new();
    for person in h.oomnitza.state().people() {
        if let Some(id) = person["scim_user_id"].as_str().filter(|s| !s.is_empty()) {
            let previous = owned.insert(id.to_owned(), person.clone());
            assert!(previous.is_none(), "two people with scim_user_id {id}");
        }
    }
    owned
}

/// Oomnitza holds exactly the active human SCIM users as active people, each with one
/// active seat carrying the role from the Administrators group and the last sign-in.
fn assert_in_step(h: &Harness) {
    let users = h.scim_users();
    let active = active_humans(&users);
    let owned = owned_people(h);
    let expected: BTreeSet<&str> = active.iter().map(|u| u.id.as_str()).collect();
    let actual: BTreeSet<&str> = owned
        .iter()
        .filter(|(_, p)| p["suspended"] != true)
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(
        actual, expected,
        "active owned people = active human SCIM users"
    );
    let admins: BTreeSet<String> = h
        .scim
        .state()
        .groups()
        .into_iter()
        .find(|g| g.display_name == "Administrators")
        .expect("the Administrators group")
        .members
        .into_iter()
        .collect();
    let seats: BTreeMap<String, _> = h
        .seats()
        .into_iter()
        .filter(|s| s.status == SeatStatus::Active)
        .map(|s| (s.user_id.clone(), s))
        .collect();
    assert_eq!(seats.len(), active.len(), "one active seat per active user");
    let (mut with_activity, mut admin_seats) = (0, 0);
    for u in &active {
        let person = &owned[&u.id];
        assert_eq!(person["email"], u.emails[0].to_lowercase(), "{person}");
        assert_eq!(
            person["full_name"],
            format!("{} {}", u.given_name, u.family_name)
        );
        let seat = &seats[person["user_id"].as_str().expect("user_id")];
        assert_eq!(seat.user_external_id.as_deref(), Some(u.id.as_str()));
        let role = seat.roles.as_ref().expect("every seat has a role");
        let want = if admins.contains(&u.id) {
            "Administrators"
        } else {
            "Member"
        };
        assert_eq!(role.role_external_label, want, "{seat:?}");
        admin_seats += usize::from(want != "Member");
        let login = u.last_login_usec.map(|us| us.div_euclid(1_000_000));
        assert_eq!(seat.last_visit, login, "last activity of {}", u.id);
        with_activity += usize::from(login.is_some());
    }
    assert!(with_activity > active.len() / 2, "most users signed in");
    assert!(admin_seats > 0, "some seats carry the admin role");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_of_2000_users_then_an_unchanged_resync_writes_nothing() {
    let h = Harness::start(2000, 12).await;
    let users = h.scim_users();
    assert_eq!(users.len(), 2000);
    let active = active_humans(&users).len() as u64;
    assert!(active > 1500 && active < 2000, "{active}");

    let out = h.run().await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(report["status"], "succeeded", "{report:#}");
    // Disabled users are skipped (never created), bots filtered out; everyone else is
    // created once, person and seat.
    let left_out = users.iter().filter(|u| !u.active && !u.robot).count() as u64;
    assert_eq!(counts(&report, "counts"), [active, 0, 0, 0, 0, left_out, 0]);
    assert_eq!(
        counts(&report, "saas_counts"),
        [active, 0, 0, 0, 0, left_out, 0]
    );
    // 2,000 users at 100 a page; memberships come with the users.
    let scim_calls = report["api_calls"]["scim"].as_u64().expect("scim calls");
    assert_eq!(scim_calls, h.scim.counters().total());
    assert_eq!(scim_calls, 20);
    assert_in_step(&h);

    let writes = h.oomnitza_writes();
    let out = h.run().await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(counts(&report, "counts"), [0, 0, 0, 0, active, left_out, 0]);
    assert_eq!(
        counts(&report, "saas_counts"),
        [0, 0, 0, 0, active, left_out, 0]
    );
    assert_eq!(
        h.oomnitza_writes(),
        writes,
        "an unchanged re-sync writes nothing"
    );
    assert_in_step(&h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_set_inactive_is_deactivated_and_reactivated_when_set_back() {
    let h = Harness::start(120, 21).await;
    h.run().await.expect_code(0);
    let users = h.scim_users();
    let leaver = active_humans(&users)[3].clone();

    h.scim.state().set_active(&leaver.id, false);
    let out = h.run().await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(report["counts"]["deactivated"], 1, "{report:#}");
    assert_eq!(report["saas_counts"]["deactivated"], 1, "{report:#}");
    assert_eq!(report["counts"]["created"], 0);
    assert_eq!(h.person(&leaver.id)["suspended"], true);

    h.scim.state().set_active(&leaver.id, true);
    let out = h.run().await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(report["counts"]["reactivated"], 1, "{report:#}");
    assert_eq!(report["saas_counts"]["reactivated"], 1, "{report:#}");
    assert_eq!(h.person(&leaver.id)["suspended"], false);
    assert_in_step(&h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_40_percent_removal_is_held_with_exit_3_and_no_writes() {
    let h = Harness::start(200, 22).await;
    h.run().await.expect_code(0);
    let users = h.scim_users();
    let humans = active_humans(&users);
    let removed: Vec<String> = humans
        .iter()
        .step_by(5)
        .chain(humans.iter().skip(1).step_by(5))
        .map(|u| u.id.clone())
        .collect();
    for id in &removed {
        assert!(h.scim.state().remove_user(id));
    }
    let writes = h.oomnitza_writes();
    let out = h.run().await;
    out.expect_code(3);
    let report = out.json();
    assert_eq!(report["status"], "held", "{report:#}");
    let held = report["held_deactivations"].as_array().expect("held list");
    assert!(held.len() >= removed.len(), "{}", held.len());
    assert_eq!(report["counts"]["deactivated"], 0);
    assert_eq!(h.oomnitza_writes(), writes, "nothing deactivated");
    for id in &removed {
        assert_eq!(h.person(id)["suspended"], false);
    }
    // After review, --allow-deactivations applies them.
    let out = h
        .cli(["run", "--json", "--allow-deactivations", "--config"])
        .arg(h.config())
        .run()
        .await;
    out.expect_code(0);
    assert_eq!(out.json()["counts"]["deactivated"], removed.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_filter_syncs_only_members_of_the_named_groups() {
    let h = Harness::start(150, 23).await;
    let engineering: BTreeSet<String> = h
        .scim
        .state()
        .groups()
        .into_iter()
        .find(|g| g.display_name == "Engineering")
        .expect("Engineering")
        .members
        .into_iter()
        .collect();
    let config = h.write(
        "groups.toml",
        &h.config_text(r#"groups = ["engineering"]"#, ""),
    );
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    out.expect_code(0);
    let users = h.scim_users();
    let want: BTreeSet<&str> = active_humans(&users)
        .into_iter()
        .filter(|u| engineering.contains(&u.id))
        .map(|u| u.id.as_str())
        .collect();
    assert!(!want.is_empty());
    let owned = owned_people(&h);
    let got: BTreeSet<&str> = owned.keys().map(String::as_str).collect();
    assert_eq!(got, want);
    assert_eq!(out.json()["counts"]["created"], want.len());

    // A group nobody is in (a typo) reads an empty roster: nobody is deactivated.
    let config = h.write(
        "typo.toml",
        &h.config_text(r#"groups = ["Enginering"]"#, ""),
    );
    let writes = h.oomnitza_writes();
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    let report = out.json();
    assert_eq!(report["counts"]["deactivated"], 0, "{report:#}");
    assert_eq!(h.oomnitza_writes(), writes, "{report:#}");
    for id in &want {
        assert_eq!(h.person(id)["suspended"], false, "{report:#}");
    }
}
