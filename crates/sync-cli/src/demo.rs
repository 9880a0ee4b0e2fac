//! `demo`: the whole story against the built-in emulators, in seconds. The story is the
//! same for every pairing; the pairing's [`Demo`] hook starts its emulated source and
//! changes it (a user disabled, back, removed) as the story goes.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use std::future::Future;
use std::pin::Pin;

use api_sandbox::oomnitza::CustomField;
use api_sandbox::{DataSpec, OomnitzaConfig, OomnitzaEmulator, Person, SaasSpend};
use secrecy::SecretString;
use sync_engine::SessionReport;
use sync_runtime::credentials::Secret;
use sync_runtime::{Config, RunOptions, StateDir};
use sync_runtime::{Secrets, SectionSecrets};

use crate::cli::DemoArgs;
use crate::commands::Context;
use crate::{App, exit};

/// A pairing's part in `demo` and `sandbox`: it starts the emulated source.
#[async_trait::async_trait]
pub trait Demo: Send + Sync {
    /// Starts the source's emulator on loopback, `port` (0: any free port), serving
    /// `people` (generated from `seed`).
    async fn start(&self, people: &[Person], seed: u64, port: u16) -> anyhow::Result<DemoSource>;
}

/// Changes one generated person in an emulated source; false when it does not have them.
pub type PersonChange<A> = Box<dyn Fn(&Person, A) -> bool + Send + Sync>;

/// A running emulated source, as the story drives it.
pub struct DemoSource {
    /// Its base URL (the section's `base_url`).
    pub base_url: String,
    /// The token it accepts (a sandbox value).
    pub token: String,
    /// More keys of the source's section, as TOML lines (`base_url` and `credential` are
    /// written for it).
    pub settings: String,
    /// Disables (`false`) or re-enables one generated person.
    pub set_active: PersonChange<bool>,
    /// Removes one generated person from the source.
    pub remove: PersonChange<()>,
    /// Stops the emulator.
    pub shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl DemoSource {
    /// The configuration's source section for this emulator, its credential read from the
    /// environment variable `token_var`.
    pub fn section(&self, name: &str, token_var: &str) -> String {
        format!(
            "[{name}]\nbase_url = \"{}\"\ncredential = {{ env = \"{token_var}\" }}\n{}",
            self.base_url, self.settings
        )
    }
}

/// Fits the Oomnitza emulator to the pairing: the People field of its sync key (unique, as
/// `validate` requires) and a price for the application (120 a seat), where missing.
pub(crate) fn prepare_oomnitza(app: &App, config: &mut OomnitzaConfig) {
    let key = (app.pairing.users_mapping)().sync_key.target;
    if !config.custom_fields.iter().any(|f| f.external_id == key) {
        let label = key.replace('_', " ");
        let field = CustomField::new(key, label).unique(true).editable(false);
        config.custom_fields.push(field);
    }
    if !config
        .saas_spend
        .iter()
        .any(|s| s.saas_name.eq_ignore_ascii_case(app.demo_app))
    {
        config.saas_spend.push(SaasSpend {
            saas_name: app.demo_app.to_owned(),
            annual_spend: 36_000.0,
            total_licenses: 300,
        });
    }
}

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

fn demo_config(ctx: &Context, source: &DemoSource, oomnitza: &OomnitzaEmulator) -> String {
    let section = ctx.app.pairing.source.section();
    let token_var = format!(
        "DEMO_{}_TOKEN",
        ctx.app.pairing.source.section().to_uppercase()
    );
    format!(
        r#"[integration]
name = "{saas} users (demo)"
mode = "users_and_saas"

[integration.deactivate]
max_count = 50
max_percent = 10

{source}
[oomnitza]
base_url = "{oomnitza}"
credential = {{ env = "DEMO_OOMNITZA_TOKEN" }}
saas_name = "{saas}"
"#,
        saas = ctx.app.demo_app,
        source = source.section(section, &token_var),
        oomnitza = oomnitza.base_url(),
    )
}

/// Runs the demo.
pub async fn run(ctx: &Context, args: &DemoArgs) -> anyhow::Result<u8> {
    let demo = ctx.app.demo;
    let command = ctx.app.pairing.product.command;
    let (name, saas) = (ctx.app.source_name, ctx.app.demo_app);
    let users = args.users as usize;
    say(&format!(
        "{command} demo: a {name} company of {users} people and an Oomnitza tenant, both emulated on this machine."
    ));
    let spec = DataSpec {
        users,
        seed: args.seed,
        ..DataSpec::default()
    };
    let people = api_sandbox::datagen::generate(&spec);
    let source = demo
        .start(&people, args.seed, 0)
        .await
        .context("cannot start the emulators")?;
    let mut oomnitza_config = OomnitzaConfig::default();
    prepare_oomnitza(ctx.app, &mut oomnitza_config);
    let oomnitza_emulator = OomnitzaEmulator::start(oomnitza_config)
        .await
        .context("cannot start the emulators")?;
    let oomnitza = oomnitza_emulator.state();
    // Some people already exist in Oomnitza (entered by hand, no source id): they are
    // adopted by email rather than duplicated.
    let preexisting = oomnitza.seed_people_from(&people, 0.2);
    say(&format!(
        "{name}: {} users ({} disabled, {} bots, {} admins). Oomnitza: {} people entered by hand before the first sync.",
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
    let config = Config::parse(
        Path::new("demo.toml"),
        demo_config(ctx, &source, &oomnitza_emulator),
        ctx.app.pairing,
    )?;
    let token = |t: &str| Secret::Token(SecretString::from(t.to_owned()));
    let section = ctx.app.pairing.source.section();
    let secrets = Secrets {
        source: SectionSecrets::new(section).with("credential", token(&source.token)),
        target: SectionSecrets::new("oomnitza")
            .with("credential", token(oomnitza_emulator.token())),
    };
    let integration = &sync_runtime::build_with_secrets(&config, &secrets)?;
    // The demo takes about a second: bars would only get in the way of the story.
    let bars = crate::progress::Bars::new(true);
    let writes = || oomnitza_emulator.counters().writes();

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
        &format!(
            "first sync: people, and SaaS users of the {saas} app with role and last activity"
        ),
    );
    let report = integration
        .run(&state, &RunOptions::default(), &bars)
        .await?;
    say(&summary(&report));
    let seats = oomnitza
        .saas_app_id(saas)
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
        "   Oomnitza now has {} people and {} {saas} seats ({admins} with an admin role, {with_activity} with a last activity)",
        oomnitza.people_count(),
        seats.len()
    ));

    heading(4, &format!("re-sync with nothing changed in {name}"));
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
    heading(5, &format!("{} is disabled in {name}", leaver.name));
    anyhow::ensure!((source.set_active)(&leaver, false), "no {}", leaver.name);
    let report = integration
        .run(&state, &RunOptions::default(), &bars)
        .await?;
    say(&summary(&report));

    heading(6, &format!("{} comes back", leaver.name));
    anyhow::ensure!((source.set_active)(&leaver, true), "no {}", leaver.name);
    let report = integration
        .run(&state, &RunOptions::default(), &bars)
        .await?;
    say(&summary(&report));

    heading(
        7,
        &format!("a mass removal (40% of {name} users vanish) is held by the threshold"),
    );
    // A person the source did not take (a duplicate email, say) is not counted.
    let removed = people
        .iter()
        .filter(|p| !p.is_robot)
        .step_by(5)
        .chain(people.iter().filter(|p| !p.is_robot).skip(1).step_by(5))
        .filter(|p| (source.remove)(p, ()))
        .count();
    let before = writes();
    let report = integration
        .run(&state, &RunOptions::default(), &bars)
        .await?;
    say(&summary(&report));
    say(&format!(
        "   {} users removed from {name}; deactivation writes sent: {} (exit code would be {})",
        removed,
        writes() - before,
        report.exit_code()
    ));
    say(&format!(
        "   to apply them after review: {command} run --config FILE --allow-deactivations"
    ));

    heading(
        8,
        &format!("seat usage: which {saas} seats nobody uses, and what they cost"),
    );
    let usage = integration
        .seats(
            sync_runtime::seats::DEFAULT_IDLE_FOR,
            config.file.insights.price_per_seat,
            &bars,
        )
        .await?;
    for line in usage
        .render_terminal(Some(5), ctx.app.pairing.no_activity_hint)
        .lines()
    {
        say(&format!("   {line}"));
    }
    say(&format!(
        "   the same as JSON or CSV: {command} seats --config FILE --json | --csv"
    ));

    say(&format!(
        "\nDemo finished. Sessions of this demo were kept in a temporary directory ({} sessions) and removed.",
        state.sessions()?.len()
    ));
    source.shutdown.await;
    oomnitza_emulator.shutdown().await;
    Ok(exit::OK)
}
