//! The Quip → Oomnitza configuration file: defaults of a minimal file, errors placed at
//! file:line:col and key, every problem reported at once.

use std::path::Path;

use credential_store::CredentialRef;
use oomnitza_client::OomnitzaSection;
use quip_client::QuipSection;
use quip_oomnitza_pairing::PAIRING;
use sync_runtime::config::Mode;
use sync_runtime::{Config, ConfigError, ConfigErrors};

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(Path::new("quip-oomnitza.toml"), text.to_owned(), &PAIRING)
}

/// The only error of a file that has one.
fn only(text: &str) -> ConfigError {
    let errors = parse(text).expect_err("the file has a problem");
    assert_eq!(errors.errors().len(), 1, "{errors}");
    errors.first().clone()
}

fn quip(c: &Config) -> QuipSection {
    c.doc().section("quip").expect("quip section")
}

fn oomnitza(c: &Config) -> OomnitzaSection {
    c.doc().section("oomnitza").expect("oomnitza section")
}

const MINIMAL: &str = r#"
[quip]
credential = { env = "QUIP_TOKEN" }

[oomnitza]
base_url = "https://acme.oomnitza.com"
credential = "oomnitza"
"#;

#[test]
fn minimal_file_gets_defaults() {
    let c = parse(MINIMAL).expect("minimal config loads");
    let q = quip(&c);
    assert_eq!(q.base_url.as_str(), "https://platform.quip.com");
    assert_eq!(
        q.credential,
        Some(CredentialRef::Env {
            env: "QUIP_TOKEN".into()
        })
    );
    let o = oomnitza(&c);
    assert_eq!(o.credential, Some(CredentialRef::Store("oomnitza".into())));
    assert_eq!(o.saas_name, None, "the pairing's default app applies");
    assert_eq!(c.name(), "Quip users");
    assert_eq!(c.file.integration.mode, Mode::Users);
    assert_eq!(c.file.filters.exclude, vec!["is_robot".to_owned()]);
    assert_eq!(c.file.integration.deactivate.max_count, Some(50));
    assert_eq!(q.max_response_bytes.bytes(), 64 << 20);
    assert_eq!(o.max_pages, 1000);
    assert_eq!(q.max_pages, 10_000);
    assert_eq!(q.events_lookback.get().as_secs(), 90 * 86_400);
}

#[test]
fn unknown_key_names_line_and_key() {
    let text = format!("{MINIMAL}\n[integration]\nnmae = \"x\"\n");
    let e = only(&text);
    assert_eq!(e.position.map(|p| p.0), Some(10));
    assert_eq!(e.key.as_deref(), Some("integration.nmae"));
    assert!(e.message.contains("unknown field `nmae`"), "{e}");

    let text = MINIMAL.replace(
        "credential = { env",
        "listing_mode = \"scim\"\ncredential = { env",
    );
    let e = only(&text);
    assert_eq!(e.key.as_deref(), Some("quip.listing_mode"));
    assert_eq!(e.position, Some((3, 1)));
    assert!(e.message.contains("unknown field `listing_mode`"), "{e}");

    let text = format!("{MINIMAL}\n[quipp]\nx = 1\n");
    let e = only(&text);
    assert_eq!(e.key.as_deref(), Some("quipp"));
    assert_eq!(e.position, Some((9, 2)));
    assert_eq!(
        e.message,
        "unknown field `quipp`, expected one of `integration`, `schedule`, `quip`, \
         `oomnitza`, `mapping`, `filters`, `run`, `insights`"
    );
}

#[test]
fn wrong_type_names_the_key() {
    let text = MINIMAL.replace(
        "credential = \"oomnitza\"",
        "credential = \"oomnitza\"\nconcurrency = \"eight\"",
    );
    let e = only(&text);
    assert_eq!(e.key.as_deref(), Some("oomnitza.concurrency"));
    assert_eq!(e.position.map(|p| p.0), Some(8));
}

#[test]
fn semantic_errors_point_at_the_key() {
    let text = format!("{MINIMAL}\n[schedule]\nevery = \"sometimes\"\n");
    let e = only(&text);
    assert_eq!(e.key.as_deref(), Some("schedule.every"));
    assert_eq!(e.position.map(|p| p.0), Some(10));
    assert!(e.message.contains("\"sometimes\" is not a duration"), "{e}");
    let e = only("[quip]\n[oomnitza]\nbase_url = \"https://x.oomnitza.com\"\ncredential = \"o\"\n");
    assert_eq!(e.key.as_deref(), Some("quip.credential"));
    assert_eq!(
        e.position,
        Some((1, 2)),
        "points at the [quip] table when the key is absent"
    );
}

#[test]
fn every_problem_is_reported_at_once_in_file_order() {
    let text = r#"
[integration]
name = ""

[schedule]
at = "25:00"

[quip]
max_pages = 0

[oomnitza]
concurrency = 0

[run]
batch_size = 5000
"#;
    let errors = parse(text).expect_err("many problems");
    let keys: Vec<&str> = errors
        .errors()
        .iter()
        .map(|e| e.key.as_deref().unwrap_or("?"))
        .collect();
    assert_eq!(
        keys,
        [
            "integration.name",
            "schedule.at",
            "quip.credential",
            "quip.max_pages",
            "oomnitza.base_url",
            "oomnitza.credential",
            "oomnitza.concurrency",
            "run.batch_size",
        ],
        "{errors}"
    );
    let lines = errors.to_string();
    assert_eq!(lines.lines().count(), keys.len(), "one line each:\n{lines}");
    assert!(
        lines.lines().all(|l| l.starts_with("quip-oomnitza.toml:")),
        "{lines}"
    );
}

#[test]
fn optional_limits_switch_off_with_false() {
    let text = format!(
        "{MINIMAL}\n[integration.deactivate]\nmax_count = false\nmax_percent = 5\n\n\
         [schedule]\nat = false\n"
    );
    let c = parse(&text).expect("switched off");
    assert_eq!(c.file.integration.deactivate.max_count, None);
    assert_eq!(c.file.integration.deactivate.max_percent, Some(5.0));
    assert_eq!(c.file.schedule.at, None);
    let e = only(&format!(
        "{MINIMAL}\n[integration.deactivate]\nmax_count = true\n"
    ));
    assert_eq!(e.key.as_deref(), Some("integration.deactivate.max_count"));
    assert!(e.message.contains("`false` to switch it off"), "{e}");
    let e = only(&format!(
        "{MINIMAL}\n[integration.deactivate]\nmax_count = \"fifty\"\n"
    ));
    assert_eq!(e.message, "invalid type: string \"fifty\", expected u64");
}

#[test]
fn plain_http_is_refused_for_other_hosts_unless_allowed() {
    for loopback in [
        "http://127.0.0.1:8080",
        "http://127.9.9.9/x",
        "http://localhost:99",
        "http://[::1]:8080/",
    ] {
        let text = MINIMAL.replace("https://acme.oomnitza.com", loopback);
        let c = parse(&text).unwrap_or_else(|e| panic!("{loopback}: {e}"));
        assert!(c.insecure_http_warnings().is_empty(), "{loopback}");
    }
    for remote in [
        "http://acme.oomnitza.com",
        "http://0.0.0.0:8080",
        "http://10.0.0.1",
        "http://[::2]/",
        "http://127.0.0.1.nip.io",
        "http://localhost.evil.example",
    ] {
        let text = MINIMAL.replace("https://acme.oomnitza.com", remote);
        let e = only(&text);
        assert_eq!(e.key.as_deref(), Some("oomnitza.base_url"), "{remote}");
        assert_eq!(e.position.map(|p| p.0), Some(6), "{remote}");
        let shown = e.to_string();
        assert!(shown.starts_with("quip-oomnitza.toml:6:"), "{shown}");
        assert!(shown.contains("allow_insecure_http = true"), "{shown}");

        let allowed = text.replace(
            "credential = \"oomnitza\"",
            "credential = \"oomnitza\"\nallow_insecure_http = true",
        );
        let c = parse(&allowed).unwrap_or_else(|e| panic!("{remote}: {e}"));
        let warnings = c.insecure_http_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("oomnitza.base_url"), "{warnings:?}");
        assert!(
            warnings[0].starts_with("quip-oomnitza.toml: "),
            "{warnings:?}"
        );
    }
    // The option is per system: Oomnitza's does not let Quip through.
    let text = "[quip]\nbase_url = \"http://quip.example\"\ncredential = \"q\"\n\
         [oomnitza]\nbase_url = \"https://a.oomnitza.com\"\ncredential = \"o\"\n\
         allow_insecure_http = true\n";
    let e = only(text);
    assert_eq!(e.key.as_deref(), Some("quip.base_url"));
}

#[test]
fn limits_parse_and_reject_zero() {
    for (value, bytes) in [
        ("\"512KiB\"", 512 << 10),
        ("\"1 GiB\"", 1 << 30),
        ("\"2MB\"", 2_000_000),
        ("4096", 4096),
    ] {
        let text = MINIMAL.replace(
            "credential = \"oomnitza\"",
            &format!("credential = \"oomnitza\"\nmax_response_bytes = {value}"),
        );
        let c = parse(&text).unwrap_or_else(|e| panic!("{value}: {e}"));
        assert_eq!(oomnitza(&c).max_response_bytes.bytes(), bytes);
    }
    for (line, key) in [
        (
            "max_response_bytes = \"lots\"",
            "oomnitza.max_response_bytes",
        ),
        ("max_response_bytes = 0", "oomnitza.max_response_bytes"),
        ("max_response_bytes = -5", "oomnitza.max_response_bytes"),
        ("max_response_bytes = 1.5", "oomnitza.max_response_bytes"),
        ("max_pages = 0", "oomnitza.max_pages"),
    ] {
        let text = MINIMAL.replace(
            "credential = \"oomnitza\"",
            &format!("credential = \"oomnitza\"\n{line}"),
        );
        let e = only(&text);
        assert_eq!(e.key.as_deref(), Some(key), "{line}: {e}");
    }
}
