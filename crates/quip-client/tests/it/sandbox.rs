//! Against the api-sandbox Quip emulator at Quip's documented default limits: 25,000-user
//! listings without a throttled response, recovery from throttling, 5xx bursts and a
//! timeout, the wait cap, roles and last activity, and call counts for N users.
//!
//! Time is either an [`api_sandbox::ScaledClock`] shared with the emulator (600×: a
//! 61-second wait takes a tenth of a real second) or a [`SteppedClock`] that only moves
//! when the client sleeps, which makes pacing waits exact.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api_sandbox::quip::{EventsApi, QuipConfig, QuipEmulator, QuipLimits, ThrottleStyle};
use api_sandbox::{DataSpec, Fault, FaultRule, ScaledClock, datagen};
use async_trait::async_trait;
use http::Method;
use quip_client::{
    ClientConfig, EventsConfig, Listing, QuipClient, QuipSource, QuipSourceConfig, RetryPolicy,
    RoleSource, WaitCaps,
};
use secrecy::SecretString;
use sync_engine::{Completeness, NoProgress, Source, SourceSnapshot};

use crate::common::{CANARY, Scaled, assert_no_canary, capture_logs};

/// The start of a minute that is also the start of an hour.
const HOUR_START: u64 = 1_799_996_400;

/// A clock shared by the emulator and the client that moves only when the client sleeps.
#[derive(Debug)]
struct SteppedClock {
    now: Mutex<SystemTime>,
    sleeps: Mutex<Vec<Duration>>,
}

impl SteppedClock {
    fn at(secs: u64) -> Arc<Self> {
        Arc::new(SteppedClock {
            now: Mutex::new(UNIX_EPOCH + Duration::from_secs(secs)),
            sleeps: Mutex::new(Vec::new()),
        })
    }

    fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }
}

impl api_sandbox::Clock for SteppedClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap()
    }
}

#[async_trait]
impl quip_client::Clock for SteppedClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap()
    }

    async fn sleep(&self, duration: Duration) {
        *self.now.lock().unwrap() += duration;
        self.sleeps.lock().unwrap().push(duration);
    }
}

/// An emulator with `users` people, the documented default limits, the canary as the
/// admin token, and `clock`.
async fn emulator(users: usize, clock: Arc<dyn api_sandbox::Clock>) -> QuipEmulator {
    let spec = DataSpec {
        users,
        ..DataSpec::default()
    };
    let config = QuipConfig {
        token: CANARY.to_owned(),
        clock,
        ..QuipConfig::default()
    };
    assert_eq!(config.limits, QuipLimits::default());
    QuipEmulator::start(
        config,
        datagen::company_id(spec.seed),
        datagen::generate(&spec),
    )
    .await
    .unwrap()
}

fn client_config(quip: &QuipEmulator) -> ClientConfig {
    ClientConfig::new(SecretString::from(quip.token().to_owned()))
        .base_url(quip.base_url())
        .scim_url(quip.scim_base_url())
        .timeout(Duration::from_secs(30))
}

fn client(
    quip: &QuipEmulator,
    clock: Arc<dyn quip_client::Clock>,
    retry: RetryPolicy,
) -> QuipClient {
    QuipClient::with_clock(client_config(quip).retry(retry), clock).unwrap()
}

fn fast_backoff() -> RetryPolicy {
    RetryPolicy::default()
        .base_delay(Duration::from_millis(200))
        .max_delay(Duration::from_secs(2))
}

fn throttled_answers(quip: &QuipEmulator) -> u64 {
    quip.counters().with_status(429) + quip.counters().with_status(503)
}

fn ceil_div(n: u64, d: u64) -> u64 {
    n.div_ceil(d).max(1)
}

/// Every record matches the emulator's person: status, robot flag, primary email, role.
fn assert_matches_state(snapshot: &SourceSnapshot, quip: &QuipEmulator) {
    let people = quip.state().people();
    assert_eq!(snapshot.records.len(), people.len());
    for (record, person) in snapshot.records.iter().zip(&people) {
        assert_eq!(record.key, person.quip_id.as_str());
        assert_eq!(record.active, !person.disabled, "{}", person.quip_id);
        let f = &record.fields;
        assert_eq!(
            f.get("is_robot"),
            Some(&sync_engine::Value::Bool(person.is_robot))
        );
        assert_eq!(
            f.get("email").and_then(sync_engine::Value::as_str),
            Some(person.email().to_lowercase().as_str())
        );
        let role = person.admin_role.as_deref().unwrap_or("Member");
        assert_eq!(record.roles, [role], "{}", person.quip_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_lists_25000_users_without_a_throttled_response() {
    let clock = ScaledClock::new(600.0);
    let quip = emulator(25_000, clock.clone()).await;
    let c = client(&quip, Arc::new(Scaled(clock)), fast_backoff());
    let source = QuipSource::new(
        c,
        QuipSourceConfig::new(Listing::Scim).roles(RoleSource::default().endpoint(true)),
    );
    let snapshot = source.read(&NoProgress).await.unwrap();
    assert_eq!(snapshot.completeness, Completeness::Complete);
    assert_eq!(snapshot.reported_total, Some(25_000));
    assert_matches_state(&snapshot, &quip);

    let stats = source.stats();
    assert_eq!(stats.throttled, 0);
    assert_eq!(throttled_answers(&quip), 0);
    // 1 current user + ceil(N/100) SCIM pages + ceil(N/1000) bulk lookups + 1 roles call.
    let n = 25_000;
    let expected = 1 + ceil_div(n, 100) + ceil_div(n, 1000) + 1;
    assert_eq!(expected, 277);
    assert_eq!(stats.calls, expected);
    assert_eq!(quip.counters().total(), expected);
    assert_eq!(quip.counters().count("GET", "/2/Users"), 250);
    assert_eq!(quip.counters().count("GET", "/1/users/"), 25);
    quip.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_lists_25000_users_without_a_throttled_response() {
    // 60×: a request of a few real milliseconds takes well under a virtual second, so
    // 250 Admin calls outrun 100/min and the pacer has to wait for window resets (about
    // two real seconds); on a slower machine fewer waits are needed. Either way: no 503.
    let clock = ScaledClock::new(60.0);
    let quip = emulator(25_000, clock.clone()).await;
    let c = client(&quip, Arc::new(Scaled(clock)), fast_backoff());
    let source = QuipSource::new(
        c,
        QuipSourceConfig::new(Listing::Admin).roles(RoleSource::default().endpoint(true)),
    );
    let snapshot = source.read(&NoProgress).await.unwrap();
    assert_eq!(snapshot.completeness, Completeness::Complete);
    assert_eq!(snapshot.reported_total, Some(25_000));
    assert_matches_state(&snapshot, &quip);
    let stats = source.stats();
    assert_eq!(stats.throttled, 0);
    assert_eq!(throttled_answers(&quip), 0);
    // 1 current user + ceil(N/100) list pages + 1 roles call; the Admin list carries
    // disabled/is_robot/created_usec, so no bulk lookup is needed.
    let expected = 1 + ceil_div(25_000, 100) + 1;
    assert_eq!(stats.calls, expected);
    assert_eq!(quip.counters().total(), expected);
    assert_eq!(quip.counters().count("GET", "/1/users/"), 0);
    quip.shutdown().await;
}

#[tokio::test]
async fn admin_listing_is_paced_to_the_minute_window_exactly() {
    let clock = SteppedClock::at(HOUR_START);
    let quip = emulator(25_000, clock.clone()).await;
    let c = client(&quip, clock.clone(), fast_backoff());
    let source = QuipSource::new(c, QuipSourceConfig::new(Listing::Admin));
    let snapshot = source.read(&NoProgress).await.unwrap();
    assert!(snapshot.completeness.is_complete());
    assert_eq!(snapshot.records.len(), 25_000);
    // Admin allows 100 requests a minute: pages 1-100 in minute 0, a wait to the reset
    // (+1 s slack), pages 101-200 from second 61, a wait to second 121, the rest.
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(61), Duration::from_secs(60)]
    );
    let stats = source.stats();
    assert_eq!(stats.rate_limit_wait, Duration::from_secs(121));
    assert_eq!((stats.throttled, throttled_answers(&quip)), (0, 0));
    assert_eq!(stats.calls, 1 + 250);
    quip.shutdown().await;
}

#[tokio::test]
async fn recovers_from_503_over_rate_limit_mid_listing() {
    let clock = ScaledClock::new(600.0);
    let quip = emulator(500, clock.clone()).await;
    let reset = api_sandbox::clock::epoch_secs(api_sandbox::Clock::now(&*clock)) + 3;
    quip.faults().inject(
        FaultRule::new(
            Method::GET,
            "/2/Users",
            Fault::Status {
                status: 503,
                body: r#"{"error_description":"Over Rate Limit"}"#.to_owned(),
                headers: vec![
                    ("X-Ratelimit-Limit".to_owned(), "600".to_owned()),
                    ("X-Ratelimit-Remaining".to_owned(), "0".to_owned()),
                    ("X-Ratelimit-Reset".to_owned(), reset.to_string()),
                ],
            },
        )
        .after(2)
        .times(2),
    );
    let c = client(&quip, Arc::new(Scaled(clock)), fast_backoff());
    let source = QuipSource::new(c, QuipSourceConfig::new(Listing::Scim));
    let snapshot = source.read(&NoProgress).await.unwrap();
    assert_eq!(snapshot.completeness, Completeness::Complete);
    assert_eq!(snapshot.records.len(), 500);
    let stats = source.stats();
    assert_eq!((stats.throttled, stats.retries), (2, 2));
    assert_eq!(stats.calls, 1 + 5 + 1 + 2);
    assert!(stats.rate_limit_wait > Duration::ZERO);
    assert_eq!(quip.faults().fired("/2/Users"), 2);
    quip.shutdown().await;
}

#[tokio::test]
async fn recovers_from_429_with_reset_zero() {
    let clock = SteppedClock::at(HOUR_START);
    let quip = emulator(300, clock.clone()).await;
    quip.state().set_throttle_style(ThrottleStyle::Status429);
    quip.state().set_limits(QuipLimits {
        scim_per_minute: 5,
        ..QuipLimits::default()
    });
    // Another consumer spends this minute's SCIM budget.
    let other = client(&quip, clock.clone(), fast_backoff());
    for _ in 0..5 {
        other.scim().list_users().page(1).await.unwrap();
    }
    let c = client(&quip, clock.clone(), fast_backoff());
    let source = QuipSource::new(
        c,
        QuipSourceConfig::new(Listing::Scim).company_id(quip.company_id()),
    );
    let snapshot = source.read(&NoProgress).await.unwrap();
    assert!(snapshot.completeness.is_complete());
    assert_eq!(snapshot.records.len(), 300);
    // 429 with X-Scim-RateLimit-Reset: 0 → the 61 s fallback (longer than the 60 s
    // X-Scim-Retry-After), then the new minute has budget for the 3 pages.
    assert_eq!(clock.sleeps(), [Duration::from_secs(61)]);
    assert_eq!(source.stats().throttled, 1);
    assert_eq!(quip.counters().with_status(429), 1);
    quip.shutdown().await;
}

#[tokio::test]
async fn recovers_from_a_burst_of_5xx() {
    let clock = SteppedClock::at(HOUR_START);
    let quip = emulator(300, clock.clone()).await;
    quip.faults().inject(
        FaultRule::new(
            Method::POST,
            "/1/admin/users/list",
            Fault::status(500, r#"{"error_description":"Internal Server Error"}"#),
        )
        .after(1)
        .times(3),
    );
    let c = client(&quip, clock.clone(), fast_backoff());
    let source = QuipSource::new(c.clone(), QuipSourceConfig::new(Listing::Admin));
    let snapshot = source.read(&NoProgress).await.unwrap();
    assert!(snapshot.completeness.is_complete());
    assert_eq!(snapshot.records.len(), 300);
    let stats = source.stats();
    assert_eq!(
        (stats.calls, stats.retries, stats.throttled),
        (1 + 3 + 3, 3, 0)
    );
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 3, "{sleeps:?}");
    assert_eq!(c.backoff_wait(), sleeps.iter().sum());
    quip.shutdown().await;
}

#[tokio::test]
async fn recovers_from_a_timeout() {
    let clock = ScaledClock::new(600.0);
    let quip = emulator(300, clock.clone()).await;
    quip.faults().inject(
        FaultRule::new(Method::GET, "/2/Users", Fault::Hang)
            .after(1)
            .times(1),
    );
    let cfg = client_config(&quip)
        .timeout(Duration::from_secs(2))
        .retry(fast_backoff());
    let c = QuipClient::with_clock(cfg, Arc::new(Scaled(clock))).unwrap();
    let source = QuipSource::new(c, QuipSourceConfig::new(Listing::Scim));
    let snapshot = source.read(&NoProgress).await.unwrap();
    assert!(snapshot.completeness.is_complete());
    assert_eq!(snapshot.records.len(), 300);
    let stats = source.stats();
    assert_eq!((stats.calls, stats.retries), (1 + 3 + 1 + 1, 1));
    assert_eq!(quip.counters().with_status(0), 1, "one hung request");
    // Dropped rather than shut down: the hung request would hold a graceful shutdown.
    drop(quip);
}

#[tokio::test]
async fn exhausted_wait_cap_stops_with_a_clear_error_and_an_incomplete_read() {
    let (logs, _guard) = capture_logs();
    let clock = SteppedClock::at(HOUR_START);
    let quip = emulator(500, clock.clone()).await;
    quip.faults().inject(
        FaultRule::new(
            Method::GET,
            "/2/Users",
            Fault::Status {
                status: 429,
                body: "{}".to_owned(),
                headers: vec![("X-Ratelimit-Reset".to_owned(), "0".to_owned())],
            },
        )
        .after(2),
    );
    let c = client(
        &quip,
        clock.clone(),
        fast_backoff().wait_caps(WaitCaps::run(Duration::from_secs(200))),
    );
    let source = QuipSource::new(
        c,
        QuipSourceConfig::new(Listing::Scim).roles(RoleSource::default().endpoint(true)),
    );
    let snapshot = source.read(&NoProgress).await.unwrap();
    // The two pages read are not enriched (the cap was reached first): whether those users
    // are disabled or robots is unknown, so none of them is used this run.
    assert_eq!(
        snapshot.records.len(),
        0,
        "users whose details could not be read are left out"
    );
    let Completeness::Incomplete { reason } = &snapshot.completeness else {
        panic!("the read must be incomplete");
    };
    assert!(
        reason.contains("listing stopped after 2 page(s)"),
        "{reason}"
    );
    assert!(reason.contains("gave up after waiting 183s"), "{reason}");
    assert!(reason.contains("wait cap of 200s"), "{reason}");
    assert!(reason.contains("enrichment batch 1 skipped"), "{reason}");
    // Roles are an enrichment: skipped, they are unknown (a warning), not a roster gap.
    assert!(!reason.contains("admin roles"), "{reason}");
    assert_eq!(snapshot.unknown.len(), 1, "{:?}", snapshot.unknown);
    let fields: Vec<&str> = snapshot.unknown[0]
        .fields
        .iter()
        .map(AsRef::as_ref)
        .collect();
    assert_eq!(fields, ["role", "roles"]);
    assert!(snapshot.unknown[0].records.is_none());
    let warning = &snapshot.unknown[0].warning;
    assert!(
        warning.contains("admin roles") && warning.contains("skipped"),
        "{warning}"
    );
    assert!(
        reason.contains("200 listed user(s) left out of this run"),
        "{reason}"
    );
    assert_eq!(clock.sleeps(), [Duration::from_secs(61); 3]);
    // No call after giving up: current user, 2 pages, 4 throttled attempts.
    assert_eq!(source.stats().calls, 1 + 2 + 4);
    assert_eq!(source.stats().throttled, 4);
    assert_no_canary("reason", reason);
    assert_no_canary("logs", &logs.contents());
    quip.shutdown().await;
}

#[tokio::test]
async fn roles_and_last_activity_come_from_the_emulator() {
    let clock = SteppedClock::at(HOUR_START);
    let quip = emulator(300, clock.clone()).await;
    let c = client(&quip, clock.clone(), fast_backoff());
    let source = QuipSource::new(
        c,
        QuipSourceConfig::new(Listing::Scim)
            .roles(RoleSource::default().endpoint(true))
            .last_activity(EventsConfig::new(Duration::from_secs(20 * 365 * 86_400))),
    );
    let snapshot = source.read(&NoProgress).await.unwrap();
    assert!(
        snapshot.completeness.is_complete(),
        "{:?}",
        snapshot.completeness
    );
    assert_matches_state(&snapshot, &quip);
    let people = quip.state().people();
    let mut with_login = 0;
    for (record, person) in snapshot.records.iter().zip(&people) {
        let expected = person
            .last_login_usec
            .and_then(chrono::DateTime::from_timestamp_micros);
        assert_eq!(record.last_activity, expected, "{}", person.quip_id);
        with_login += usize::from(expected.is_some());
    }
    assert!(with_login > 100, "most people have logged in");
    assert!(people.iter().any(|p| p.admin_role.is_some()), "some admins");
    // 1 current + 3 SCIM + 1 bulk + 1 roles + 1 cursor + ceil(E/500) event pages.
    let events = quip.state().events().len() as u64;
    let expected = 1 + 3 + 1 + 1 + 1 + ceil_div(events, 500);
    assert_eq!(source.stats().calls, expected);
    assert_eq!(quip.counters().total(), expected);
    quip.shutdown().await;

    // Without the role endpoint, configured admins (by email) get the admin role.
    let quip = emulator(50, clock.clone()).await;
    quip.state().set_admin_roles_endpoint(false);
    let admin = quip.state().people()[7].clone();
    let c = client(&quip, clock.clone(), fast_backoff());
    let source = QuipSource::new(
        c,
        QuipSourceConfig::new(Listing::Scim).roles(
            RoleSource::default()
                .endpoint(true)
                .admins(vec![admin.email().to_uppercase()]),
        ),
    );
    let snapshot = source.read(&NoProgress).await.unwrap();
    assert!(snapshot.completeness.is_complete());
    for r in &snapshot.records {
        let role = if r.key == admin.quip_id.as_str() {
            "Admin"
        } else {
            "Member"
        };
        assert_eq!(r.roles, [role]);
    }
    quip.shutdown().await;
}

#[tokio::test]
async fn events_without_the_add_on_or_failing_roles_are_unknown_not_incomplete() {
    let clock = SteppedClock::at(HOUR_START);
    for (events, status) in [(EventsApi::NotFound, 404), (EventsApi::Forbidden, 403)] {
        let quip = emulator(120, clock.clone()).await;
        quip.state().set_events_api(events);
        let c = client(&quip, clock.clone(), fast_backoff());
        let source = QuipSource::new(
            c,
            QuipSourceConfig::new(Listing::Scim)
                .last_activity(EventsConfig::new(Duration::from_secs(86_400))),
        );
        let snapshot = source.read(&NoProgress).await.unwrap();
        assert!(
            snapshot.completeness.is_complete(),
            "{:?}",
            snapshot.completeness
        );
        assert_eq!(snapshot.records.len(), 120, "the roster is whole");
        assert_eq!(snapshot.unknown.len(), 1, "{:?}", snapshot.unknown);
        let u = &snapshot.unknown[0];
        let fields: Vec<&str> = u.fields.iter().map(AsRef::as_ref).collect();
        assert_eq!(fields, ["last_activity"]);
        assert!(u.warning.contains("Events API"), "{}", u.warning);
        assert!(
            u.warning.contains(&format!("HTTP {status}")),
            "{}",
            u.warning
        );
        assert!(snapshot.records.iter().all(|r| r.last_activity.is_none()));
        quip.shutdown().await;
    }

    // The admin-roles endpoint failing (not 404/403): roles unknown, no guess.
    let quip = emulator(50, clock.clone()).await;
    quip.faults().inject(FaultRule::new(
        Method::GET,
        "/1/admin/company/admin-roles",
        Fault::status(500, r#"{"error":"Internal Server Error"}"#),
    ));
    let c = client(&quip, clock.clone(), fast_backoff());
    let source = QuipSource::new(
        c,
        QuipSourceConfig::new(Listing::Scim).roles(RoleSource::default().endpoint(true)),
    );
    let snapshot = source.read(&NoProgress).await.unwrap();
    assert!(
        snapshot.completeness.is_complete(),
        "{:?}",
        snapshot.completeness
    );
    assert_eq!(snapshot.unknown.len(), 1);
    assert!(
        snapshot.unknown[0].warning.contains("HTTP 500"),
        "{:?}",
        snapshot.unknown
    );
    assert!(snapshot.records.iter().all(|r| r.roles.is_empty()));
    quip.shutdown().await;
}

#[tokio::test]
async fn optional_apis_are_read_only_for_fields_a_mapping_uses() {
    let clock = SteppedClock::at(HOUR_START);
    let quip = emulator(50, clock.clone()).await;
    let full = QuipSourceConfig::new(Listing::Scim)
        .roles(RoleSource::default().endpoint(true))
        .last_activity(EventsConfig::new(Duration::from_secs(86_400)));
    let used = |names: &[&str]| -> std::collections::BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    };
    let c = client(&quip, clock.clone(), fast_backoff());
    QuipSource::new(
        c,
        full.clone()
            .only_for_fields(&used(&["id", "email", "name"])),
    )
    .read(&NoProgress)
    .await
    .unwrap();
    let state = quip.state();
    assert_eq!(state.count_under("/1/admin/events/"), 0);
    assert_eq!(state.count("GET", "/1/admin/company/admin-roles"), 0);
    let c = client(&quip, clock.clone(), fast_backoff());
    QuipSource::new(
        c,
        full.only_for_fields(&used(&["id", "role", "last_activity"])),
    )
    .read(&NoProgress)
    .await
    .unwrap();
    assert!(
        state.count_under("/1/admin/events/") >= 2,
        "cursor and a page"
    );
    assert_eq!(state.count("GET", "/1/admin/company/admin-roles"), 1);
    quip.shutdown().await;
}

#[tokio::test]
async fn skipped_repeated_and_malformed_pages_make_the_read_incomplete() {
    let clock = SteppedClock::at(HOUR_START);

    // SCIM: one page skipped (the next one served in its place): the next request serves
    // that page again, which stops the listing (a repeated page) after 200 users.
    let quip = emulator(500, clock.clone()).await;
    quip.faults().inject(
        FaultRule::new(Method::GET, "/2/Users", Fault::SkipPage)
            .after(1)
            .times(1),
    );
    let c = client(&quip, clock.clone(), fast_backoff());
    let snapshot = QuipSource::new(c, QuipSourceConfig::new(Listing::Scim).enrich(false))
        .read(&NoProgress)
        .await
        .unwrap();
    assert_eq!(snapshot.records.len(), 200);
    assert!(
        matches!(&snapshot.completeness, Completeness::Incomplete { reason }
            if reason.contains("listing stopped after 2 page(s) and 200 user(s)")
                && reason.contains("startIndex=201 repeats 100 user(s) already received")),
        "{:?}",
        snapshot.completeness
    );
    quip.shutdown().await;

    // Admin: one page served twice: the listing stops at the repeat, count short.
    let quip = emulator(500, clock.clone()).await;
    quip.faults().inject(
        FaultRule::new(Method::POST, "/1/admin/users/list", Fault::RepeatPage)
            .after(2)
            .times(1),
    );
    let c = client(&quip, clock.clone(), fast_backoff());
    let snapshot = QuipSource::new(c, QuipSourceConfig::new(Listing::Admin))
        .read(&NoProgress)
        .await
        .unwrap();
    assert_eq!(snapshot.records.len(), 200);
    assert!(
        matches!(&snapshot.completeness, Completeness::Incomplete { reason }
            if reason.contains("repeats 100 user(s) already received")),
        "{:?}",
        snapshot.completeness
    );
    quip.shutdown().await;

    // A body that does not decode mid-listing: final for that page, read incomplete.
    let quip = emulator(500, clock.clone()).await;
    quip.faults().inject(
        FaultRule::new(Method::GET, "/2/Users", Fault::TruncatedBody)
            .after(3)
            .times(1),
    );
    let c = client(&quip, clock.clone(), fast_backoff());
    let snapshot = QuipSource::new(c, QuipSourceConfig::new(Listing::Scim).enrich(false))
        .read(&NoProgress)
        .await
        .unwrap();
    assert_eq!(snapshot.records.len(), 300);
    let Completeness::Incomplete { reason } = &snapshot.completeness else {
        panic!("must be incomplete");
    };
    assert!(reason.contains("does not decode"), "{reason}");
    quip.shutdown().await;
}
