//! `scim-oomnitza`: keeps Oomnitza People and SaaS users in step with any SCIM 2.0
//! application (the second connector).
//!
//! Thin on purpose: the pairing (`scim-oomnitza-pairing`) and the SCIM emulator for `demo`
//! and `sandbox`. The commands, output and exit codes are `sync-cli`'s, the same as
//! `quip-oomnitza`'s.

use std::process::ExitCode;

use api_sandbox::Person;
use api_sandbox::scim::{ACTIVITY_SCHEMA, ScimConfig, ScimEmulator, ScimState, from_people};
use sync_cli::{App, Demo, DemoSource};

static APP: App = App {
    pairing: &scim_oomnitza_pairing::PAIRING,
    about: "Keeps Oomnitza People and SaaS users in step with a SCIM 2.0 application.",
    source_credential_help: "SCIM bearer token (sent as `Authorization: Bearer ...`)",
    source_name: "SCIM",
    demo_app: "Slack",
    demo: &ScimDemo,
};

fn main() -> ExitCode {
    sync_cli::main(&APP)
}

/// The demo's application: an emulated SCIM service whose seats are Oomnitza's `Slack`.
struct ScimDemo;

/// The SCIM id of a generated person (the emulator's `userName` is the email).
fn id(s: &ScimState, p: &Person) -> String {
    s.user_by_name(p.email()).map(|u| u.id).unwrap_or_default()
}

#[async_trait::async_trait]
impl Demo for ScimDemo {
    async fn start(&self, people: &[Person], seed: u64, port: u16) -> anyhow::Result<DemoSource> {
        let (users, groups) = from_people(people, seed);
        let config = ScimConfig {
            port,
            ..ScimConfig::default()
        };
        let scim = ScimEmulator::start(config, users, groups).await?;
        let (state, removing) = (scim.state(), scim.state());
        Ok(DemoSource {
            base_url: scim.base_url(),
            token: scim.token().to_owned(),
            settings: format!(
                "role_from_groups = [\"Administrators\"]\n\
                 last_activity_attribute = \"{ACTIVITY_SCHEMA}:lastLogin\"\n\
                 robot_attribute = \"{ACTIVITY_SCHEMA}:robot\"\n"
            ),
            set_active: Box::new(move |p, on| state.set_active(&id(&state, p), on)),
            remove: Box::new(move |p, ()| removing.remove_user(&id(&removing, p))),
            shutdown: Box::pin(scim.shutdown()),
        })
    }
}
