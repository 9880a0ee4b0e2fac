//! Issue 19 acceptance: the real binary against loopback servers that misbehave on purpose.
//! Redirects to a second host (which must receive nothing), a 1.5 GB body (streamed by the
//! test server, never allocated), endless pages with `X-Total-Count: 2500`, a server that
//! ignores `skip`, and plain `http://` to a host that is not loopback.
//!
//! The misbehaving servers are raw HTTP/1.1 on tokio: each request either gets a scripted
//! answer or is forwarded to the emulator, so everything else a command needs still works.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Harness, OOMNITZA_VAR, Output, QUIP_VAR, Running};

/// One request as the hostile server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path and query.
    target: String,
    /// Header names and values (names lower-cased).
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Seen {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    fn query(&self, name: &str) -> Option<String> {
        let query = self.target.split_once('?')?.1;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    }
}

/// What the hostile server does with one request.
enum Reply {
    /// Pass it on to the upstream emulator and its answer back.
    Forward,
    /// A JSON answer.
    Json {
        status: u16,
        headers: Vec<(String, String)>,
        body: Value,
    },
    /// A redirect to `location`.
    Redirect { status: u16, location: String },
    /// 200 with a body of `size` bytes streamed from one small buffer, declared in
    /// `Content-Length` or sent chunked without a length.
    Huge { size: u64, declared: bool },
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A loopback server answering through `handler`, forwarding to `upstream` when told to.
struct Hostile {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Body bytes written by `Reply::Huge` answers before the client hung up.
    huge_written: Arc<AtomicU64>,
}

impl Hostile {
    async fn start(
        upstream: Option<String>,
        handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let huge_written = Arc::new(AtomicU64::new(0));
        let handler: Handler = Arc::new(handler);
        let log = Arc::clone(&seen);
        let written = Arc::clone(&huge_written);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let handler = Arc::clone(&handler);
                let log = Arc::clone(&log);
                let written = Arc::clone(&written);
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let _ = serve(socket, upstream, handler, log, written).await;
                });
            }
        });
        Hostile {
            base,
            seen,
            huge_written,
        }
    }

    /// Every request received so far.
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("log").clone()
    }

    /// Requests received so far whose path is `path`.
    fn hits(&self, path: &str) -> usize {
        self.seen().iter().filter(|s| s.path() == path).count()
    }
}

/// Reads one request (head and `Content-Length` body); `None` when the peer closed.
async fn read_request(socket: &mut TcpStream) -> std::io::Result<Option<(Seen, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default().to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..].to_vec();
    // The raw head without `Connection`, for forwarding with `Connection: close`.
    let mut forward = format!("{method} {target} HTTP/1.1\r\n");
    for line in head.split("\r\n").skip(1) {
        if !line.is_empty() && !line.to_ascii_lowercase().starts_with("connection:") {
            forward.push_str(line);
            forward.push_str("\r\n");
        }
    }
    forward.push_str("connection: close\r\n\r\n");
    let mut raw = forward.into_bytes();
    raw.extend_from_slice(&body);
    Ok(Some((
        Seen {
            method,
            target,
            headers,
            body,
        },
        raw,
    )))
}

async fn serve(
    mut socket: TcpStream,
    upstream: Option<String>,
    handler: Handler,
    log: Arc<Mutex<Vec<Seen>>>,
    written: Arc<AtomicU64>,
) -> std::io::Result<()> {
    let Some((seen, raw)) = read_request(&mut socket).await? else {
        return Ok(());
    };
    let reply = handler(&seen);
    log.lock().expect("log").push(seen);
    match reply {
        Reply::Forward => {
            let upstream = upstream.expect("this server forwards to an emulator");
            let address = upstream.trim_start_matches("http://").trim_end_matches('/');
            let mut up = TcpStream::connect(address).await?;
            up.write_all(&raw).await?;
            tokio::io::copy(&mut up, &mut socket).await?;
        }
        Reply::Json {
            status,
            headers,
            body,
        } => {
            let body = serde_json::to_vec(&body).expect("JSON");
            let mut head = format!(
                "HTTP/1.1 {status} Scripted\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&k);
                head.push_str(": ");
                head.push_str(&v);
                head.push_str("\r\n");
            }
            head.push_str("\r\n");
            socket.write_all(head.as_bytes()).await?;
            socket.write_all(&body).await?;
        }
        Reply::Redirect { status, location } => {
            let head = format!(
                "HTTP/1.1 {status} Moved\r\nlocation: {location}\r\ncontent-length: 0\r\n\
                 connection: close\r\n\r\n"
            );
            socket.write_all(head.as_bytes()).await?;
        }
        Reply::Huge { size, declared } => {
            let framing = if declared {
                format!("content-length: {size}")
            } else {
                "transfer-encoding: chunked".to_owned()
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{framing}\r\n\
                 connection: close\r\n\r\n"
            );
            socket.write_all(head.as_bytes()).await?;
            let block = vec![b' '; 256 * 1024];
            let mut left = size;
            while left > 0 {
                let n = usize::try_from(left.min(block.len() as u64)).expect("fits");
                if declared {
                    socket.write_all(&block[..n]).await?;
                } else {
                    socket.write_all(format!("{n:x}\r\n").as_bytes()).await?;
                    socket.write_all(&block[..n]).await?;
                    socket.write_all(b"\r\n").await?;
                }
                left -= n as u64;
                written.fetch_add(n as u64, Ordering::Relaxed);
            }
            if !declared {
                socket.write_all(b"0\r\n\r\n").await?;
            }
        }
    }
    socket.shutdown().await
}

/// A second host that answers 200 to anything: it must never be asked anything.
async fn elsewhere() -> Hostile {
    Hostile::start(None, |_| Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: json!({}),
    })
    .await
}

/// A configuration with these URLs (the harness's tokens and the usual test settings).
fn config_text(quip: &str, oomnitza: &str, quip_extra: &str, oomnitza_extra: &str) -> String {
    format!(
        r#"[integration]
name = "E2E hostile"

[quip]
base_url = "{quip}"
scim_url = "{quip}"
credential = {{ env = "{QUIP_VAR}" }}
events_lookback = "3650d"
timeout = "10s"
max_wait = "2s"
{quip_extra}

[oomnitza]
base_url = "{oomnitza}"
credential = {{ env = "{OOMNITZA_VAR}" }}
max_wait = "2s"
{oomnitza_extra}
"#
    )
}

/// Neither token appears in what the binary printed.
fn assert_no_tokens(h: &Harness, out: &Output) {
    for token in [h.sandbox.quip.token(), h.sandbox.oomnitza.token()] {
        assert!(!out.stdout.contains(token), "token on stdout");
        assert!(!out.stderr.contains(token), "token on stderr");
    }
}

/// Peak resident memory (`VmHWM`, kB) of process `pid`, polled until it exits. `VmHWM` is
/// the kernel's own high-water mark, so a sample taken after the peak still sees it; only
/// growth in the last interval before the exit could be missed.
async fn watch_peak_kb(pid: u32) -> u64 {
    let path = format!("/proc/{pid}/status");
    let mut peak = 0;
    loop {
        let Ok(status) = std::fs::read_to_string(&path) else {
            return peak;
        };
        let Some(kb) = status.lines().find_map(|l| {
            l.strip_prefix("VmHWM:")
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        }) else {
            // A zombie has no memory lines: the process has exited.
            return peak;
        };
        peak = peak.max(kb);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Runs a spawned command to the end, with its peak memory in MB.
async fn finish_with_peak(running: Running) -> (Output, u64) {
    let watcher = tokio::spawn(watch_peak_kb(running.id()));
    let out = running.finish().await;
    let peak_kb = watcher.await.expect("watcher");
    // Not a vacuous bound: the process was seen while it ran (a binary that made HTTP
    // requests lives far longer than one sampling interval).
    assert!(peak_kb > 0, "the child's memory was never sampled");
    (out, peak_kb / 1024)
}

// ---- 1. Redirects --------------------------------------------------------------------

#[tokio::test]
async fn oomnitza_redirects_on_get_and_post_reach_nobody() {
    let h = Harness::start(12, 1901).await;
    for status in [307u16, 308] {
        let other = elsewhere().await;
        let location = format!("{}/api/v3/users/meta?token=x", other.base);
        let upstream = h.sandbox.oomnitza.base_url();

        // GET: `validate` reads the People metadata.
        let loc = location.clone();
        let redirecting = Hostile::start(Some(upstream.clone()), move |_| Reply::Redirect {
            status,
            location: loc.clone(),
        })
        .await;
        let path = h.write(
            "get.toml",
            &config_text(&h.sandbox.quip.base_url(), &redirecting.base, "", ""),
        );
        let out = h.cli(["validate", "--config"]).arg(&path).run().await;
        out.expect_code(2);
        assert!(out.stderr.contains("redirect"), "{}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("{}/api/v3/users/meta", other.base)),
            "the error names where it pointed: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("token=x"), "{}", out.stderr);
        assert_no_tokens(&h, &out);
        assert!(redirecting.hits("/api/v3/users/meta") >= 1);

        // POST: `run` reads through to the emulator, then each create is redirected.
        let loc = location.clone();
        let redirecting = Hostile::start(Some(upstream), move |seen| {
            if seen.method == "POST" {
                Reply::Redirect {
                    status,
                    location: loc.clone(),
                }
            } else {
                Reply::Forward
            }
        })
        .await;
        let path = h.write(
            "post.toml",
            &config_text(&h.sandbox.quip.base_url(), &redirecting.base, "", ""),
        );
        let before = h.oomnitza_people().len();
        let out = h.cli(["run", "--json", "--config"]).arg(&path).run().await;
        // Each create fails on its own (a record error, exit 3); reads went through.
        out.expect_code(3);
        let report = out.json();
        let errors = report["errors"].as_array().expect("errors");
        assert!(!errors.is_empty(), "{report:#}");
        for e in errors {
            let message = e["message"].as_str().expect("message");
            assert!(
                message.contains(&format!("answered HTTP {status}")),
                "{message}"
            );
            assert!(message.contains("redirect"), "{message}");
            assert!(message.contains(&other.base), "{message}");
        }
        assert_eq!(report["counts"]["created"], 0, "{report:#}");
        assert_eq!(h.oomnitza_people().len(), before, "nothing was written");
        let posts = redirecting
            .seen()
            .into_iter()
            .filter(|s| s.method == "POST")
            .collect::<Vec<_>>();
        assert!(!posts.is_empty(), "creates were attempted");
        assert!(
            posts
                .iter()
                .all(|p| p.headers.contains_key("authorization2")),
            "the first host got the token, as it should"
        );
        assert_no_tokens(&h, &out);

        assert!(
            other.seen().is_empty(),
            "the redirect target received {:?}",
            other.seen()
        );
    }
}

#[tokio::test]
async fn quip_redirects_on_get_and_post_reach_nobody() {
    let h = Harness::start(12, 1902).await;
    for status in [307u16, 308] {
        let other = elsewhere().await;
        let location = format!("{}/1/users/current?token=x", other.base);
        let upstream = h.sandbox.quip.base_url();

        // GET: `validate` checks the token with /1/users/current.
        let loc = location.clone();
        let redirecting = Hostile::start(Some(upstream.clone()), move |_| Reply::Redirect {
            status,
            location: loc.clone(),
        })
        .await;
        let path = h.write(
            "get.toml",
            &config_text(&redirecting.base, &h.sandbox.oomnitza.base_url(), "", ""),
        );
        let out = h.cli(["validate", "--config"]).arg(&path).run().await;
        out.expect_code(2);
        assert!(out.stderr.contains("redirect"), "{}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("{}/1/users/current", other.base)),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("token=x"), "{}", out.stderr);
        assert_no_tokens(&h, &out);

        // POST: the Admin listing is a form POST; `plan` fails at its first page.
        let loc = location.clone();
        let redirecting = Hostile::start(Some(upstream), move |seen| {
            if seen.method == "POST" {
                Reply::Redirect {
                    status,
                    location: loc.clone(),
                }
            } else {
                Reply::Forward
            }
        })
        .await;
        let company = h.sandbox.quip.company_id().to_owned();
        let path = h.write(
            "post.toml",
            &config_text(
                &redirecting.base,
                &h.sandbox.oomnitza.base_url(),
                &format!("listing = \"admin\"\ncompany_id = \"{company}\"\nlast_activity = false"),
                "",
            ),
        );
        let out = h.cli(["plan", "--json", "--config"]).arg(&path).run().await;
        out.expect_code(1);
        let report = out.json();
        assert_eq!(report["status"], "failed", "{report:#}");
        let fatal = report["fatal"].as_str().expect("fatal");
        assert!(fatal.contains("POST"), "{fatal}");
        assert!(fatal.contains("/1/admin/users/list"), "{fatal}");
        assert!(fatal.contains("redirect"), "{fatal}");
        assert!(fatal.contains(&other.base), "{fatal}");
        let posts: Vec<Seen> = redirecting
            .seen()
            .into_iter()
            .filter(|s| s.method == "POST")
            .collect();
        assert_eq!(posts.len(), 1, "not retried: {posts:?}");
        assert!(String::from_utf8_lossy(&posts[0].body).contains("company_id="));
        assert_no_tokens(&h, &out);

        assert!(
            other.seen().is_empty(),
            "the redirect target received {:?}",
            other.seen()
        );
    }
}

// ---- 2. Response size ----------------------------------------------------------------

#[tokio::test]
async fn a_one_and_a_half_gigabyte_listing_fails_at_the_limit_in_bounded_memory() {
    let h = Harness::start(12, 1903).await;
    for declared in [true, false] {
        let upstream = h.sandbox.oomnitza.base_url();
        let huge = Hostile::start(Some(upstream), move |seen| {
            if seen.method == "GET" && seen.path() == "/api/v3/users" {
                Reply::Huge {
                    size: 1_500_000_000,
                    declared,
                }
            } else {
                Reply::Forward
            }
        })
        .await;
        let path = h.write(
            "huge.toml",
            &config_text(&h.sandbox.quip.base_url(), &huge.base, "", ""),
        );
        let running = h.cli(["plan", "--json", "--config"]).arg(&path).spawn();
        let (out, peak_mb) = finish_with_peak(running).await;
        out.expect_code(1);
        let report = out.json();
        let fatal = report["fatal"].as_str().expect("fatal");
        assert!(fatal.contains("Oomnitza"), "{fatal}");
        assert!(fatal.contains("GET /api/v3/users"), "{fatal}");
        assert!(
            fatal.contains("limit of 67108864 bytes (64 MiB)"),
            "{fatal}"
        );
        assert!(
            peak_mb < 200,
            "peak memory {peak_mb} MB (declared: {declared})"
        );
        let sent = huge.huge_written.load(Ordering::Relaxed);
        if declared {
            // Refused on the declared length: at most what the sockets buffer was sent.
            assert!(sent < 32 << 20, "the server wrote {sent} bytes");
        } else {
            // Read up to the limit, then hung up: the sampler saw that much memory in use
            // (so the bound above measured the read), and the rest was never sent.
            assert!(sent >= 64 << 20, "the server wrote only {sent} bytes");
            assert!(sent < 256 << 20, "the server wrote {sent} bytes");
            assert!(
                peak_mb >= 32,
                "peak memory {peak_mb} MB: the read was not sampled"
            );
        }
        assert_eq!(huge.hits("/api/v3/users"), 1, "not retried");
        assert_no_tokens(&h, &out);
    }
}

#[tokio::test]
async fn a_huge_quip_answer_fails_at_the_configured_limit() {
    let h = Harness::start(12, 1904).await;
    let upstream = h.sandbox.quip.base_url();
    let huge = Hostile::start(Some(upstream), |seen| {
        if seen.path() == "/2/Users" {
            Reply::Huge {
                size: 1_500_000_000,
                declared: false,
            }
        } else {
            Reply::Forward
        }
    })
    .await;
    let path = h.write(
        "huge.toml",
        &config_text(
            &huge.base,
            &h.sandbox.oomnitza.base_url(),
            "max_response_bytes = \"8MiB\"",
            "",
        ),
    );
    let running = h.cli(["plan", "--json", "--config"]).arg(&path).spawn();
    let (out, peak_mb) = finish_with_peak(running).await;
    out.expect_code(1);
    let fatal = out.json()["fatal"].as_str().expect("fatal").to_owned();
    assert!(fatal.contains("Quip GET"), "{fatal}");
    assert!(fatal.contains("/2/Users"), "{fatal}");
    assert!(fatal.contains("limit of 8388608 bytes (8 MiB)"), "{fatal}");
    assert!(fatal.contains("[quip] max_response_bytes"), "{fatal}");
    assert!(peak_mb < 200, "peak memory {peak_mb} MB");
    assert_eq!(huge.hits("/2/Users"), 1, "not retried");
    // Nothing was deactivated or written: the read failed.
    assert_eq!(h.oomnitza_writes(), 0);
}

// ---- 3. Paging -----------------------------------------------------------------------

/// `limit` people starting at id `skip` (or at 0 when `ignore_skip`).
fn people_page(seen: &Seen, ignore_skip: bool) -> Reply {
    let limit: u64 = seen
        .query("limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let skip: u64 = if ignore_skip {
        0
    } else {
        seen.query("skip").and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    let people: Vec<Value> = (skip..skip + limit)
        .map(|i| {
            json!({
                "user_id": format!("{}", 900_000 + i),
                "username": format!("ghost{i}@example.com"),
                "email": format!("ghost{i}@example.com"),
                "quip_user_id": format!("GHOST{i}"),
            })
        })
        .collect();
    Reply::Json {
        status: 200,
        headers: vec![("X-Total-Count".to_owned(), "2500".to_owned())],
        body: Value::Array(people),
    }
}

#[tokio::test]
async fn endless_pages_and_a_server_ignoring_skip_stop_within_four_pages() {
    let h = Harness::start(12, 1905).await;
    for (ignore_skip, max_requests, needle) in [
        (false, 4, "more than X-Total-Count (2500) plus one page"),
        (true, 2, "repeats 1000 record(s) already received"),
    ] {
        let upstream = h.sandbox.oomnitza.base_url();
        let endless = Hostile::start(Some(upstream), move |seen| {
            if seen.method == "GET" && seen.path() == "/api/v3/users" {
                people_page(seen, ignore_skip)
            } else {
                Reply::Forward
            }
        })
        .await;
        let path = h.write(
            "endless.toml",
            &config_text(&h.sandbox.quip.base_url(), &endless.base, "", ""),
        );
        for command in ["plan", "run"] {
            let running = h.cli([command, "--json", "--config"]).arg(&path).spawn();
            let before = endless.hits("/api/v3/users");
            let (out, peak_mb) = finish_with_peak(running).await;
            out.expect_code(1);
            let report = out.json();
            assert_eq!(report["status"], "failed", "{report:#}");
            let fatal = report["fatal"].as_str().expect("fatal");
            assert!(fatal.contains("GET /api/v3/users"), "{fatal}");
            assert!(fatal.contains(needle), "{fatal}");
            assert!(fatal.contains("incomplete"), "{fatal}");
            let pages = endless.hits("/api/v3/users") - before;
            assert_eq!(pages, max_requests, "{command}: pages requested");
            assert!(peak_mb < 200, "peak memory {peak_mb} MB");
            assert_eq!(count_deactivated(&report), 0);
        }
        assert_eq!(h.oomnitza_writes(), 0, "a failed read writes nothing");
    }
}

fn count_deactivated(report: &Value) -> u64 {
    report["counts"]["deactivated"].as_u64().unwrap_or(0)
}

// ---- 5. Plain http:// ----------------------------------------------------------------

#[tokio::test]
async fn plain_http_to_another_host_is_refused_unless_allowed_then_warned_about() {
    let h = Harness::start(12, 1906).await;
    let calls = || h.sandbox.oomnitza.counters().total() + h.sandbox.quip.counters().total();

    // A name that cannot resolve: the refusal must come before any network use.
    let quip = h.sandbox.quip.base_url();
    let oomnitza = h.sandbox.oomnitza.base_url();
    let remote = "http://example.invalid";
    let quip_scim = config_text(&quip, &oomnitza, "", "").replacen(
        &format!("scim_url = \"{quip}\""),
        &format!("scim_url = \"{remote}/scim\""),
        1,
    );
    for (name, text, key) in [
        (
            "q.toml",
            config_text(remote, &oomnitza, "", ""),
            "quip.base_url",
        ),
        ("s.toml", quip_scim, "quip.scim_url"),
        (
            "o.toml",
            config_text(&quip, remote, "", ""),
            "oomnitza.base_url",
        ),
        // Oomnitza's option does not let Quip through.
        (
            "qo.toml",
            config_text(remote, &oomnitza, "", "allow_insecure_http = true"),
            "quip.base_url",
        ),
    ] {
        let path = h.write(name, &text);
        let out = h
            .cli(["--quiet", "plan", "--config"])
            .arg(&path)
            .run()
            .await;
        out.expect_code(2);
        let line = out
            .stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("no error line: {}", out.stderr));
        assert!(line.contains(&format!("{}:", path.display())), "{line}");
        assert!(line.contains(key), "{key}: {line}");
        assert!(line.contains("plain http:// to example.invalid"), "{line}");
        assert!(line.contains("allow_insecure_http = true"), "{line}");
    }
    assert_eq!(calls(), 0, "refused before any request");

    // 0.0.0.0 is not a loopback address, yet connecting to it reaches this machine on
    // Linux: the allowed case can run for real without a network.
    let remote = h
        .sandbox
        .oomnitza
        .base_url()
        .replace("127.0.0.1", "0.0.0.0");
    assert!(remote.starts_with("http://0.0.0.0:"), "{remote}");
    let path = h.write(
        "http.toml",
        &config_text(&h.sandbox.quip.base_url(), &remote, "", ""),
    );
    for command in ["validate", "plan", "run"] {
        let out = h.cli([command, "--config"]).arg(&path).run().await;
        out.expect_code(2);
        assert!(
            out.stderr.contains(&format!("{}:", path.display())),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("oomnitza.base_url"), "{}", out.stderr);
        assert!(out.stderr.contains("plain http://"), "{}", out.stderr);
        assert!(
            out.stderr.contains("allow_insecure_http = true"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(calls(), 0, "refused before any request");

    let path = h.write(
        "http-allowed.toml",
        &config_text(
            &h.sandbox.quip.base_url(),
            &remote,
            "",
            "allow_insecure_http = true",
        ),
    );
    for args in [
        vec!["--quiet", "validate"],
        vec!["--quiet", "plan"],
        vec!["run"],
    ] {
        let out = h.cli(args.clone()).arg("--config").arg(&path).run().await;
        out.expect_code(0);
        // A log line at WARN on the security target, which `--quiet` keeps.
        let warnings: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.contains("WARN") && l.contains("plain http://"))
            .collect();
        assert_eq!(warnings.len(), 1, "{args:?}: {}", out.stderr);
        assert!(warnings[0].contains("oomnitza.base_url"), "{}", warnings[0]);
        assert!(warnings[0].contains("0.0.0.0"), "{}", warnings[0]);
        assert_no_tokens(&h, &out);
    }
}
