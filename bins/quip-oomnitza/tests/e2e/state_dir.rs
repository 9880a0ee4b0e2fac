//! The local state directory as a careless admin or another local user may leave it
//! (issue 19 item 7, issue 10 item 5): a planted symbolic link, a directory of someone
//! else, a lock held by a live process, a directory that stops being writable mid-run.

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use api_sandbox::faults::{Fault, FaultRule};

use crate::support::{Harness, active_humans};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_file_that_is_a_symlink_is_not_followed() {
    let h = Harness::start(10, 51).await;
    let config = h.saas_config();
    let locks = h.state_dir().join("locks");
    std::fs::create_dir_all(&locks).expect("locks directory");
    let victim = h.write("victim.txt", "precious\n");
    std::os::unix::fs::symlink(&victim, locks.join("e2e-users.lock")).expect("symlink");
    for command in ["run", "plan"] {
        let out = h
            .cli([command, "--json", "--config"])
            .arg(&config)
            .run()
            .await;
        out.expect_code(1);
        assert!(
            out.stderr.contains("e2e-users.lock is a symbolic link"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious\n",
        "the link's target is untouched"
    );
    assert_eq!(h.oomnitza_writes(), 0, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_directory_of_another_user_is_refused_and_left_alone() {
    let h = Harness::start(10, 52).await;
    let config = h.saas_config();
    let dir = h.state_dir();
    std::fs::create_dir(&dir).expect("state directory");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    if let Err(e) = std::os::unix::fs::chown(&dir, Some(65534), Some(65534)) {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipped: cannot chown a directory to uid 65534 here ({e})");
        }
        return;
    }
    for args in [vec!["run", "--json", "--config"], vec!["plan", "--config"]] {
        let out = h.cli(args).arg(&config).run().await;
        out.expect_code(1);
        assert!(
            out.stderr.contains(&format!(
                "state directory {} is owned by uid 65534",
                dir.display()
            )),
            "{}",
            out.stderr
        );
    }
    let meta = std::fs::metadata(&dir).expect("still there");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o755, "mode unchanged");
    assert_eq!(
        std::fs::read_dir(&dir).expect("list").count(),
        0,
        "nothing created inside"
    );
    assert_eq!(h.sandbox.quip.counters().total(), 0, "nothing read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_directory_that_cannot_be_written_mid_run_fails_with_a_report() {
    let h = Harness::start(40, 53).await;
    let config = h.config(
        "config.toml",
        "",
        "[run]\nbatch_size = 1\nconcurrency = 1\n",
    );
    h.cli(["run", "--json", "--config"])
        .arg(&config)
        .run()
        .await
        .expect_code(0);
    let people = h.quip_people();
    let leavers: Vec<String> = active_humans(&people)
        .iter()
        .take(8)
        .map(|p| p.quip_id.clone())
        .collect();
    for k in &leavers {
        h.sandbox.quip.state().set_disabled(k, true);
    }
    h.sandbox.oomnitza.faults().inject(FaultRule::new(
        http::Method::PATCH,
        "/api/v3/users/{ident}",
        Fault::Latency(Duration::from_millis(300)),
    ));
    let running = h
        .cli(["run", "--json", "--allow-deactivations", "--config"])
        .arg(&config)
        .spawn();
    // Once the first deactivation reached Oomnitza, the ledger directory disappears.
    let first = async {
        while h
            .sandbox
            .oomnitza
            .counters()
            .count("PATCH", "/api/v3/users/{ident}")
            == 0
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), first)
        .await
        .expect("a deactivation is sent");
    let ledger = h.state_dir().join("ledger");
    // Renamed away in one step: removing it file by file races with the run's own
    // writes into it (a file created between the listing and the rmdir).
    let gone = h.state_dir().join("ledger-gone");
    std::fs::rename(&ledger, &gone).expect("move the ledger directory away");
    let out = running.finish().await;
    out.expect_code(1);
    let report = out.json();
    assert_eq!(report["status"], "failed", "{report:#}");
    let fatal = report["fatal"].as_str().expect("fatal");
    assert!(
        fatal.contains(&ledger.display().to_string()),
        "names the path: {fatal}"
    );
    let sent = h
        .sandbox
        .oomnitza
        .counters()
        .count("PATCH", "/api/v3/users/{ident}");
    assert!(
        sent < leavers.len() as u64,
        "no batch sent once its intent could not be recorded: {sent}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_locked_out_by_a_live_process_prints_a_failed_report() {
    let h = Harness::start(10, 54).await;
    let config = h.saas_config();
    let locks = h.state_dir().join("locks");
    std::fs::create_dir_all(&locks).expect("locks directory");
    let path = locks.join("e2e-users.lock");
    let mut lock = std::fs::File::create(&path).expect("lock file");
    lock.try_lock().expect("take the lock");
    let pid = std::process::id();
    std::io::Write::write_all(&mut lock, format!("pid {pid}\n").as_bytes()).expect("write pid");
    for command in ["run", "plan"] {
        let out = h
            .cli([command, "--json", "--config"])
            .arg(&config)
            .run()
            .await;
        out.expect_code(1);
        let report = out.json();
        assert_eq!(report["status"], "failed", "{report:#}");
        let fatal = report["fatal"].as_str().expect("fatal");
        assert!(
            fatal.contains(&format!("live process pid {pid}")),
            "{fatal}"
        );
        assert!(
            fatal.contains("deleting the file is not the fix"),
            "{fatal}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&path).expect("lock file"),
        format!("pid {pid}\n"),
        "the holder's lock file is not truncated"
    );
    assert_eq!(h.sandbox.quip.counters().total(), 0, "nothing read");
}
