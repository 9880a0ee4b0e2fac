//! An incomplete listing and a refused credential: the run fails before any write, and no
//! secret is ever printed or stored.

use api_sandbox::scim::ScimConfig;
use api_sandbox::{Fault, FaultRule};
use http::Method;

use crate::support::{Harness, files_under};

const USERS: &str = "/scim/v2/Users";

/// After a first sync, one user leaves (a deactivation is due) and the next listing
/// misbehaves with `fault` on its second page: the read fails, nothing is written, and the
/// leaver stays active.
async fn faulty_listing_writes_nothing(fault: Fault) {
    let h = Harness::start(250, 31).await;
    h.run().await.expect_code(0);
    let users = h.scim_users();
    let leaver = crate::support::active_humans(&users)[0].id.clone();
    h.scim.state().remove_user(&leaver);
    h.scim
        .faults()
        .inject(FaultRule::new(Method::GET, USERS, fault).after(1).times(1));
    let writes = h.oomnitza_writes();
    let out = h.run().await;
    out.expect_code(1);
    let report = out.json();
    assert_eq!(report["status"], "failed", "{report:#}");
    let fatal = report["fatal"].as_str().expect("fatal names the cause");
    assert!(fatal.contains("the listing is incomplete"), "{fatal}");
    assert_eq!(report["counts"]["deactivated"], 0);
    assert_eq!(h.scim.faults().fired(USERS), 1);
    assert_eq!(h.oomnitza_writes(), writes, "nothing written");
    assert_eq!(h.person(&leaver)["suspended"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_page_fails_the_read_before_any_write() {
    faulty_listing_writes_nothing(Fault::SkipPage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_page_fails_the_read_before_any_write() {
    faulty_listing_writes_nothing(Fault::RepeatPage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_exits_1_with_zero_writes() {
    let h = Harness::start(40, 32).await;
    let out = h
        .cli(["run", "--json", "--config"])
        .arg(h.config())
        .env(crate::support::SCIM_VAR, "not-the-token")
        .run()
        .await;
    out.expect_code(1);
    let report = out.json();
    assert_eq!(report["status"], "failed", "{report:#}");
    assert!(
        report["fatal"].as_str().is_some_and(|f| f.contains("401")),
        "{report:#}"
    );
    assert_eq!(h.oomnitza_writes(), 0);
    assert_eq!(h.oomnitza.state().people_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_token_is_never_printed_or_stored() {
    const CANARY: &str = "CANARY-scim-7f3a91c2d4";
    let config = ScimConfig {
        token: CANARY.to_owned(),
        ..ScimConfig::default()
    };
    let h = Harness::start_with(60, 33, config).await;
    let path = h.config();
    let mut outputs = Vec::new();
    for args in [
        vec!["-vv", "validate", "--config"],
        vec!["-vv", "plan", "--json", "--config"],
        vec!["-vv", "run", "--json", "--config"],
        vec!["-vv", "run", "--config"],
    ] {
        let out = h.cli(args).arg(&path).run().await;
        out.expect_code(0);
        outputs.push(out);
    }
    // Refused: the server echoes nothing, but the wrong canary must not leak either.
    let wrong = format!("{CANARY}-wrong");
    let out = h
        .cli(["-vv", "run", "--json", "--config"])
        .arg(&path)
        .env(crate::support::SCIM_VAR, &wrong)
        .run()
        .await;
    out.expect_code(1);
    outputs.push(out);
    for out in &outputs {
        for text in [&out.stdout, &out.stderr] {
            assert!(!text.contains(CANARY), "canary printed:\n{text}");
        }
    }
    assert!(outputs[0].stderr.contains("scim"), "trace logs were on");
    for file in files_under(&h.state_dir()) {
        let bytes = std::fs::read(&file).expect("read a state file");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(CANARY), "canary in {}", file.display());
    }
}
