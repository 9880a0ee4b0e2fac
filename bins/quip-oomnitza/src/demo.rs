//! `quip-oomnitza demo`: the whole story against the built-in emulators, in seconds.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use api_sandbox::{Sandbox, SandboxConfig};
use quip_oomnitza_pairing::PAIRING;
use secrecy::SecretString;
use sync_engine::SessionReport;
use sync_runtime::credentials::Secret;
use sync_runtime::{Config, RunOptions, StateDir};
use sync_runtime::{Secrets, SectionSecrets};

use crate::cli::DemoArgs;
use crate::commands::Context;
use crate::exit;

/// Prints to stdout.
#[allow(clippy::print_stdout)]
fn say(text: &str) {
    println!("{text}");
}

fn heading(n: u32, title: &str) {
    say(&format!(
        "\n── {n}. {title} {}",
        "─".repeat(60usize.saturating_sub(title.len()))
    ));
}

fn counts_line(label: &str, c: &sync_engine::Counts) -> String {
    format!(
        "{label:<11} created {:>4}  updated {:>4}  deactivated {:>3}  reactivated {:>3}  unchanged {:>4}  skipped {:>3}  failed {:>2}",
        c.created, c.updated, c.deactivated, c.reactivated, c.unchanged, c.skipped, c.failed
    )
}

fn summary(report: &SessionReport) -> String {
    let mut s = String::new();
    let dry = if report.dry_run { ", dry run" } else { "" };
    let _ = writeln!(s, "   status: {}{dry}", report.status.as_str());
    let _ = writeln!(s, "   {}", counts_line("people", &report.counts));
    if let Some(saas) = &report.saas_counts {
        let _ = writeln!(s, "   {}", counts_line("saas users", saas));
    }
    if !report.held_deactivations.is_empty() {
        let _ = writeln!(
            s,
            "   held deactivations: {} (need --allow-deactivations)",
            report.held_deactivations.len()
        );
    }
    for w in &report.warnings {
        let _ = writeln!(s, "   note: {w}");
    }
    let calls: Vec<String> = report
        .api_calls
        .iter()
        .map(|(system, n)| format!("{system} {n}"))
        .collect();
    let _ = write!(s, "   API calls: {}", calls.join(", "));
    s
}

fn demo_config(sandbox: &Sandbox) -> String {
    format!(
        r#"[integration]
name = "Quip users (demo)"
mode = "users_and_saas"

[integration.deactivate]
max_count = 50
max_percent = 10

[quip]
base_url = "{quip}"
scim_url = "{quip}"
credential = {{ env = "DEMO_QUIP_TOKEN" }}
# The demo company's logins go back a long way; a real tenant keeps the 90-day default.
events_lookback = "3650d"

[oomnitza]
base_url = "{oomnitza}"
credential = {{ env = "DEMO_OOMNITZA_TOKEN" }}
saas_name = "Quip"
"#,
        quip = sandbox.quip.base_url(),
        oomnitza = sandbox.oomnitza.base_url(),
    )
}

/// Runs the demo.
pub async fn run(_ctx: &Context, args: &DemoArgs) -> anyhow::Result<u8> {
    let users = args.users as usize;
    say(&format!(
        "quip-oomnitza demo: a Quip company of {users} people and an Oomnitza tenant, both emulated on this machine."
    ));
    let mut sandbox_config = SandboxConfig::default();
    sandbox_config.data.users = users;
    sandbox_config.data.seed = args.seed;
    let sandbox = Sandbox::start(sandbox_config)
        .await
        .context("cannot start the emulators")?;
    let quip = sandbox.quip.state();
    let oomnitza = sandbox.oomnitza.state();
    let people = quip.people();
    // Some people already exist in Oomnitza (entered by hand, no Quip id): they are adopted
    // by email rather than duplicated.
    let preexisting = oomnitza.seed_people_from(&people, 0.2);
    say(&format!(
        "Quip: {} users ({} disabled, {} bots, {} admins). Oomnitza: {} people entered by hand before the first sync.",
        people.len(),
        people.iter().filter(|p| p.disabled).count(),
        people.iter().filter(|p| p.is_robot).count(),
        people.iter().filter(|p| p.admin_role.is_some()).count(),
        preexisting.len()
    ));

    let state_dir = tempfile::tempdir().context("cannot create a temporary state directory")?;
    // The demo's own directory: private like every state directory the tool creates.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(state_dir.path(), std::fs::Permissions::from_mode(0o700))
            .context("cannot make the temporary state directory private")?;
    }
    let state = StateDir::open(state_dir.path())?;
    let config = Config::parse(Path::new("demo.toml"), demo_config(&sandbox), &PAIRING)?;
    let token = |t: &str| Secret::Token(SecretString::from(t.to_owned()));
    let secrets = Secrets {
        source: SectionSecrets::new("quip").with("credential", token(sandbox.quip.token())),
        target: SectionSecrets::new("oomnitza").with("credential", token(sandbox.oomnitza.token())),
    };
    let integration = &sync_runtime::build_with_secrets(&config, &secrets)?;
    // The demo takes about a second: bars would only get in the way of the story.
    let bars = crate::progress::Bars::new(true);
    let writes = || sandbox.oomnitza.counters().writes();

    heading(1, "validate");
    for line in integration.validate().await? {
        say(&format!("   ✓ {line}"));
    }

    heading(2, "plan (dry run: reads both sides, writes nothing)");
    let before = writes();
    let (_, report) = integration.plan(&state, false, &bars).await?;
    say(&summary(&report));
    say(&format!(
        "   writes sent to Oomnitza: {}",
        writes() - before
    ));

    heading(
        3,
        "first sync: people, and SaaS users of the Quip app with role and last activity",
    );
    let report = integration
        .run(&state, &RunOptions::default(), &bars)
        .await?;
    say(&summary(&report));
    let seats = oomnitza
        .saas_app_id("Quip")
        .map(|id| oomnitza.saas_users(id))
        .unwrap_or_default();
    let admins = seats
        .iter()
        .filter(|s| {
            s.roles
                .as_ref()
                .is_some_and(|r| r.role_external_label != "Member")
        })
        .count();
    let with_activity = seats.iter().filter(|s| s.last_visit.is_some()).count();
    say(&format!(
        "   Oomnitza now has {} people and {} Quip seats ({admins} with an admin role, {with_activity} with a last activity)",
        oomnitza.people_count(),
        seats.len()
    ));

    heading(4, "re-sync with nothing changed in Quip");
    let before = writes();
    let report = integration
        .run(&state, &RunOptions::default(), &bars)
        .await?;
    say(&summary(&report));
    say(&format!(
        "   writes sent to Oomnitza: {}",
        writes() - before
    ));

    let leaver = people
        .iter()
        .find(|p| !p.disabled && !p.is_robot)
        .context("the demo company has no active user")?
        .clone();
    heading(5, &format!("{} is disabled in Quip", leaver.name));
    quip.set_disabled(&leaver.quip_id, true);
    let report = integration
        .run(&state, &RunOptions::default(), &bars)
        .await?;
    say(&summary(&report));

    heading(6, &format!("{} comes back", leaver.name));
    quip.set_disabled(&leaver.quip_id, false);
    let report = integration
        .run(&state, &RunOptions::default(), &bars)
        .await?;
    say(&summary(&report));

    heading(
        7,
        "a mass removal (40% of Quip users vanish) is held by the threshold",
    );
    let removed: Vec<String> = people
        .iter()
        .filter(|p| !p.is_robot)
        .step_by(5)
        .chain(people.iter().filter(|p| !p.is_robot).skip(1).step_by(5))
        .map(|p| p.quip_id.clone())
        .collect();
    for id in &removed {
        quip.remove_person(id);
    }
    let before = writes();
    let report = integration
        .run(&state, &RunOptions::default(), &bars)
        .await?;
    say(&summary(&report));
    say(&format!(
        "   {} users removed from Quip; deactivation writes sent: {} (exit code would be {})",
        removed.len(),
        writes() - before,
        report.exit_code()
    ));
    say("   to apply them after review: quip-oomnitza run --config FILE --allow-deactivations");

    heading(
        8,
        "seat usage: which Quip seats nobody uses, and what they cost",
    );
    let usage = integration
        .seats(
            sync_runtime::seats::DEFAULT_IDLE_FOR,
            config.file.insights.price_per_seat,
            &bars,
        )
        .await?;
    for line in usage
        .render_terminal(Some(5), PAIRING.no_activity_hint)
        .lines()
    {
        say(&format!("   {line}"));
    }
    say("   the same as JSON or CSV: quip-oomnitza seats --config FILE --json | --csv");

    say(&format!(
        "\nDemo finished. Sessions of this demo were kept in a temporary directory ({} sessions) and removed.",
        state.sessions()?.len()
    ));
    sandbox.shutdown().await;
    Ok(exit::OK)
}
