//! Messages people read: configuration errors (exit 2, naming the place, before any
//! request) and the human summary of a run, as insta snapshots.

use crate::support::{Harness, Output, QUIP_VAR};

/// Redactions: temporary paths, ids, durations, ports.
fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.add_filter(r"(?:/[^/\s:]+)*/\.tmp[A-Za-z0-9_]+", "[TMP]");
    s.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[SESSION_ID]",
    );
    s.add_filter(r"took \d+\.\d+ s", "took [DURATION]");
    s.add_filter(r"\(id [^)]+\)", "(id [ID])");
    s.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    s
}

/// Writes an error-case configuration as `NAME.toml`.
fn bad_config(h: &Harness, name: &str, text: &str) -> std::path::PathBuf {
    h.write(&format!("{name}.toml"), text)
}

/// Runs `run`, `plan` and `validate` with the configuration: each exits 2 with the same
/// message on stderr, nothing on stdout for `run`/`plan`, and no request reaches either
/// emulator. Returns the `run` output.
async fn rejected(h: &Harness, config: &std::path::Path, unset_quip_var: bool) -> Output {
    let mut first: Option<Output> = None;
    for command in ["run", "plan", "validate"] {
        let mut cli = h.cli([command, "--config"]).arg(config);
        if unset_quip_var {
            cli = cli.env_remove(QUIP_VAR);
        }
        let out = cli.run().await;
        out.expect_code(2);
        if command != "validate" {
            assert_eq!(out.stdout, "", "{command}: nothing on stdout");
        }
        match &first {
            None => first = Some(out),
            Some(f) => assert_eq!(out.stderr, f.stderr, "{command}: same message"),
        }
    }
    assert_eq!(h.sandbox.quip.counters().total(), 0, "no request to Quip");
    assert_eq!(
        h.sandbox.oomnitza.counters().total(),
        0,
        "no request to Oomnitza"
    );
    first.expect("three runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_exit_2_and_name_the_place() {
    let h = Harness::start(20, 1).await;
    let quip = h.sandbox.quip.base_url();
    let oomnitza = h.sandbox.oomnitza.base_url();
    let good_tail = format!(
        "[quip]\nbase_url = \"{quip}\"\nscim_url = \"{quip}\"\ncredential = {{ env = \"{QUIP_VAR}\" }}\n\n\
         [oomnitza]\nbase_url = \"{oomnitza}\"\ncredential = {{ env = \"E2E_OOMNITZA_TOKEN\" }}\n"
    );
    let cases: Vec<(&str, String, bool)> = vec![
        (
            "unknown_key",
            format!("[integration]\nname = \"E2E\"\nnmae = \"typo\"\n\n{good_tail}"),
            false,
        ),
        (
            "wrong_type",
            format!("[integration.deactivate]\nmax_count = \"fifty\"\n\n{good_tail}"),
            false,
        ),
        (
            "unknown_mode",
            format!("[integration]\nmode = \"everything\"\n\n{good_tail}"),
            false,
        ),
        (
            "broken_template",
            format!(
                "{good_tail}\n[mapping.users.fields]\nusername = \"{{{{ email }}}}\"\nfull_name = \"{{{{ name \"\n"
            ),
            false,
        ),
        ("missing_credential_env", h.config_text("", ""), true),
        (
            "missing_stored_credential",
            h.config_text("", "").replace(
                &format!("credential = {{ env = \"{QUIP_VAR}\" }}"),
                "credential = \"quip-e2e-nowhere\"",
            ),
            false,
        ),
        (
            "missing_required_key",
            format!(
                "[quip]\nbase_url = \"{quip}\"\ncredential = {{ env = \"{QUIP_VAR}\" }}\n\n\
                 [oomnitza]\ncredential = {{ env = \"E2E_OOMNITZA_TOKEN\" }}\n"
            ),
            false,
        ),
    ];
    for (name, text, unset) in cases {
        let config = bad_config(&h, name, &text);
        let out = rejected(&h, &config, unset).await;
        let file = format!("{name}.toml:");
        assert!(
            out.stderr.contains(&file),
            "{name}: names the file: {}",
            out.stderr
        );
        settings().bind(|| insta::assert_snapshot!(name, out.stderr));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_summary_of_runs() {
    let h = Harness::start(30, 5).await;
    // One write at a time: Oomnitza then lists People in a fixed creation order, and the
    // held list follows that order (with concurrent writes it varies from run to run).
    let config = h.config(
        "summary.toml",
        r#"mode = "users_and_saas""#,
        "concurrency = 1\n\n[run]\nconcurrency = 1",
    );
    let out = h.cli(["run", "--config"]).arg(&config).run().await;
    out.expect_code(0);
    assert_eq!(out.stderr, "", "no warnings");
    settings().bind(|| insta::assert_snapshot!("summary_first_sync", out.stdout));

    // Nothing changed.
    let out = h.cli(["run", "--config"]).arg(&config).run().await;
    out.expect_code(0);
    settings().bind(|| insta::assert_snapshot!("summary_unchanged", out.stdout));

    // Half the company vanishes: held.
    let quip = h.sandbox.quip.state();
    for p in quip.people().iter().step_by(2) {
        quip.remove_person(&p.quip_id);
    }
    let out = h.cli(["run", "--config"]).arg(&config).run().await;
    out.expect_code(3);
    settings().bind(|| insta::assert_snapshot!("summary_held", out.stdout));
}
