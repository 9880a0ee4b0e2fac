//! Rate limits: headers, budgets, throttling and windows.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api_sandbox::quip::{QuipConfig, QuipLimits, ThrottleStyle};
use api_sandbox::{Clock, ScaledClock};
use reqwest::StatusCode;
use serde_json::json;

use super::{Api, HOUR_START, TestClock, body, header, start};

#[tokio::test]
async fn rate_limit_headers_on_every_response_and_decreasing() {
    let quip = start(10, QuipConfig::default()).await;
    let api = Api::new(&quip);
    let mut last = None;
    for _ in 0..3 {
        let r = api.get("/1/users/current").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "x-ratelimit-limit"), Some(50));
        assert_eq!(header(&r, "x-company-ratelimit-limit"), Some(600));
        let remaining = header(&r, "x-ratelimit-remaining").expect("remaining");
        let reset = header(&r, "x-ratelimit-reset").expect("reset");
        assert!(
            reset
                > SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .expect("after epoch")
                    .as_secs()
                    - 1
        );
        if let Some(prev) = last {
            assert!(remaining < prev, "{remaining} < {prev}");
        }
        last = Some(remaining);
        assert!(header(&r, "x-company-ratelimit-remaining").is_some());
        assert!(header(&r, "x-company-ratelimit-reset").is_some());
    }
    // Admin routes report the Admin budget; errors carry headers too.
    let admin = api
        .post_form("/1/admin/users/list", &[("company_id", "IOtherCompny")])
        .await;
    assert_eq!(admin.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&admin, "x-ratelimit-limit"), Some(100));
    assert_eq!(header(&admin, "x-ratelimit-remaining"), Some(99));
    assert_eq!(
        header(&admin, "x-company-ratelimit-remaining"),
        Some(600 - 4)
    );
    // SCIM reports its own per-company budget only.
    let scim = api.get("/2/Users").await;
    assert_eq!(header(&scim, "x-scim-ratelimit-limit"), Some(600));
    assert_eq!(header(&scim, "x-scim-ratelimit-remaining"), Some(599));
    assert_eq!(header(&scim, "x-ratelimit-limit"), None);
    quip.shutdown().await;
}

#[tokio::test]
async fn over_budget_is_503_over_rate_limit_with_a_future_reset() {
    let clock = TestClock::at(HOUR_START + 10);
    let config = QuipConfig {
        clock: clock.clone(),
        limits: QuipLimits {
            automation_per_minute: 2,
            ..QuipLimits::default()
        },
        ..QuipConfig::default()
    };
    let quip = start(10, config).await;
    let api = Api::new(&quip);
    for remaining in [1, 0] {
        let r = api.get("/1/users/current").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "x-ratelimit-remaining"), Some(remaining));
    }
    let r = api.get("/1/users/current").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some(0));
    assert_eq!(header(&r, "x-ratelimit-reset"), Some(HOUR_START + 60));
    assert_eq!(
        header(&r, "x-company-retry-after"),
        None,
        "the company is fine"
    );
    assert_eq!(
        body(r).await,
        json!({"error_description": "Over Rate Limit"})
    );
    // Other APIs keep their own budgets.
    assert_eq!(api.get("/2/Users").await.status(), StatusCode::OK);

    // The same at run time in the 429 style: reset 0.
    quip.state().set_throttle_style(ThrottleStyle::Status429);
    let r = api.get("/1/users/current").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&r, "x-ratelimit-reset"), Some(0));
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some(0));

    // When the window ends, requests succeed again.
    clock.advance(Duration::from_secs(50));
    let r = api.get("/1/users/current").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some(1));
    quip.shutdown().await;
}

#[tokio::test]
async fn company_budget_is_shared_by_tokens_and_sends_retry_after() {
    let clock = TestClock::at(HOUR_START + 15);
    let config = QuipConfig {
        clock: clock.clone(),
        limits: QuipLimits {
            company_per_minute: 3,
            ..QuipLimits::default()
        },
        ..QuipConfig::default()
    };
    let quip = start(10, config).await;
    let admin = Api::new(&quip);
    let member = Api::with_token(&quip, quip.non_admin_token().expect("configured"));
    assert_eq!(admin.get("/1/users/current").await.status(), StatusCode::OK);
    assert_eq!(
        member.get("/1/users/current").await.status(),
        StatusCode::OK
    );
    let r = admin
        .post_form("/1/admin/users/list", &[("company_id", quip.company_id())])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "x-company-ratelimit-remaining"), Some(0));

    let r = member.get("/1/users/current").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&r, "x-company-retry-after"), Some(45));
    assert_eq!(
        header(&r, "x-company-ratelimit-reset"),
        Some(HOUR_START + 60)
    );
    assert_eq!(
        header(&r, "x-ratelimit-remaining"),
        Some(49),
        "the user budget is not the problem"
    );
    // SCIM has its own company budget.
    let scim = admin.get("/2/Users").await;
    assert_eq!(scim.status(), StatusCode::OK);
    assert_eq!(header(&scim, "x-company-retry-after"), None);
    quip.shutdown().await;
}

#[tokio::test]
async fn throttled_requests_do_not_consume_budget_and_the_hour_window_applies() {
    let clock = TestClock::at(HOUR_START);
    let config = QuipConfig {
        clock: clock.clone(),
        limits: QuipLimits {
            admin_per_minute: 3,
            admin_per_hour: 5,
            ..QuipLimits::default()
        },
        ..QuipConfig::default()
    };
    let quip = start(10, config).await;
    let api = Api::new(&quip);
    let company = quip.company_id().to_owned();
    let form = [("company_id", company.as_str())];
    let list = || api.post_form("/1/admin/users/list", &form);
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(list().await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 503, 503, 503, 503, 503]);

    // Next minute: 2 of the hour's 5 are left, since the 5 throttled ones cost nothing.
    clock.advance(Duration::from_secs(60));
    let r = list().await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "x-ratelimit-limit"),
        Some(5),
        "the hour is now the tighter window"
    );
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some(1));
    assert_eq!(list().await.status(), StatusCode::OK);
    let r = list().await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&r, "x-ratelimit-reset"), Some(HOUR_START + 3_600));
    assert_eq!(
        quip.counters().count("POST", "/1/admin/users/list"),
        11,
        "every request is counted, throttled or not"
    );
    assert_eq!(quip.counters().with_status(503), 6);
    quip.shutdown().await;
}

#[tokio::test]
async fn windows_reset_on_a_scaled_clock() {
    // One virtual minute is 100 ms of real time.
    let clock = ScaledClock::new(600.0);
    let config = QuipConfig {
        clock: clock.clone(),
        limits: QuipLimits {
            scim_per_minute: 2,
            ..QuipLimits::default()
        },
        ..QuipConfig::default()
    };
    let quip = start(3, config).await;
    let api = Api::new(&quip);
    // Spend the budget; if a window ends meanwhile, keep spending until one is exhausted.
    let throttled = loop {
        let r = api.get("/2/Users").await;
        if r.status() == StatusCode::SERVICE_UNAVAILABLE {
            break r;
        }
        assert_eq!(r.status(), StatusCode::OK);
    };
    let reset = header(&throttled, "x-scim-ratelimit-reset").expect("reset");
    let retry_after = header(&throttled, "x-scim-retry-after").expect("retry after");
    let now = clock
        .now()
        .duration_since(UNIX_EPOCH)
        .expect("after epoch")
        .as_secs();
    assert!(reset > now && (1..=60).contains(&retry_after));

    clock.sleep(Duration::from_secs(reset - now + 1)).await;
    let r = api.get("/2/Users").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "x-scim-ratelimit-remaining"), Some(1));
    quip.shutdown().await;
}
