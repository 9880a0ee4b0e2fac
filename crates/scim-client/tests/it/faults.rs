//! Faults: every way a listing can be incomplete, authentication, throttling, transient
//! failures, oversize and malformed bodies, timeouts, the page limit.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use api_sandbox::scim::{RateLimit, ScimConfig, ScimEmulator, ScimUser};
use api_sandbox::{DataSpec, Fault, FaultRule};
use futures::StreamExt;
use http::Method;
use scim_client::{ErrorKind, FailureKind, ManualClock, ScimClient, ScimErrorExt};

use crate::common::{client_of, client_with, config, emulator};

const USERS: &str = "/scim/v2/Users";

fn scim_429(retry_after: &str) -> Fault {
    Fault::Status {
        status: 429,
        body: r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"429","detail":"Too many requests"}"#.into(),
        headers: vec![("Retry-After".into(), retry_after.into())],
    }
}

/// The reason of an Incomplete error.
fn incomplete(e: &scim_client::Error) -> String {
    assert_eq!(e.failure(), FailureKind::Incomplete, "{e}");
    match e.kind() {
        ErrorKind::Paging { reason } => reason.clone(),
        other => panic!("paging expected, got {other:?}"),
    }
}

#[tokio::test]
async fn a_short_page_before_the_end_makes_the_listing_incomplete() {
    let scim = emulator(12, 100).await;
    scim.state().set_short_page(Some(6));
    let (client, _) = client_of(&scim, 5);
    let e = client.users().list().all().await.unwrap_err();
    let reason = incomplete(&e);
    assert!(
        reason.contains("holds 4 users where earlier pages held 5"),
        "{reason}"
    );
    assert!(e.to_string().contains("the listing is incomplete"), "{e}");
    scim.shutdown().await;
}

#[tokio::test]
async fn a_repeated_page_makes_the_listing_incomplete() {
    let scim = emulator(15, 100).await;
    scim.faults().inject(
        FaultRule::new(Method::GET, USERS, Fault::RepeatPage)
            .after(1)
            .times(1),
    );
    let (client, _) = client_of(&scim, 5);
    let reason = incomplete(&client.users().list().all().await.unwrap_err());
    assert!(reason.contains("repeats 5 users"), "{reason}");
    assert_eq!(client.stats().calls, 2);
    scim.shutdown().await;
}

#[tokio::test]
async fn a_missing_page_makes_the_listing_incomplete() {
    // A page skipped mid-listing: the next page repeats what was served in its place.
    let scim = emulator(15, 100).await;
    scim.faults().inject(
        FaultRule::new(Method::GET, USERS, Fault::SkipPage)
            .after(1)
            .times(1),
    );
    let (client, _) = client_of(&scim, 5);
    let reason = incomplete(&client.users().list().all().await.unwrap_err());
    assert!(reason.contains("repeats"), "{reason}");
    scim.shutdown().await;
    // The last page skipped: an empty page before totalResults.
    let scim = emulator(15, 100).await;
    scim.faults().inject(
        FaultRule::new(Method::GET, USERS, Fault::SkipPage)
            .after(2)
            .times(1),
    );
    let (client, _) = client_of(&scim, 5);
    let reason = incomplete(&client.users().list().all().await.unwrap_err());
    assert!(
        reason.contains("is empty with 10 users received"),
        "{reason}"
    );
    assert!(reason.contains("5 missing"), "{reason}");
    scim.shutdown().await;
}

#[tokio::test]
async fn a_total_that_disagrees_with_the_resources_makes_the_listing_incomplete() {
    let scim = emulator(12, 100).await;
    let (client, _) = client_of(&scim, 5);
    // Fewer resources than totalResults.
    scim.state().set_total_offset(1);
    let reason = incomplete(&client.users().list().all().await.unwrap_err());
    assert!(
        reason.contains("totalResults (13) says 1 more follow"),
        "{reason}"
    );
    // More resources than totalResults.
    scim.state().set_total_offset(-1);
    let reason = incomplete(&client.users().list().all().await.unwrap_err());
    assert!(
        reason.contains("12 users received, more than totalResults (11)"),
        "{reason}"
    );
    scim.state().set_total_offset(0);
    assert_eq!(client.users().list().all().await.unwrap().len(), 12);
    scim.shutdown().await;
}

#[tokio::test]
async fn a_total_that_grows_or_shrinks_while_paging_makes_the_listing_incomplete() {
    let scim = emulator(12, 100).await;
    let (client, _) = client_of(&scim, 5);
    let state = scim.state();
    let mut pages = client.users().list().pages();
    assert!(pages.next().await.unwrap().is_ok());
    assert!(state.add_user(ScimUser::new("late-joiner", "late@acme.example", 0)));
    let e = pages.next().await.unwrap().unwrap_err();
    assert!(incomplete(&e).contains("changed from 12 to 13"), "{e}");
    assert!(pages.next().await.is_none(), "an error ends the stream");

    let mut pages = client.users().list().pages();
    assert!(pages.next().await.unwrap().is_ok());
    let first = state.users()[0].id.clone();
    assert!(state.remove_user(&first));
    let e = pages.next().await.unwrap().unwrap_err();
    assert!(incomplete(&e).contains("changed from 13 to 12"), "{e}");
    scim.shutdown().await;
}

#[tokio::test]
async fn the_page_limit_stops_a_listing_that_never_ends() {
    let scim = emulator(30, 100).await;
    let (client, _) = client_with(
        config(&scim.base_url(), scim.token())
            .page_size(5)
            .max_pages(2),
    );
    let reason = incomplete(&client.users().list().all().await.unwrap_err());
    assert!(reason.contains("over the limit of 2 pages"), "{reason}");
    scim.shutdown().await;
}

#[tokio::test]
async fn a_refused_token_is_an_auth_error_and_never_retried() {
    let scim = emulator(3, 100).await;
    let (client, clock) = client_with(config(&scim.base_url(), "wrong-token"));
    let e = client.users().list().all().await.unwrap_err();
    assert_eq!(e.failure(), FailureKind::Auth);
    assert!(e.is_auth());
    assert_eq!(e.scim_error().unwrap().status, Some(401));
    assert_eq!(scim.counters().with_status(401), 1);
    assert!(clock.sleeps().is_empty());
    scim.shutdown().await;
}

#[tokio::test]
async fn throttling_waits_for_retry_after_within_the_cap() {
    let scim = emulator(8, 100).await;
    scim.faults().inject(
        FaultRule::new(Method::GET, USERS, scim_429("7"))
            .after(1)
            .times(2),
    );
    let (client, clock) = client_of(&scim, 5);
    let users = client.users().list().all().await.unwrap();
    assert_eq!(users.len(), 8);
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(7), Duration::from_secs(7)]
    );
    let stats = client.stats();
    assert_eq!((stats.calls, stats.throttled), (4, 2));
    assert_eq!(stats.rate_limit_wait, Duration::from_secs(14));
    scim.shutdown().await;

    // A Retry-After beyond the cap fails at once, as throttled.
    let scim = emulator(3, 100).await;
    scim.faults()
        .inject(FaultRule::new(Method::GET, USERS, scim_429("3600")));
    let (client, clock) = client_of(&scim, 5);
    let e = client.users().list().all().await.unwrap_err();
    assert_eq!(e.failure(), FailureKind::Throttled);
    assert!(e.to_string().contains("wait cap of 600s"), "{e}");
    assert!(clock.sleeps().is_empty());
    assert_eq!(client.stats().calls, 1);
    scim.shutdown().await;
}

/// The client's manual clock, read by the emulator too: waiting out a rate-limit window
/// takes no real time.
#[derive(Debug)]
struct SharedClock(Arc<ManualClock>);

impl api_sandbox::Clock for SharedClock {
    fn now(&self) -> SystemTime {
        scim_client::Clock::now(&*self.0)
    }
}

#[tokio::test]
async fn the_emulators_rate_limit_is_waited_out_on_the_shared_clock() {
    let clock = ManualClock::new();
    let config = ScimConfig {
        rate_limit: Some(RateLimit {
            requests: 5,
            window_secs: 60,
        }),
        clock: Arc::new(SharedClock(Arc::clone(&clock))),
        ..ScimConfig::default()
    };
    let spec = DataSpec {
        users: 12,
        ..DataSpec::default()
    };
    let scim = ScimEmulator::start_generated(config, &spec).await.unwrap();
    let client = ScimClient::with_clock(
        crate::common::config(&scim.base_url(), scim.token()).page_size(2),
        clock.clone(),
    )
    .unwrap();
    // Six pages, five requests a window: the sixth waits for the next window, which
    // starts 40 s after ManualClock::START (1_700_000_000 = 60 * 28_333_333 + 20).
    let users = client.users().list().all().await.unwrap();
    assert_eq!(users.len(), 12);
    assert_eq!(clock.sleeps(), [Duration::from_secs(40)]);
    assert_eq!(client.stats().throttled, 1);
    assert_eq!(scim.counters().with_status(429), 1);
    scim.shutdown().await;
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_given_up() {
    let scim = emulator(4, 100).await;
    scim.faults().inject(
        FaultRule::new(
            Method::GET,
            USERS,
            Fault::status(500, r#"{"detail":"oops"}"#),
        )
        .times(2),
    );
    let (client, clock) = client_of(&scim, 10);
    assert_eq!(client.users().list().all().await.unwrap().len(), 4);
    let stats = client.stats();
    assert_eq!((stats.calls, stats.retries), (3, 2));
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 2);
    assert!(sleeps[0] >= Duration::from_millis(50) && sleeps[0] <= Duration::from_millis(100));
    assert!(sleeps[1] >= Duration::from_millis(100) && sleeps[1] <= Duration::from_millis(200));
    scim.faults().clear();

    scim.faults()
        .inject(FaultRule::new(Method::GET, USERS, Fault::status(503, "")));
    let e = client.users().list().all().await.unwrap_err();
    assert_eq!(e.failure(), FailureKind::Transient);
    assert!(e.is_transient());
    assert_eq!(e.request().unwrap().attempts, 3);
    scim.shutdown().await;
}

#[tokio::test]
async fn timeouts_are_transient_and_retried() {
    let scim = emulator(2, 100).await;
    scim.faults()
        .inject(FaultRule::new(Method::GET, USERS, Fault::Hang).times(1));
    let (client, _) =
        client_with(config(&scim.base_url(), scim.token()).timeout(Duration::from_millis(300)));
    assert_eq!(client.users().list().all().await.unwrap().len(), 2);
    assert_eq!(client.stats().retries, 1);
    scim.faults()
        .inject(FaultRule::new(Method::GET, USERS, Fault::Hang));
    let e = client.users().list().all().await.unwrap_err();
    assert_eq!(e.failure(), FailureKind::Transient);
    assert!(matches!(e.kind(), ErrorKind::Timeout { .. }), "{e}");
    scim.shutdown().await;
}

#[tokio::test]
async fn oversize_and_malformed_bodies_fail_without_retries() {
    let scim = emulator(60, 100).await;
    let (client, _) = client_with(
        config(&scim.base_url(), scim.token())
            .page_size(50)
            .max_response_bytes(4096),
    );
    let e = client.users().list().all().await.unwrap_err();
    assert_eq!(e.failure(), FailureKind::TooLarge);
    assert_eq!(scim.counters().count("GET", USERS), 1);

    let (client, _) = client_of(&scim, 50);
    scim.faults()
        .inject(FaultRule::new(Method::GET, USERS, Fault::MalformedBody).times(1));
    let e = client.users().list().all().await.unwrap_err();
    assert_eq!(e.failure(), FailureKind::Decode);
    scim.faults()
        .inject(FaultRule::new(Method::GET, USERS, Fault::TruncatedBody).times(1));
    let e = client.users().list().all().await.unwrap_err();
    assert_eq!(e.failure(), FailureKind::Decode);
    assert_eq!(scim.counters().count("GET", USERS), 3);
    scim.shutdown().await;
}
