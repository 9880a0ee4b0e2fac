//! The canary token never appears in an error message, a Debug output or a log line,
//! whatever fails.

use std::fmt::Write as _;
use std::time::Duration;

use quip_client::{Listing, QuipClient, QuipSource, QuipSourceConfig, RetryPolicy, WaitCaps};
use secrecy::SecretString;
use sync_engine::{ConnectorError, Source};

use crate::common::{
    CANARY, ManualClock, Reply, SCIM_CANARY, ScriptedServer, T0, assert_no_canary, capture_logs,
    config,
};

/// Display, Debug and the whole source chain of an error.
fn everything_about(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = format!("{e}\n{e:?}\n");
    let mut source = e.source();
    while let Some(s) = source {
        writeln!(out, "{s}\n{s:?}").unwrap();
        source = s.source();
    }
    out
}

#[tokio::test]
async fn canary_token_never_leaks_from_failures() {
    let (logs, _guard) = capture_logs();
    let echo = format!(
        r#"{{"error":"Unauthorized","error_description":"Invalid access_token {CANARY}"}}"#
    );
    let server = ScriptedServer::start(vec![
        // 401 whose body echoes the token.
        Reply::json(401, &echo),
        // Throttled, then transient failures until the attempts run out.
        Reply::json(503, r#"{"error_description":"Over Rate Limit"}"#)
            .header("X-Ratelimit-Reset", T0 + 2),
        Reply::json(
            502,
            &format!("<html>proxy error for Bearer {CANARY}</html>"),
        ),
        Reply::json(500, "{}"),
        // A hung request (timeout), then a body that does not decode.
        Reply::hang(),
        Reply::json(200, &format!(r#"[{{"id": "U", "emails": "{CANARY}"}}]"#)),
        // 429 until the wait cap stops the source.
        Reply::json(429, "{}").header("X-Ratelimit-Reset", 0),
        Reply::json(429, "{}").header("X-Ratelimit-Reset", 0),
        // A non-JSON 400 echoing the SCIM token.
        Reply::json(400, &format!("bad request: {SCIM_CANARY}")),
    ])
    .await;
    let clock = ManualClock::new();
    let cfg = config(&server.url)
        .scim_token(SecretString::from(SCIM_CANARY))
        .timeout(Duration::from_secs(1))
        .retry(
            RetryPolicy::default()
                .max_attempts(2)
                .wait_caps(WaitCaps::run(Duration::from_secs(100))),
        );
    assert_no_canary("config Debug", &format!("{cfg:?}"));
    let client = QuipClient::with_clock(cfg, clock.clone()).unwrap();
    assert_no_canary("client Debug", &format!("{client:?}"));

    let mut outputs = Vec::new();
    // 401
    let e = client.users().current().await.unwrap_err();
    assert!(e.is_auth());
    assert!(e.to_string().contains("[redacted]"), "{e}");
    outputs.push(everything_about(&e));
    let ce = ConnectorError::from(e);
    outputs.push(everything_about(&ce));
    // 503 ORL, 502, 500 -> transient after 2 attempts
    let e = client.users().get("UTUAEAiZl6B").await.unwrap_err();
    outputs.push(everything_about(&e));
    // timeout then decode error
    let e = client.users().contacts().await.unwrap_err();
    outputs.push(everything_about(&e));
    // wait cap via the source: incomplete is impossible on the first page -> error
    let source = QuipSource::new(
        client.clone(),
        QuipSourceConfig::new(Listing::Scim).company_id("C"),
    );
    let e = source.read(&sync_engine::NoProgress).await.unwrap_err();
    assert_eq!(e.kind, sync_engine::ErrorKind::Throttled);
    outputs.push(everything_about(&e));
    outputs.push(format!("{source:?}"));
    // SCIM token echoed in a non-JSON body
    let e = client.scim().list_users().page(1).await.unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400));
    outputs.push(everything_about(&e));

    for out in &outputs {
        assert_no_canary("error output", out);
    }
    let logged = logs.contents();
    assert!(
        logged.contains("Quip throttled the request") && logged.contains("backing off"),
        "the failures were logged: {logged}"
    );
    assert_no_canary("logs", &logged);
    server.assert_done();
}
