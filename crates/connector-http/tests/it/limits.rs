//! Redirects are refused and bodies are capped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use connector_http::{ErrorKind, Request};
use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{CANARY, ManualClock, Reply, ScriptedServer, client, client_with, policy, url};

#[tokio::test]
async fn redirects_are_refused_not_retried_and_the_other_host_sees_nothing() {
    for status in [301u16, 302, 303, 307, 308] {
        let elsewhere = ScriptedServer::start(vec![]).await;
        let location = format!("{}/v1/users?token=x", elsewhere.url);
        let redirect = Reply::new(status, "").header("location", location);
        let server = ScriptedServer::start(vec![redirect.clone(), redirect]).await;
        let clock = ManualClock::new();
        let c = client(&clock, policy());
        for method in [Method::GET, Method::POST] {
            let req = Request::new((), method, url(&server.url, "/v1/users"))
                .form(vec![("a", "b".into())]);
            let e = c.send(&req).await.unwrap_err();
            match e.kind() {
                ErrorKind::Redirect {
                    status: got,
                    location,
                } => {
                    assert_eq!(*got, status);
                    assert_eq!(location, &format!("{}/v1/users", elsewhere.url));
                }
                other => panic!("expected a redirect error, got {other:?}"),
            }
            assert_eq!(e.engine_kind(), sync_engine::ErrorKind::Config);
            let message = e.to_string();
            assert!(message.contains(&format!("answered {status}")), "{message}");
            assert!(message.contains("redirect"), "{message}");
            assert!(!message.contains("token=x"), "{message}");
            assert!(!message.contains(CANARY), "{message}");
        }
        assert!(
            elsewhere.seen().is_empty(),
            "the redirect target was contacted"
        );
        let methods: Vec<String> = server.seen().into_iter().map(|s| s.method).collect();
        assert_eq!(methods, ["GET", "POST"]);
        assert_eq!(c.stats().calls, 2, "one attempt per request, no retries");
        assert!(clock.sleeps().is_empty());
        server.assert_done();
    }
}

/// A loopback server answering every request with a chunked body that never ends; counts
/// the bytes it managed to write before the client hung up. (The vendor crates test the
/// body cap through their clients with a declared length; this is the endless case.)
async fn endless_body() -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let written = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&written);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                             transfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head).await.is_err() {
                    return;
                }
                let chunk = [b"4000\r\n".as_slice(), &[b'x'; 0x4000], b"\r\n"].concat();
                while socket.write_all(&chunk).await.is_ok() {
                    counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
            });
        }
    });
    (base, written)
}

#[tokio::test]
async fn a_declared_body_over_the_limit_fails_once_before_it_is_read() {
    let server = ScriptedServer::start(vec![Reply::new(200, &"y".repeat(5000))]).await;
    let clock = ManualClock::new();
    let c = client_with(&clock, policy(), 1000);
    let e = c
        .send(&Request::get((), url(&server.url, "/big")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::TooLarge {
                limit: 1000,
                declared: Some(5000)
            }
        ),
        "{e:?}"
    );
    let message = e.to_string();
    assert!(message.starts_with("Acme GET /big: "), "{message}");
    assert!(message.contains("limit of 1000 bytes"), "{message}");
    assert!(message.contains("`[acme] max_response_bytes`"), "{message}");
    assert_eq!(c.stats().calls, 1, "not retried");
    server.assert_done();
}

#[tokio::test]
async fn an_endless_body_stops_at_the_limit() {
    let (base, written) = endless_body().await;
    let clock = ManualClock::new();
    let limit = 1 << 20;
    let c = client_with(&clock, policy(), limit);
    let e = c
        .send(&Request::get((), url(&base, "/stream")))
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::TooLarge { limit: l, declared: None } if *l == limit),
        "{e:?}"
    );
    assert_eq!(c.stats().calls, 1, "not retried");
    // Socket buffers let the server get somewhat ahead, never arbitrarily far.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let sent = written.load(Ordering::Relaxed);
    assert!(sent < 64 << 20, "the server wrote {sent} bytes");
}

#[tokio::test]
async fn a_body_at_the_limit_is_read_whole() {
    let server = ScriptedServer::start(vec![Reply::new(200, &"z".repeat(1000))]).await;
    let clock = ManualClock::new();
    let c = client_with(&clock, policy(), 1000);
    let r = c
        .send(&Request::get((), url(&server.url, "/ok")))
        .await
        .unwrap();
    assert_eq!(r.body.len(), 1000);
    server.assert_done();
}
