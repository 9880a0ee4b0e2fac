//! `quip-oomnitza demo`: the whole story, exit 0.

use crate::support::Cli;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_tells_the_whole_story_and_exits_zero() {
    let out = Cli::new(["demo"]).run().await;
    out.expect_code(0);
    let text = &out.stdout;
    // Every step, in order.
    let steps = [
        "── 1. validate",
        "── 2. plan (dry run",
        "── 3. first sync",
        "── 4. re-sync with nothing changed",
        "is disabled in Quip",
        "comes back",
        "── 7. a mass removal",
        "── 8. seat usage",
        "Demo finished.",
    ];
    let mut from = 0;
    for step in steps {
        let at = text[from..]
            .find(step)
            .unwrap_or_else(|| panic!("step {step:?} missing or out of order:\n{text}"));
        from += at + step.len();
    }
    let section = |n: usize| -> &str {
        let start = text
            .find(&format!("── {n}. "))
            .unwrap_or_else(|| panic!("section {n}:\n{text}"));
        let body = start + "──".len();
        let end = text[body..].find("\n── ").map_or(text.len(), |e| body + e);
        &text[start..end]
    };
    // 1. validate: the Quip token and the Oomnitza fields of both collections.
    let validate = section(1);
    assert!(validate.contains("✓ Quip: token accepted"), "{validate}");
    assert!(
        validate.contains("sync key quip_user_id is unique"),
        "{validate}"
    );
    assert!(validate.contains("Oomnitza saas_users"), "{validate}");
    // 2. plan: a dry run that wrote nothing.
    let plan = section(2);
    assert!(plan.contains("status: succeeded, dry run"), "{plan}");
    assert!(plan.contains("writes sent to Oomnitza: 0"), "{plan}");
    // 3. first sync: people and seats, some with admin roles and last activity.
    let first = section(3);
    assert!(first.contains("status: succeeded"), "{first}");
    let seats_line = first
        .lines()
        .find(|l| l.contains("Oomnitza now has"))
        .unwrap_or_else(|| panic!("{first}"));
    let numbers: Vec<u64> = seats_line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 4, "{seats_line}");
    assert!(numbers.iter().all(|&n| n > 0), "{seats_line}");
    // 4. unchanged re-sync: zero writes, nothing created/updated.
    let resync = section(4);
    assert!(resync.contains("writes sent to Oomnitza: 0"), "{resync}");
    assert!(resync.contains("created    0  updated    0"), "{resync}");
    // 5. a disabled user deactivated (person and seat); 6. reactivated.
    assert!(section(5).contains("deactivated   1"), "{}", section(5));
    assert!(section(6).contains("reactivated   1"), "{}", section(6));
    // 7. mass removal held, no deactivation written.
    let held = section(7);
    assert!(held.contains("status: held"), "{held}");
    assert!(held.contains("held deactivations:"), "{held}");
    assert!(held.contains("deactivation writes sent: 0"), "{held}");
    assert!(held.contains("exit code would be 3"), "{held}");
    // 8. seat usage of the synced app: priced from the emulated contract (120 a seat).
    let usage = section(8);
    assert!(usage.contains("Seat usage of Quip"), "{usage}");
    assert!(usage.contains("Price per seat: 120.00 a year"), "{usage}");
    assert!(usage.contains("Idle seats ("), "{usage}");
    assert!(usage.contains("Estimated annual saving:"), "{usage}");
    assert!(out.stderr.trim().is_empty(), "no warnings: {}", out.stderr);
}

#[test]
fn readme_first_command_is_the_demo() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
    )
    .expect("the project README");
    let first_block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a shell block in the README");
    assert_eq!(first_block.trim(), "cargo run -p quip-oomnitza -- demo");
}
