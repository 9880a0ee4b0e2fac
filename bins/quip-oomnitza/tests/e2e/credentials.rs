//! `credentials add|list|remove|rotate` round trip on the encrypted local file, and
//! configurations naming stored credentials.

use api_sandbox::QuipConfig;

use crate::support::{Cli, Harness, OOMNITZA_VAR, Output, QUIP_VAR, sandbox_config};

const PASSPHRASE_VAR: &str = "QUIP_OOMNITZA_PASSPHRASE";
const PASSPHRASE: &str = "correct horse battery staple";
const QUIP_SECRET: &str = "stored-quip-secret-5d2c81";
const OOMNITZA_SECRET: &str = "stored-oomnitza-secret-9e4a07";

struct Store<'a> {
    h: &'a Harness,
    passphrase: String,
}

impl Store<'_> {
    /// A command with the passphrase set and no token variables: only the store counts.
    fn cli<const N: usize>(&self, args: [&str; N]) -> Cli {
        self.h
            .cli(args)
            .env_remove(QUIP_VAR)
            .env_remove(OOMNITZA_VAR)
            .env(PASSPHRASE_VAR, &self.passphrase)
    }
}

fn assert_no_secret(out: &Output) {
    for secret in [QUIP_SECRET, OOMNITZA_SECRET] {
        assert!(
            !out.stdout.contains(secret),
            "stdout shows a secret: {}",
            out.stdout
        );
        assert!(
            !out.stderr.contains(secret),
            "stderr shows a secret: {}",
            out.stderr
        );
    }
}

async fn ok(cli: Cli) -> Output {
    let out = cli.run().await;
    out.expect_code(0);
    assert_no_secret(&out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_round_trip_and_stored_credentials_in_a_config() {
    let mut config = sandbox_config(20, 31);
    config.quip = QuipConfig {
        token: QUIP_SECRET.to_owned(),
        ..config.quip
    };
    config.oomnitza.token = OOMNITZA_SECRET.to_owned();
    let h = Harness::start_with(config).await;
    let store = Store {
        h: &h,
        passphrase: PASSPHRASE.to_owned(),
    };
    let config = h.write(
        "stored.toml",
        &h.config_text_with_quip(r#"mode = "users_and_saas""#, "", "")
            .replace(
                &format!("credential = {{ env = \"{QUIP_VAR}\" }}"),
                "credential = \"e2e-quip\"",
            )
            .replace(
                &format!("credential = {{ env = \"{OOMNITZA_VAR}\" }}"),
                "credential = \"e2e-oomnitza\"",
            ),
    );

    let out = ok(store.cli(["credentials", "list"])).await;
    assert_eq!(out.stdout.trim(), "no stored credentials");

    // Add: the Quip token on stdin, the Oomnitza token from a variable.
    let out = ok(store
        .cli(["credentials", "add", "e2e-quip", "--kind", "quip"])
        .stdin(format!("{QUIP_SECRET}\n")))
    .await;
    assert!(
        out.stdout.starts_with("stored e2e-quip: "),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Authorization"), "{}", out.stdout);
    let out = ok(store
        .cli([
            "credentials",
            "add",
            "e2e-oomnitza",
            "--kind",
            "oomnitza",
            "--from-env",
            "E2E_SECRET_SOURCE",
        ])
        .env("E2E_SECRET_SOURCE", OOMNITZA_SECRET))
    .await;
    assert!(out.stdout.contains("Authorization2"), "{}", out.stdout);

    let out = ok(store.cli(["credentials", "list"])).await;
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(
        lines.iter().any(|l| l.starts_with("e2e-quip: ")),
        "{}",
        out.stdout
    );
    assert!(
        lines.iter().any(|l| l.starts_with("e2e-oomnitza: ")),
        "{}",
        out.stdout
    );
    let out = ok(store.cli(["credentials", "list", "--json"])).await;
    let list = out.json();
    let mut names: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|m| m["name"].as_str().expect("name"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["e2e-oomnitza", "e2e-quip"]);

    // The file on disk is encrypted.
    let file = std::fs::read(h.state_dir().join("credentials.enc")).expect("credential file");
    let text = String::from_utf8_lossy(&file);
    assert!(!text.contains(QUIP_SECRET) && !text.contains(OOMNITZA_SECRET));

    // A configuration naming them works, for validate and run.
    let out = ok(store.cli(["validate", "--config"]).arg(&config)).await;
    assert!(
        out.stdout.contains("✓ Quip: token accepted"),
        "{}",
        out.stdout
    );
    let out = ok(store.cli(["run", "--json", "--config"]).arg(&config)).await;
    assert_eq!(out.json()["status"], "succeeded");

    // Rotate to a wrong secret: Quip refuses it (so rotation took effect) ...
    ok(store
        .cli(["credentials", "rotate", "e2e-quip"])
        .stdin("not-the-token\n"))
    .await;
    let out = store.cli(["validate", "--config"]).arg(&config).run().await;
    out.expect_code(1);
    assert!(out.stderr.contains("401"), "{}", out.stderr);
    // ... and back.
    ok(store
        .cli(["credentials", "rotate", "e2e-quip"])
        .stdin(QUIP_SECRET))
    .await;
    ok(store.cli(["validate", "--config"]).arg(&config)).await;

    // A new passphrase: the old one no longer opens the file.
    ok(store
        .cli(["credentials", "rotate", "--passphrase"])
        .env("QUIP_OOMNITZA_NEW_PASSPHRASE", "a brand new passphrase"))
    .await;
    let out = store.cli(["validate", "--config"]).arg(&config).run().await;
    assert_ne!(out.code, 0, "the old passphrase is refused");
    let store = Store {
        h: &h,
        passphrase: "a brand new passphrase".to_owned(),
    };
    ok(store.cli(["validate", "--config"]).arg(&config)).await;

    // Without any passphrase the stored credential cannot be found: configuration error.
    let out = store
        .cli(["validate", "--config"])
        .arg(&config)
        .env_remove(PASSPHRASE_VAR)
        .run()
        .await;
    out.expect_code(2);
    assert!(out.stderr.contains("quip.credential"), "{}", out.stderr);
    assert!(out.stderr.contains("e2e-quip"), "{}", out.stderr);

    // Remove: gone from the list, and the configuration now fails with exit 2.
    let out = ok(store.cli(["credentials", "remove", "e2e-quip"])).await;
    assert!(
        out.stdout.contains("removed credential \"e2e-quip\""),
        "{}",
        out.stdout
    );
    let out = ok(store.cli(["credentials", "list"])).await;
    assert!(!out.stdout.contains("e2e-quip"), "{}", out.stdout);
    assert!(out.stdout.contains("e2e-oomnitza"), "{}", out.stdout);
    let out = store.cli(["validate", "--config"]).arg(&config).run().await;
    out.expect_code(2);
    assert!(out.stderr.contains("stored.toml:"), "{}", out.stderr);
    assert!(out.stderr.contains("quip.credential"), "{}", out.stderr);
    assert!(
        out.stderr.contains("no credential named \"e2e-quip\""),
        "{}",
        out.stderr
    );
    assert_no_secret(&out);
}
