//! The configuration contract: `saas_name` required, plain http refused, bad usage exit 2
//! before any request; `validate` names the credential and the sync-key field.

use crate::support::{Cli, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_checks_the_credential_and_the_sync_key_field() {
    let h = Harness::start(30, 41).await;
    let out = h.cli(["validate", "--config"]).arg(h.config()).run().await;
    out.expect_code(0);
    assert!(
        out.stdout.contains("✓ SCIM: credential accepted at"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("(30 users)"), "{}", out.stdout);
    assert!(out.stdout.contains("scim_user_id"), "{}", out.stdout);
    assert_eq!(h.oomnitza_writes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_exit_2_before_any_request() {
    let h = Harness::start(20, 42).await;
    let standard = h.config_text("", "");
    let cases = [
        (
            standard.replace(r#"saas_name = "Slack""#, ""),
            "oomnitza.saas_name",
        ),
        (
            standard.replace(&h.scim.base_url(), "http://scim.example.com/scim/v2"),
            "plain http://",
        ),
        (
            standard.replace("timeout = \"5s\"", "page_size = 0"),
            "scim.page_size",
        ),
        (
            standard.replace("timeout = \"5s\"", "colour = \"red\""),
            "colour",
        ),
        (
            standard.replace(&format!("base_url = \"{}\"", h.scim.base_url()), ""),
            "scim.base_url",
        ),
    ];
    for (i, (text, wanted)) in cases.iter().enumerate() {
        let path = h.write(&format!("bad{i}.toml"), text);
        let out = h.cli(["plan", "--config"]).arg(&path).run().await;
        out.expect_code(2);
        assert!(out.stderr.contains(wanted), "{wanted}:\n{}", out.stderr);
        assert!(
            out.stderr.contains(&format!("bad{i}.toml")),
            "{}",
            out.stderr
        );
    }
    assert_eq!(h.scim.counters().total(), 0);
    assert_eq!(h.oomnitza.counters().total(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_is_the_same_as_quip_oomnitza() {
    let out = Cli::new(["--help"]).run().await;
    out.expect_code(0);
    for command in [
        "demo",
        "sandbox",
        "validate",
        "plan",
        "run",
        "seats",
        "credentials",
        "sessions",
    ] {
        assert!(out.stdout.contains(command), "{command} in --help");
    }
    assert!(
        out.stdout.contains("SCIM_OOMNITZA_STATE_DIR"),
        "{}",
        out.stdout
    );
    let out = Cli::new(["--version"]).run().await;
    assert!(out.stdout.starts_with("scim-oomnitza "), "{}", out.stdout);
    let out = Cli::new(["credentials", "add", "--help"]).run().await;
    assert!(out.stdout.contains("scim:"), "{}", out.stdout);
    for args in [
        vec!["frobnicate"],
        vec!["run"],
        vec!["sandbox", "--port-quip", "1"],
    ] {
        let out = Cli::new(args.clone()).run().await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
    }
}
