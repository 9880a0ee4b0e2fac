//! Events API: realtime and batch login cursors.

use reqwest::StatusCode;
use serde_json::json;

use super::{Api, body, start, unlimited};

#[tokio::test]
async fn realtime_cursor_sees_only_new_logins_in_pages() {
    let quip = start(30, unlimited()).await;
    let api = Api::new(&quip);
    let state = quip.state();
    state.set_events_page_size(2);
    let company = quip.company_id().to_owned();
    let q = |cursor: &str| {
        vec![
            ("company_id", company.clone()),
            ("cursor", cursor.to_owned()),
        ]
    };
    let get = "/1/admin/events/1/events/realtime/get";

    let created = body(
        api.get_query(
            "/1/admin/events/1/cursor/realtime/create",
            &[("company_id", &company)],
        )
        .await,
    )
    .await;
    let cursor = created["next_cursor"].as_str().expect("cursor").to_owned();
    let r = body(
        api.http
            .get(format!("{}{get}", api.base))
            .query(&q(&cursor))
            .bearer_auth(&api.token)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(r["events"], json!([]), "seeded history is not realtime");
    assert_eq!(r["more_to_read"], false);

    let people = state.people();
    for (p, i) in people[..3].iter().zip(0_i64..) {
        assert!(state.record_login(&p.quip_id, 1_800_000_000_000_000 + i));
    }
    let mut cursor = r["next_cursor"].as_str().expect("cursor").to_owned();
    let mut seen = Vec::new();
    loop {
        let page = body(
            api.http
                .get(format!("{}{get}", api.base))
                .query(&q(&cursor))
                .bearer_auth(&api.token)
                .send()
                .await
                .expect("sent"),
        )
        .await;
        let events = page["events"].as_array().expect("events").clone();
        assert!(events.len() <= 2);
        for e in &events {
            assert_eq!(e["event"], "login");
            assert!(e["id"].is_string() && e["ip_address"].is_string());
            seen.push((
                e["user_id"].as_str().expect("user").to_owned(),
                e["time_usec"].as_i64().expect("time"),
            ));
        }
        cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
        if page["more_to_read"] == false {
            break;
        }
    }
    let expected: Vec<(String, i64)> = people[..3]
        .iter()
        .zip(0_i64..)
        .map(|(p, i)| (p.quip_id.clone(), 1_800_000_000_000_000 + i))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(
        state
            .person(&people[2].quip_id)
            .and_then(|p| p.last_login_usec),
        Some(1_800_000_000_000_002)
    );

    let bad = api
        .get_query(get, &[("company_id", &company), ("cursor", "nope")])
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let other = api
        .get_query(
            "/1/admin/events/1/cursor/realtime/create",
            &[("company_id", "IOtherCompny")],
        )
        .await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    quip.shutdown().await;
}

#[tokio::test]
async fn batch_cursor_reads_seeded_logins_in_time_order() {
    let quip = start(100, unlimited()).await;
    let api = Api::new(&quip);
    let state = quip.state();
    state.set_events_page_size(7);
    let company = quip.company_id().to_owned();
    let all = state.events();
    assert!(all.len() > 100, "last logins plus older ones are seeded");
    let mut times: Vec<i64> = all.iter().map(|e| e.time_usec).collect();
    times.sort_unstable();
    let (since, until) = (times[10], times[60]);
    let expected = times.iter().filter(|&&t| t >= since && t < until).count();

    let created = body(
        api.get_query(
            "/1/admin/events/1/cursor/create",
            &[
                ("company_id", &company),
                ("since_usec", &since.to_string()),
                ("until_usec", &until.to_string()),
            ],
        )
        .await,
    )
    .await;
    let mut cursor = created["next_cursor"].as_str().expect("cursor").to_owned();
    let mut got = Vec::new();
    loop {
        let page = body(
            api.get_query(
                "/1/admin/events/1/events/get",
                &[("company_id", &company), ("cursor", &cursor)],
            )
            .await,
        )
        .await;
        got.extend(
            page["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|e| e["time_usec"].as_i64().expect("time")),
        );
        cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
        if page["more_to_read"] == false {
            break;
        }
    }
    assert_eq!(got.len(), expected);
    assert!(got.windows(2).all(|w| w[0] <= w[1]), "time order");
    assert!(got.iter().all(|&t| t >= since && t < until));
    quip.shutdown().await;
}
