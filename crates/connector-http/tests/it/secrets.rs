//! A canary token never shows up in what errors, URLs, requests or the client show.

use std::fmt::Write as _;
use std::time::Duration;

use connector_http::{Authorization, Body, RedactedHeaders, RedactedUrl, Request, WaitCaps};
use http::HeaderMap;
use secrecy::SecretString;

use crate::common::{CANARY, ManualClock, Reply, ScriptedServer, client, policy, url};

fn assert_no_canary(what: &str, text: &str) {
    assert!(!text.contains(CANARY), "{what} shows the token: {text}");
    assert!(
        !text.contains(&CANARY[..12]),
        "{what} shows part of the token: {text}"
    );
}

/// Display, Debug and the report of an error, and of every cause in its chain.
fn everything_about(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = format!("{e}\n{e:?}\n");
    let mut source = e.source();
    while let Some(s) = source {
        let _ = writeln!(out, "{s}\n{s:?}");
        source = s.source();
    }
    out
}

#[tokio::test]
async fn the_token_is_sent_marked_and_never_shown() {
    let echo = format!(r#"{{"error":"bad token {CANARY}"}}"#);
    let server = ScriptedServer::start(vec![
        Reply::new(401, &echo),
        Reply::new(500, &echo),
        Reply::new(500, &echo),
        Reply::new(500, &echo),
        Reply::new(500, &echo),
        Reply::new(200, &format!(r#"{{"id": "{CANARY}"}}"#)),
    ])
    .await;
    let clock = ManualClock::new();
    let c = client(&clock, policy());
    let req = Request::get((), url(&server.url, "/v1/me?page=1"));

    // A 401 echoing the token: the body kept in the error is scrubbed.
    let e = c.send(&req).await.unwrap_err();
    assert!(e.is_auth());
    assert!(e.to_string().contains("[redacted]"), "{e}");
    assert_no_canary("401 error", &everything_about(&e));
    assert_no_canary("401 report", &e.report());

    // 5xx echoing it, through every retry.
    let e = c.send(&req).await.unwrap_err();
    assert_no_canary("5xx error", &everything_about(&e));

    // A decode error would quote the value; it is scrubbed too.
    let e = c
        .send(&req)
        .await
        .unwrap()
        .json::<std::collections::HashMap<String, u32>>()
        .unwrap_err();
    assert_no_canary("decode error", &everything_about(&e));
    assert_no_canary("decode report", &e.report());

    assert_no_canary("client Debug", &format!("{c:?}"));
    assert_no_canary("request Debug", &format!("{req:?}"));
    let seen = server.seen();
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some(&*format!("Bearer {CANARY}"))),
        "{seen:?}"
    );
    server.assert_done();
}

#[test]
fn urls_headers_bodies_and_credentials_hide_the_token() {
    let u = RedactedUrl::new(
        url::Url::parse(&format!(
            "https://me:{CANARY}@h/x?access_token={CANARY}&client_secret={CANARY}&page=2"
        ))
        .unwrap(),
    );
    for shown in [
        u.to_string(),
        format!("{u:?}"),
        u.path_and_query().to_string(),
    ] {
        assert_no_canary("URL", &shown);
        assert!(shown.contains("page=2"), "{shown}");
    }

    let mut headers = HeaderMap::new();
    let mut v = http::HeaderValue::from_str(&format!("Bearer {CANARY}")).unwrap();
    v.set_sensitive(true);
    headers.insert(http::header::AUTHORIZATION, v);
    headers.insert(
        "authorization2",
        http::HeaderValue::from_str(CANARY).unwrap(),
    );
    let shown = format!(
        "{} {:?}",
        RedactedHeaders(&headers),
        RedactedHeaders(&headers)
    );
    assert_no_canary("headers", &shown);

    let body = Body::Form(vec![("client_secret", CANARY.to_owned())]);
    assert_no_canary("form body", &format!("{body:?}"));

    for auth in [
        Authorization::Bearer(SecretString::from(CANARY)),
        Authorization::Header(
            http::HeaderName::from_static("authorization2"),
            SecretString::from(CANARY),
        ),
        Authorization::Basic {
            user: "admin".into(),
            password: SecretString::from(CANARY),
        },
    ] {
        assert_no_canary("credential", &format!("{auth:?}"));
        assert!(auth.is_valid());
    }
    assert!(!Authorization::Bearer(SecretString::from("bad\ntoken")).is_valid());
}

#[tokio::test]
async fn a_timeout_is_reported_with_the_timeout_and_no_url() {
    // A server that accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let clock = ManualClock::new();
    let settings = connector_http::Settings::new(
        (Duration::from_millis(200), Duration::from_secs(1)),
        "t",
        1 << 20,
        connector_http::RetryPolicy::new(
            2,
            0,
            (Duration::from_millis(1), Duration::from_millis(2)),
            WaitCaps::run(Duration::from_secs(5)),
        ),
    );
    let vendor = crate::common::Acme {
        auth: Authorization::Bearer(SecretString::from(CANARY)),
        pace_once: std::sync::Mutex::new(None),
        observed: std::sync::Mutex::new(Vec::new()),
    };
    let clock_dyn: std::sync::Arc<dyn connector_http::Clock> = clock.clone();
    let c = connector_http::HttpClient::new(settings, vendor, clock_dyn).unwrap();
    let e = c
        .send(&Request::get((), url(&base, &format!("/x?token={CANARY}"))))
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), connector_http::ErrorKind::Timeout { .. }),
        "{e:?}"
    );
    assert_eq!(e.request().map(|r| r.attempts), Some(2));
    assert!(e.to_string().contains("timed out after 0.2s"), "{e}");
    assert_no_canary("timeout", &everything_about(&e));
    assert_no_canary("timeout report", &e.report());
}
