//! State changes seen by later requests, and paging 100,000 people.

use std::collections::HashSet;

use api_sandbox::datagen::{self, DataSpec};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{start, total_count, urlencode};

#[tokio::test]
async fn state_changes_are_visible_to_later_requests() {
    let env = start().await;
    let state = env.emu.state();
    env.add(json!({"username": "a", "email": "a@acme.example"}));
    state.set_field("a", "suspended", json!(true)).unwrap();
    let (_, body) = env.send(env.get("/api/v3/users/a")).await;
    assert_eq!(body["suspended"], true);
    state
        .set_field("a", "last_login_date", json!(1_700_000_000))
        .unwrap();
    let (_, body) = env.send(env.get("/api/v3/users/a")).await;
    assert_eq!(
        body["last_login_date"], 1_700_000_000,
        "the handle may set server fields"
    );

    env.send(env.patch("/api/v3/users/a", &json!({"position": "Engineer"})))
        .await;
    assert_eq!(state.person("a").unwrap()["position"], "Engineer");
    assert_eq!(
        state
            .find_people("position", &json!("Engineer"))
            .unwrap()
            .len(),
        1
    );
    let removed = state.remove_person("a").unwrap();
    assert_eq!(removed["email"], "a@acme.example");
    let (status, _) = env.send(env.get("/api/v3/users/a")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(matches!(
        state.set_field("a", "position", json!("x")),
        Err(e) if e.status() == 404
    ));

    // Seeding takes an evenly spread share, without Quip ids.
    let persons = datagen::generate(&DataSpec {
        users: 100,
        ..DataSpec::default()
    });
    let seeded = state.seed_people_from(&persons, 0.25);
    assert_eq!(seeded.len(), 25);
    assert_eq!(seeded[0], persons[3].email());
    let first = state.person(&seeded[0]).unwrap();
    assert_eq!(first["email"], persons[3].email());
    assert_eq!(first["full_name"], persons[3].name);
    assert!(first["quip_user_id"].is_null());
    assert_eq!(first["created_by"], "sandbox");
    assert_eq!(
        state.seed_people_from(&persons, 0.25).len(),
        0,
        "no duplicates"
    );
    let (names, total) = env.usernames("limit=1").await;
    assert_eq!(total, 25);
    assert_eq!(names[0], persons[3].email());
}
#[tokio::test]
async fn serves_100000_people_through_paging() {
    let env = start().await;
    let persons = datagen::generate(&DataSpec {
        users: 100_000,
        ..DataSpec::default()
    });
    let state = env.emu.state();
    assert_eq!(state.seed_people_from(&persons, 1.0).len(), 100_000);
    let mut seen = HashSet::with_capacity(100_000);
    let mut skip = 0;
    let mut pages = 0;
    loop {
        let response = env
            .get(&format!(
                "/api/v3/users?limit=1000&skip={skip}&fields=user_id,username"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(total_count(&response), 100_000);
        let page: Vec<Value> = response.json().await.unwrap();
        pages += 1;
        for p in &page {
            assert!(seen.insert(p["user_id"].as_str().unwrap().to_owned()));
        }
        skip += page.len();
        if page.len() < 1000 {
            break;
        }
    }
    assert_eq!(seen.len(), 100_000);
    assert_eq!(pages, 101);
    let (one, _) = env
        .usernames(&format!(
            "filter={}",
            urlencode(&format!("username eq '{}'", persons[99_999].email()))
        ))
        .await;
    assert_eq!(one, [persons[99_999].email()]);
}
