//! `quip-oomnitza`: keeps Oomnitza People and SaaS users in step with Quip.
//!
//! Thin on purpose: the pairing (`quip-oomnitza-pairing`) and the Quip emulator for `demo`
//! and `sandbox`. The commands, output and exit codes are `sync-cli`'s; the work is done by
//! `sync-runtime` (which the cloud service shares).

use std::process::ExitCode;

use api_sandbox::{Person, QuipConfig, QuipEmulator, datagen};
use sync_cli::{App, Demo, DemoSource};

static APP: App = App {
    pairing: &quip_oomnitza_pairing::PAIRING,
    about: "Keeps Oomnitza People and SaaS users in step with Quip.",
    source_credential_help: "Quip API token (sent as `Authorization: Bearer ...`)",
    source_name: "Quip",
    demo_app: "Quip",
    demo: &QuipDemo,
};

fn main() -> ExitCode {
    sync_cli::main(&APP)
}

/// The emulated Quip company of `demo` and `sandbox`.
struct QuipDemo;

#[async_trait::async_trait]
impl Demo for QuipDemo {
    async fn start(&self, people: &[Person], seed: u64, port: u16) -> anyhow::Result<DemoSource> {
        let config = QuipConfig {
            port,
            ..QuipConfig::default()
        };
        let quip = QuipEmulator::start(config, datagen::company_id(seed), people.to_vec()).await?;
        let (state, url) = (quip.state(), quip.base_url());
        let removing = quip.state();
        Ok(DemoSource {
            settings: format!(
                "scim_url = \"{url}\"\n\
                 # The demo company's logins go back a long way; a real tenant keeps the 90-day default.\n\
                 events_lookback = \"3650d\"\n"
            ),
            base_url: url,
            token: quip.token().to_owned(),
            set_active: Box::new(move |p, active| state.set_disabled(&p.quip_id, !active)),
            remove: Box::new(move |p, ()| removing.remove_person(&p.quip_id)),
            shutdown: Box::pin(quip.shutdown()),
        })
    }
}
