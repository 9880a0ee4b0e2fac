//! One runtime error type: each error's exit code and stable kind.

use std::path::PathBuf;

use sync_engine::{ConnectorError, ErrorKind};
use sync_runtime::credentials::StoreError;
use sync_runtime::{ConfigError, RuntimeError, StateError, exit};

fn config_error() -> ConfigError {
    ConfigError {
        file: PathBuf::from("x.toml"),
        position: Some((3, 1)),
        key: Some("run.batch_size".into()),
        message: "must be between 1 and 1000".into(),
    }
}

#[test]
fn every_error_has_its_exit_code_and_kind() {
    let cases: Vec<(RuntimeError, u8, &str)> = vec![
        (config_error().into(), exit::USAGE, "config"),
        (
            RuntimeError::Usage("--every/--at: bad".into()),
            exit::USAGE,
            "usage",
        ),
        (
            RuntimeError::PlanFile {
                path: "p.json".into(),
                message: "not a valid plan".into(),
            },
            exit::USAGE,
            "plan-file",
        ),
        (
            StateError::NoSuchSession("0192".into()).into(),
            exit::USAGE,
            "no-such-session",
        ),
        (
            StateError::Locked {
                integration: "Directory users".into(),
                path: "locks/directory-users.lock".into(),
                holder: "process 7".into(),
            }
            .into(),
            exit::FAILURE,
            "locked",
        ),
        (
            StoreError::Exists {
                name: "crm".into(),
                command: "acme-sync",
            }
            .into(),
            exit::USAGE,
            "credential-usage",
        ),
        (
            StoreError::NoPassphrase {
                path: "credentials.enc".into(),
                var: "ACME_SYNC_PASSPHRASE".into(),
            }
            .into(),
            exit::USAGE,
            "credential-usage",
        ),
        (
            ConnectorError::new(ErrorKind::Auth, "401 token rejected").into(),
            exit::FAILURE,
            "connector-auth",
        ),
        (
            ConnectorError::new(ErrorKind::Config, "field missing").into(),
            exit::USAGE,
            "connector-config",
        ),
    ];
    for (error, code, kind) in cases {
        assert_eq!(error.exit_code(), code, "{error}");
        assert_eq!(error.kind(), kind, "{error}");
    }
}

#[test]
fn messages_name_the_application_they_belong_to() {
    let e = RuntimeError::from(StoreError::Exists {
        name: "crm".into(),
        command: "acme-sync",
    });
    assert_eq!(
        e.to_string(),
        "a credential named \"crm\" is already stored: change its secret with `acme-sync \
         credentials rotate crm`, or remove it first"
    );
    let e = RuntimeError::from(StoreError::NoPassphrase {
        path: "/s/credentials.enc".into(),
        var: "ACME_SYNC_PASSPHRASE".into(),
    });
    assert!(e.to_string().contains("set ACME_SYNC_PASSPHRASE"), "{e}");
}
