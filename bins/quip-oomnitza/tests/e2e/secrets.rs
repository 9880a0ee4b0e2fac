//! A canary token passed through the environment appears nowhere: not on stdout or stderr
//! (verbose JSON logs included), not in the plan file, the session files or the report.

use api_sandbox::QuipConfig;

use crate::support::{Harness, Output, count, files_under, sandbox_config};

const QUIP_CANARY: &str = "CANARY-quip-7b1e94d2c0a5f38e";
const OOMNITZA_CANARY: &str = "CANARY-oomnitza-52f0c9a8d1e7b364";

fn assert_clean(what: &str, text: &str) {
    for canary in [QUIP_CANARY, OOMNITZA_CANARY] {
        assert!(
            !text.contains(canary),
            "{what} leaks the token {canary}:\n{text}"
        );
        // Nor a recognisable part of it.
        assert!(
            !text.contains(&canary[7..]),
            "{what} leaks part of {canary}"
        );
    }
}

fn assert_output_clean(what: &str, out: &Output) {
    assert_clean(&format!("{what} stdout"), &out.stdout);
    assert_clean(&format!("{what} stderr"), &out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_tokens_never_leak() {
    let mut config = sandbox_config(40, 8);
    config.quip = QuipConfig {
        token: QUIP_CANARY.to_owned(),
        ..config.quip
    };
    config.oomnitza.token = OOMNITZA_CANARY.to_owned();
    let h = Harness::start_with(config).await;
    assert_eq!(h.sandbox.quip.token(), QUIP_CANARY);
    let config = h.saas_config();
    let plan = h.path("plan.json");

    let out = h
        .cli(["validate", "-v", "--log-format", "json", "--config"])
        .arg(&config)
        .run()
        .await;
    out.expect_code(0);
    assert_output_clean("validate", &out);

    let out = h
        .cli(["plan", "-v", "--log-format", "json", "--json", "--out"])
        .arg(&plan)
        .arg("--config")
        .arg(&config)
        .run()
        .await;
    out.expect_code(0);
    assert!(
        out.stderr.lines().count() > 3,
        "verbose logs were written: {}",
        out.stderr
    );
    for line in out.stderr.lines() {
        let _: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("--log-format json: {e}: {line}"));
    }
    assert_output_clean("plan", &out);
    let plan_text = std::fs::read_to_string(&plan).expect("the plan file");
    assert!(plan_text.contains("\"collections\""), "a real plan");
    assert_clean("plan file", &plan_text);

    let out = h
        .cli(["run", "-v", "--log-format", "json", "--json", "--config"])
        .arg(&config)
        .run()
        .await;
    out.expect_code(0);
    assert!(
        count(&out.json(), "counts", "created") > 0,
        "the tokens worked"
    );
    assert_output_clean("run", &out);

    // The most verbose level, human logs.
    let out = h.cli(["run", "-vv", "--config"]).arg(&config).run().await;
    out.expect_code(0);
    assert!(
        out.stderr.contains("TRACE") || out.stderr.contains("DEBUG"),
        "trace logs"
    );
    assert_output_clean("run -vv", &out);

    // A failed run's report and logs (wrong Oomnitza token: the canary is in its 401's
    // request, not in any answer).
    let out = h
        .cli(["run", "-v", "--json", "--config"])
        .arg(&config)
        .env(crate::support::OOMNITZA_VAR, format!("{OOMNITZA_CANARY}-x"))
        .run()
        .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_output_clean("failed run", &out);

    let files = files_under(&h.state_dir());
    assert!(
        files
            .iter()
            .filter(|f| f.starts_with(h.state_dir().join("sessions")))
            .count()
            >= 4,
        "{files:?}"
    );
    for file in files {
        let bytes = std::fs::read(&file).expect("read a state file");
        assert_clean(
            &file.display().to_string(),
            &String::from_utf8_lossy(&bytes),
        );
    }
}
