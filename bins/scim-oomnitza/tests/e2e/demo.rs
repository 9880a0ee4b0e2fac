//! `scim-oomnitza demo`: the Quip demo's story for a SCIM application, exit 0.

use crate::support::Cli;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_tells_the_whole_story_and_exits_zero() {
    let out = Cli::new(["demo"]).run().await;
    out.expect_code(0);
    let text = &out.stdout;
    let steps = [
        "scim-oomnitza demo: a SCIM company of 300 people",
        "── 1. validate",
        "── 2. plan (dry run",
        "── 3. first sync: people, and SaaS users of the Slack app",
        "── 4. re-sync with nothing changed",
        "is disabled in SCIM",
        "comes back",
        "── 7. a mass removal (40% of SCIM users vanish)",
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
        let start = text.find(&format!("── {n}. ")).expect("section");
        let body = start + "──".len();
        let end = text[body..].find("\n── ").map_or(text.len(), |e| body + e);
        &text[start..end]
    };
    let validate = section(1);
    assert!(
        validate.contains("✓ SCIM: credential accepted"),
        "{validate}"
    );
    assert!(
        validate.contains("sync key scim_user_id is unique"),
        "{validate}"
    );
    assert!(
        section(2).contains("writes sent to Oomnitza: 0"),
        "{}",
        section(2)
    );
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
    let resync = section(4);
    assert!(resync.contains("writes sent to Oomnitza: 0"), "{resync}");
    assert!(resync.contains("created    0  updated    0"), "{resync}");
    assert!(section(5).contains("deactivated   1"), "{}", section(5));
    assert!(section(6).contains("reactivated   1"), "{}", section(6));
    let held = section(7);
    assert!(held.contains("status: held"), "{held}");
    assert!(held.contains("deactivation writes sent: 0"), "{held}");
    assert!(held.contains("exit code would be 3"), "{held}");
    let usage = section(8);
    assert!(usage.contains("Seat usage of Slack"), "{usage}");
    assert!(usage.contains("Price per seat: 120.00 a year"), "{usage}");
    assert!(usage.contains("Idle seats ("), "{usage}");
    assert!(out.stderr.trim().is_empty(), "no warnings: {}", out.stderr);
}
