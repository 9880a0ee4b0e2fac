//! Listing People: paging, the limit cap, sorting and filters.

use std::collections::HashSet;

use api_sandbox::datagen::{self, DataSpec};
use reqwest::StatusCode;
use serde_json::json;

use super::{start, urlencode};

#[tokio::test]
async fn paging_empty_exact_multiple_and_partial_last_page() {
    let env = start().await;
    let (names, total) = env.usernames("limit=10&skip=0").await;
    assert!(names.is_empty());
    assert_eq!(total, 0);

    env.add_numbered(20);
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (names, total) = env
            .usernames(&format!("limit=10&skip={}", seen.len()))
            .await;
        assert_eq!(total, 20);
        pages += 1;
        let short = names.len() < 10;
        seen.extend(names);
        if short {
            break;
        }
    }
    assert_eq!(
        pages, 3,
        "exact multiple: two full pages, then an empty one"
    );
    assert_eq!(seen.len(), 20);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 20);

    for i in 20..25 {
        env.add(json!({"username": format!("user{i:03}")}));
    }
    let (last, _) = env.usernames("limit=10&skip=20").await;
    assert_eq!(
        last,
        ["user020", "user021", "user022", "user023", "user024"]
    );
    let (beyond, total) = env.usernames("limit=10&skip=500").await;
    assert!(beyond.is_empty());
    assert_eq!(total, 25);

    // Default limit is 100.
    for i in 25..150 {
        env.add(json!({"username": format!("user{i:03}")}));
    }
    let (page, _) = env.usernames("").await;
    assert_eq!(page.len(), 100);
    let (status, body) = env.send(env.get("/api/v3/users?limit=abc")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"][0].as_str().unwrap().contains("limit"));
}
#[tokio::test]
async fn limit_above_1000_is_silently_capped() {
    let env = start().await;
    let persons = datagen::generate(&DataSpec {
        users: 1_200,
        ..DataSpec::default()
    });
    assert_eq!(env.emu.state().seed_people_from(&persons, 1.0).len(), 1_200);
    let (page, total) = env.usernames("limit=5000").await;
    assert_eq!(page.len(), 1000);
    assert_eq!(total, 1200);
    let (rest, _) = env.usernames("limit=5000&skip=1000").await;
    assert_eq!(rest.len(), 200);
}
#[tokio::test]
async fn sortby_orders_and_rejects_unknown_fields() {
    let env = start().await;
    for name in ["carol", "alice", "bob"] {
        env.add(json!({"username": name}));
    }
    let (names, _) = env.usernames("sortby=username%20asc").await;
    assert_eq!(names, ["alice", "bob", "carol"]);
    let (names, _) = env.usernames("sortby=username%20desc").await;
    assert_eq!(names, ["carol", "bob", "alice"]);
    let (names, _) = env.usernames("sortby=uid%20desc&limit=2").await;
    assert_eq!(names, ["bob", "alice"]);
    let (names, _) = env.usernames("").await;
    assert_eq!(
        names,
        ["carol", "alice", "bob"],
        "creation order by default"
    );
    let (status, body) = env
        .send(env.get("/api/v3/users?sortby=shoe_size%20asc"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"][0].as_str().unwrap().contains("shoe_size"));
}
#[tokio::test]
async fn filters_eq_and_parentheses_quotes_and_errors() {
    let env = start().await;
    env.add_numbered(10);
    env.add(json!({"username": "o'brien", "email": "ob@acme.example", "role": 9}));
    let q = |f: &str| format!("filter={}", urlencode(f));
    let (names, total) = env.usernames(&q("username eq 'user003'")).await;
    assert_eq!(names, ["user003"]);
    assert_eq!(total, 1);
    let (names, _) = env.usernames(&q("username eq 'o''brien'")).await;
    assert_eq!(names, ["o'brien"], "'' escapes a quote");
    let (names, _) = env
        .usernames(&q("(role eq 2) and (username ne 'user002')"))
        .await;
    assert_eq!(names, ["user007"]);
    let (names, _) = env.usernames(&q("(role gt '3') and (role lt 9)")).await;
    assert_eq!(
        names,
        ["user004", "user009"],
        "quoted numbers compare as numbers"
    );
    let (names, _) = env
        .usernames(&q("username eq 'user001' or username eq 'user002'"))
        .await;
    assert_eq!(names, ["user001", "user002"]);
    let (names, _) = env.usernames(&q("suspended eq true")).await;
    assert!(names.is_empty());
    let (names, _) = env.usernames(&q("quip_user_id eq ''")).await;
    assert_eq!(names.len(), 11, "empty matches unset");
    let (names, _) = env.usernames(&q("username eq 'USER001'")).await;
    assert!(names.is_empty(), "comparisons are case-sensitive");

    for bad in [
        "shoe_size eq '1'",
        "username eq \"user001\"",
        "username eq 'unterminated",
        "(username eq 'a'",
        "username contains 'a'",
        "role eq 'many'",
    ] {
        let (status, body) = env
            .send(env.get(&format!("/api/v3/users?{}", q(bad))))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            body["errors"][0].as_str().unwrap().starts_with("filter:"),
            "{bad}: {body}"
        );
    }
}
