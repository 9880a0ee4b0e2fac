//! A SCIM 2.0 application into Oomnitza: the `[scim]` source connector and the pairing.
//!
//! The runtime ([`sync_runtime`]) is vendor-neutral and `scim_client` is a plain SCIM
//! client; this crate holds what joins them: the `[scim]` section ([`ScimSection`]), the
//! source it builds ([`ScimSource`], fields [`scim_fields`]), the `[oomnitza]` target
//! factory with this pair's defaults (People sync key `scim_user_id`, no default SaaS
//! application: `[oomnitza] saas_name` is required) and the default mappings. The CLI
//! (`scim-oomnitza`) loads configurations with [`PAIRING`].

mod source;

use credential_store::CredentialRef;
use oomnitza_target::OomnitzaFactory;
use scim_client::{Auth, ClientConfig, ScimClient};
use serde::{Deserialize, Serialize};
use sync_engine::settings::{ByteSize, HttpUrl, HumanDuration, Problem};
use sync_engine::settings::{insecure_http_warnings, switch};
use sync_engine::{FieldSpec, KeyMapping, MappingConfig, Source};
use sync_runtime::credentials::{Product, Secret};
use sync_runtime::{BuildContext, ConfigDoc, ConfigError, Pairing, SourceFactory, SourceSection};

pub use source::{ScimSource, scim_fields};

/// The SCIM → Oomnitza pairing.
pub static PAIRING: Pairing = Pairing {
    source: &ScimFactory,
    target: &OOMNITZA,
    integration_name: "SCIM users",
    users_mapping,
    saas_mapping,
    user_agent: concat!("scim-oomnitza/", env!("CARGO_PKG_VERSION")),
    product: Product {
        command: "scim-oomnitza",
        env_prefix: "SCIM_OOMNITZA",
    },
    no_activity_hint: "SCIM has no standard last-activity attribute: set [scim] \
        last_activity_attribute to where the service keeps the last sign-in (docs/connectors.md).",
};

/// Reads `[oomnitza]`: the application must be named; people are keyed by the SCIM id.
pub static OOMNITZA: OomnitzaFactory = OomnitzaFactory::new(None, "scim-oomnitza", "scim_user_id");

/// The default `[mapping.users]`: a person is keyed by the SCIM id in the People field
/// `scim_user_id`, adopted by email when unowned.
pub fn users_mapping() -> MappingConfig {
    let m = MappingConfig::new(KeyMapping::new("id", "scim_user_id"));
    let m = m.fallback(KeyMapping::new("email", "email"));
    let m = m.field("username", "{{ email }}");
    let m = m.field("email", "{{ email }}");
    let m = m.field("full_name", "{{ name }}");
    let m = m.field("first_name", "{{ given_name }}");
    let m = m.field("last_name", "{{ family_name }}");
    m.case_insensitive("email").case_insensitive("username")
}

/// The default `[mapping.saas_users]`: the seat's external id is the SCIM id; role and last
/// activity come from the source where configured.
pub fn saas_mapping() -> MappingConfig {
    let m = MappingConfig::new(KeyMapping::new("id", "user_external_id"));
    let m = m.field("role", "{{ role }}");
    m.field("last_visit", "{{ last_activity }}")
}

/// `[scim]`: where the SCIM service is, its credential, paging limits, and where roles and
/// last activity come from. Absent keys keep `scim_client`'s defaults (a 30 s timeout,
/// pages of 100, at most 10,000 pages, 64 MiB bodies, 15 minutes of waiting per run).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScimSection {
    /// The SCIM base (`.../scim/v2`); `/Users` and `/Groups` are appended. Required.
    pub base_url: Option<HttpUrl>,
    /// A bearer token (a stored user and password is sent as HTTP Basic). Required.
    pub credential: Option<CredentialRef>,
    /// `count` asked for per page (default 100).
    pub page_size: Option<u32>,
    /// Per-request timeout, e.g. `30s`.
    pub timeout: Option<HumanDuration>,
    /// Cap on the time one run spends waiting on rate limits and retries (default `15m`);
    /// `false`: none.
    #[serde(with = "switch", default = "fifteen_minutes")]
    pub max_wait: Option<HumanDuration>,
    /// Cap on the time one request spends waiting; `false` (the default): none.
    #[serde(with = "switch")]
    pub max_request_wait: Option<HumanDuration>,
    /// Most pages one listing may take.
    pub max_pages: Option<u64>,
    /// Largest response body accepted, e.g. `"64MiB"` or a number of bytes.
    pub max_response_bytes: Option<ByteSize>,
    /// Only members of these groups (`displayName`, any case); all users when empty.
    pub groups: Vec<String>,
    /// The attribute path of the role, e.g. `roles.value` or
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`.
    pub role_attribute: Option<String>,
    /// Groups whose name is the role of their members, first match first (after
    /// `role_attribute`). With either role key, everyone else's role is `Member`.
    pub role_from_groups: Vec<String>,
    /// The attribute path of the last sign-in (an RFC 3339 date-time).
    pub last_activity_attribute: Option<String>,
    /// The attribute path of a bot flag (true/false), for `is_robot`.
    pub robot_attribute: Option<String>,
    /// Accept a plain `http://` base URL to another machine (the token in clear text).
    pub allow_insecure_http: bool,
}

fn fifteen_minutes() -> Option<HumanDuration> {
    HumanDuration::parse("15m").ok()
}

impl ScimSection {
    /// What is wrong with the section, every problem (keys relative to `[scim]`).
    pub fn problems(&self) -> Vec<Problem> {
        let insecure = |u: &HttpUrl| u.check_transport(self.allow_insecure_http, "scim").err();
        let problem = |bad: bool, message: &str| bad.then(|| message.to_owned());
        let url = "missing: the SCIM base, e.g. \"https://api.slack.com/scim/v2\"";
        let credential = "missing: e.g. credential = { env = \"SCIM_TOKEN\" }";
        let one = "must be at least 1";
        let checks = [
            ("base_url", self.base_url.as_ref().and_then(insecure)),
            ("base_url", problem(self.base_url.is_none(), url)),
            ("credential", problem(self.credential.is_none(), credential)),
            ("page_size", problem(self.page_size == Some(0), one)),
            ("max_pages", problem(self.max_pages == Some(0), one)),
        ];
        let found = |(key, m): (&str, Option<String>)| Some(Problem::new(key, m?));
        checks.into_iter().filter_map(found).collect()
    }
}

/// Reads `[scim]`.
pub struct ScimFactory;

impl SourceFactory for ScimFactory {
    fn section(&self) -> &'static str {
        "scim"
    }

    fn load(&self, doc: &ConfigDoc<'_>) -> Result<Box<dyn SourceSection>, Vec<ConfigError>> {
        let section = sync_runtime::load_section(doc, "scim", ScimSection::problems)?;
        Ok(Box::new(section))
    }
}

impl SourceSection for ScimSection {
    fn credentials(&self) -> Vec<(&'static str, CredentialRef)> {
        let credential = self.credential.clone();
        credential.map(|c| ("credential", c)).into_iter().collect()
    }

    fn fields(&self) -> Vec<FieldSpec> {
        scim_fields()
    }

    fn insecure_http_warnings(&self) -> Vec<String> {
        insecure_http_warnings("scim", self.base_url.iter().map(|u| ("base_url", u)))
    }

    /// A client of its own for each run, with the section's limits.
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Source>, Problem> {
        let auth = match ctx.secrets.get("credential") {
            Some(Secret::Token(t)) => Auth::Bearer(t.clone()),
            Some(Secret::Basic { user, password }) => Auth::basic(user.clone(), password.clone()),
            None => return Err(Problem::new("credential", "missing")),
        };
        let missing = || Problem::new("base_url", "missing");
        let url = self.base_url.as_ref().ok_or_else(missing)?;
        let mut config = ClientConfig::new(url.url().clone(), auth).user_agent(ctx.user_agent);
        config.retry.wait_caps.run = self.max_wait.map(HumanDuration::get);
        config.retry.wait_caps.request = self.max_request_wait.map(HumanDuration::get);
        // Absent keys keep the client's defaults; `problems` refused zeros.
        config.timeout = self.timeout.map_or(config.timeout, HumanDuration::get);
        config.page_size = self.page_size.unwrap_or(config.page_size);
        config.max_pages = self.max_pages.unwrap_or(config.max_pages);
        let bytes = self.max_response_bytes.map(|b| b.bytes().max(1));
        config.max_response_bytes = bytes.unwrap_or(config.max_response_bytes);
        let client =
            ScimClient::new(config).map_err(|e| Problem::new("base_url", e.to_string()))?;
        let section = self.clone();
        Ok(Box::new(ScimSource { client, section }))
    }
}
