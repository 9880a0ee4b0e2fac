//! Quip into Oomnitza: the one place that knows this pairing.
//!
//! The runtime ([`sync_runtime`]) is vendor-neutral; this crate gives it the `[quip]`
//! source factory, the `[oomnitza]` target factory and the defaults that only make sense
//! for this pair: the integration's name, the People sync key `quip_user_id`, the SaaS
//! application `Quip`, the bulk connector name. The CLI and the cloud service both load
//! configurations with [`PAIRING`].

use credential_store::CredentialRef;
use oomnitza_client::OomnitzaDefaults;
pub use oomnitza_target::{OomnitzaFactory, OomnitzaTargetSection};
use quip_client::QuipSection;
use sync_engine::settings::Problem;
use sync_engine::{FieldSpec, KeyMapping, MappingConfig, Source};
use sync_runtime::credentials::Product;
use sync_runtime::{
    BuildContext, ConfigDoc, ConfigError, Pairing, SourceFactory, SourceSection, load_section,
};

/// The Quip → Oomnitza pairing.
pub static PAIRING: Pairing = Pairing {
    source: &QuipFactory,
    target: &OOMNITZA,
    integration_name: "Quip users",
    users_mapping,
    saas_mapping,
    user_agent: concat!("quip-oomnitza/", env!("CARGO_PKG_VERSION")),
    product: Product {
        command: "quip-oomnitza",
        env_prefix: "QUIP_OOMNITZA",
    },
    no_activity_hint: "Quip records last activity only with its Events API add-on (paid; \
        `[quip] last_activity = true` reads it), and `events_lookback` must reach back at \
        least as far as --idle-for; see docs/seat-usage.md#how-activity-is-known.",
};

/// What `[oomnitza]` defaults to here: seats of the `Quip` application.
pub const OOMNITZA_DEFAULTS: OomnitzaDefaults = OomnitzaDefaults {
    saas_name: Some("Quip"),
    connector_name: "quip-oomnitza",
};

/// The default `[mapping.users]`: a person is keyed by the Quip user id in the People
/// field `quip_user_id` ("Quip User Id"), adopted by email when unowned.
pub fn users_mapping() -> MappingConfig {
    MappingConfig::new(KeyMapping::new("id", "quip_user_id"))
        .fallback(KeyMapping::new("email", "email"))
        .field("username", "{{ email }}")
        .field("email", "{{ email }}")
        .field("full_name", "{{ name }}")
        .field("first_name", "{{ first_name }}")
        .field("last_name", "{{ last_name }}")
        .case_insensitive("email")
        .case_insensitive("username")
}

/// The default `[mapping.saas_users]`: the seat's external id is the Quip id; role and
/// last activity come from the source.
pub fn saas_mapping() -> MappingConfig {
    MappingConfig::new(KeyMapping::new("id", "user_external_id"))
        .field("role", "{{ role }}")
        .field("last_visit", "{{ last_activity }}")
}

/// Reads `[quip]`.
#[derive(Debug, Clone, Copy)]
pub struct QuipFactory;

/// `[quip]`, read.
#[derive(Debug, Clone)]
pub struct QuipSourceSection(pub QuipSection);

impl SourceFactory for QuipFactory {
    fn section(&self) -> &'static str {
        "quip"
    }

    fn load(&self, doc: &ConfigDoc<'_>) -> Result<Box<dyn SourceSection>, Vec<ConfigError>> {
        let section = load_section(doc, "quip", QuipSection::problems)?;
        Ok(Box::new(QuipSourceSection(section)))
    }
}

impl SourceSection for QuipSourceSection {
    fn credentials(&self) -> Vec<(&'static str, CredentialRef)> {
        self.0.credentials()
    }

    fn fields(&self) -> Vec<FieldSpec> {
        quip_client::quip_fields()
    }

    fn insecure_http_warnings(&self) -> Vec<String> {
        self.0.insecure_http_warnings()
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Source>, Problem> {
        let token = ctx
            .secrets
            .token("credential")?
            .ok_or_else(|| Problem::new("credential", "missing"))?;
        let scim = ctx.secrets.token("scim_credential")?;
        let source = self
            .0
            .source(token, scim, ctx.user_agent, &ctx.definition.source_fields())?;
        Ok(Box::new(source))
    }
}

/// Reads `[oomnitza]` with this pairing's defaults.
pub static OOMNITZA: OomnitzaFactory = OomnitzaFactory {
    defaults: OOMNITZA_DEFAULTS,
    users_sync_key: "quip_user_id",
};
