//! Injected faults: statuses, bodies, latency, repeated and skipped pages.

use std::time::Duration;

use api_sandbox::quip::QuipConfig;
use api_sandbox::{Fault, FaultRule};
use http::Method;
use reqwest::StatusCode;
use serde_json::Value;

use super::{Api, body, ids, start, unlimited};

#[tokio::test]
async fn injected_statuses_bodies_and_latency() {
    let quip = start(10, unlimited()).await;
    let api = Api::new(&quip);
    let faults = quip.faults();

    faults.inject(
        FaultRule::new(
            Method::GET,
            "/1/users/current",
            Fault::status(500, r#"{"error":"boom"}"#),
        )
        .times(1),
    );
    let r = api.get("/1/users/current").await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body(r).await["error"], "boom");
    assert_eq!(
        api.get("/1/users/current").await.status(),
        StatusCode::OK,
        "fired once"
    );

    faults.inject(FaultRule::new(Method::GET, "/2/Users", Fault::MalformedBody).times(1));
    let r = api.get("/2/Users").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.json::<Value>().await.is_err(), "malformed JSON");

    let id = quip.state().people()[0].quip_id.clone();
    let full = api
        .get(&format!("/2/Users/{id}"))
        .await
        .bytes()
        .await
        .expect("bytes");
    faults.inject(FaultRule::new(Method::GET, "/2/Users/{id}", Fault::TruncatedBody).times(1));
    let r = api.get(&format!("/2/Users/{id}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let cut = r.bytes().await.expect("bytes");
    assert!(cut.len() < full.len());
    assert!(
        serde_json::from_slice::<Value>(&cut).is_err(),
        "truncated JSON"
    );

    faults.inject(
        FaultRule::new(
            Method::GET,
            "/1/users/contacts",
            Fault::Latency(Duration::from_millis(20)),
        )
        .times(1),
    );
    let r = api.get("/1/users/contacts").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        body(r).await.is_array(),
        "a slow answer is still a good one"
    );
    assert_eq!(faults.fired("/1/users/contacts"), 1);

    let counts = quip.state().counts_by_route();
    assert_eq!(counts.get("GET /1/users/current"), Some(&2));
    assert_eq!(counts.get("GET /2/Users/{id}"), Some(&2));
    assert_eq!(quip.counters().with_status(500), 1);
    quip.shutdown().await;
}

#[tokio::test]
async fn repeated_and_skipped_pages() {
    let config = QuipConfig {
        scim_max_count: 5,
        admin_list_max_count: 5,
        ..unlimited()
    };
    let quip = start(20, config).await;
    let api = Api::new(&quip);
    let all: Vec<String> = quip
        .state()
        .people()
        .into_iter()
        .map(|p| p.quip_id)
        .collect();

    // SCIM: the 2nd request repeats page 1, the 3rd skips to the 4th page.
    quip.faults().inject(
        FaultRule::new(Method::GET, "/2/Users", Fault::RepeatPage)
            .after(1)
            .times(1),
    );
    let p1 = ids(&api.scim_page(1, 5).await, "Resources");
    let p2 = api.scim_page(6, 5).await;
    assert_eq!(p2["startIndex"], 6);
    assert_eq!(ids(&p2, "Resources"), p1, "page 1 again");
    quip.faults()
        .inject(FaultRule::new(Method::GET, "/2/Users", Fault::SkipPage).times(1));
    let p3 = ids(&api.scim_page(11, 5).await, "Resources");
    assert_eq!(p3, all[15..20], "page 3 went missing");

    // Admin list: same faults.
    let company = quip.company_id().to_owned();
    quip.faults().inject(
        FaultRule::new(Method::POST, "/1/admin/users/list", Fault::RepeatPage)
            .after(1)
            .times(1),
    );
    let a0 = ids(&api.admin_page(&company, 0, 5).await, "users");
    let a1 = api.admin_page(&company, 1, 5).await;
    assert_eq!(ids(&a1, "users"), a0);
    assert_eq!(a1["next_page"], 2);
    quip.faults()
        .inject(FaultRule::new(Method::POST, "/1/admin/users/list", Fault::SkipPage).times(1));
    let a2 = ids(&api.admin_page(&company, 2, 5).await, "users");
    assert_eq!(a2, all[15..20]);
    assert_eq!(quip.faults().fired("/1/admin/users/list"), 2);
    quip.shutdown().await;
}
