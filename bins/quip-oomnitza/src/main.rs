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
    demo: &QuipDemo,
};

fn main() -> ExitCode {
    sync_cli::main(&APP)
}

/// The emulated Quip company of `demo` and `sandbox`.
struct QuipDemo;

#[async_trait::async_trait]
impl Demo for QuipDemo {
    fn source_name(&self) -> &'static str {
        "Quip"
    }

    fn saas_name(&self) -> &'static str {
        "Quip"
    }

    async fn start(
        &self,
        people: &[Person],
        seed: u64,
        port: u16,
    ) -> anyhow::Result<Box<dyn DemoSource>> {
        let config = QuipConfig {
            port,
            ..QuipConfig::default()
        };
        let quip = QuipEmulator::start(config, datagen::company_id(seed), people.to_vec()).await?;
        Ok(Box::new(Quip(quip)))
    }
}

/// The running Quip emulator, as the story drives it.
struct Quip(QuipEmulator);

#[async_trait::async_trait]
impl DemoSource for Quip {
    fn base_url(&self) -> String {
        self.0.base_url()
    }

    fn token(&self) -> String {
        self.0.token().to_owned()
    }

    fn section(&self, token_var: &str) -> String {
        let url = self.0.base_url();
        format!(
            "[quip]\nbase_url = \"{url}\"\nscim_url = \"{url}\"\ncredential = {{ env = \"{token_var}\" }}\n\
             # The demo company's logins go back a long way; a real tenant keeps the 90-day default.\n\
             events_lookback = \"3650d\"\n"
        )
    }

    fn set_active(&self, person: &Person, active: bool) {
        self.0.state().set_disabled(&person.quip_id, !active);
    }

    fn remove(&self, person: &Person) {
        self.0.state().remove_person(&person.quip_id);
    }

    async fn shutdown(self: Box<Self>) {
        self.0.shutdown().await;
    }
}
