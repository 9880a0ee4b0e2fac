//! The `[quip]` section of a configuration file, and the source it builds.

use std::collections::BTreeSet;

use connector_http::WaitCaps;
use credential_store::CredentialRef;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sync_engine::settings::switch;
use sync_engine::settings::{ByteSize, HttpUrl, HumanDuration, Problem, insecure_http_warnings};

use crate::client::QuipClient;
use crate::config::ClientConfig;
use crate::source::{EventsConfig, Listing, QuipSource, QuipSourceConfig, RoleSource};

/// `[quip]`: where Quip is, which credentials to use, and what to read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuipSection {
    /// Platform API host (VPC sites have their own).
    pub base_url: HttpUrl,
    /// SCIM host.
    pub scim_url: HttpUrl,
    /// `scim` or `admin`.
    pub listing: Listing,
    /// The API token (an admin's); required.
    pub credential: Option<CredentialRef>,
    /// A separate SCIM token, when SCIM listing uses one.
    pub scim_credential: Option<CredentialRef>,
    /// Company id; read from `/1/users/current` when absent.
    pub company_id: Option<String>,
    /// Look up admin roles through the Admin API (unconfirmed endpoint; falls back to
    /// `admins`).
    pub admin_role_endpoint: bool,
    /// Quip ids or emails of admins, when the admin-role endpoint is unavailable.
    pub admins: Vec<String>,
    /// Role reported for everyone else.
    pub default_role: String,
    /// Read last activity from Events API `login` events (paid add-on; unknown when
    /// unavailable).
    pub last_activity: bool,
    /// How far back to look for login events, e.g. `90d`.
    pub events_lookback: HumanDuration,
    /// Per-request timeout, e.g. `30s`.
    pub timeout: HumanDuration,
    /// Cap on the total time one run spends waiting on rate limits and retries, e.g.
    /// `15m`; `false` for none.
    #[serde(with = "switch")]
    pub max_wait: Option<HumanDuration>,
    /// Cap on the time one request spends waiting, e.g. `2m`; `false` (the default) for
    /// none.
    #[serde(with = "switch")]
    pub max_request_wait: Option<HumanDuration>,
    /// Largest response body accepted, e.g. `"64MiB"` or a number of bytes.
    pub max_response_bytes: ByteSize,
    /// Most pages one listing or Events cursor may take.
    pub max_pages: u64,
    /// Accept plain `http://` URLs to hosts other than this machine (tokens in clear text).
    pub allow_insecure_http: bool,
}

impl Default for QuipSection {
    fn default() -> Self {
        QuipSection {
            base_url: HttpUrl::parse(crate::config::DEFAULT_BASE_URL)
                .expect("the default Platform API URL is valid"),
            scim_url: HttpUrl::parse(crate::config::DEFAULT_SCIM_URL)
                .expect("the default SCIM URL is valid"),
            listing: Listing::Scim,
            credential: None,
            scim_credential: None,
            company_id: None,
            admin_role_endpoint: true,
            admins: Vec::new(),
            default_role: "Member".to_owned(),
            last_activity: true,
            events_lookback: HumanDuration::from_secs(90 * 86_400),
            timeout: HumanDuration::from_secs(30),
            max_wait: Some(HumanDuration::from_secs(15 * 60)),
            max_request_wait: None,
            max_response_bytes: ByteSize::mib(64),
            max_pages: 10_000,
            allow_insecure_http: false,
        }
    }
}

impl QuipSection {
    /// The keys naming credentials: `credential` (required) and `scim_credential`.
    pub fn credentials(&self) -> Vec<(&'static str, CredentialRef)> {
        let mut out = Vec::new();
        if let Some(c) = &self.credential {
            out.push(("credential", c.clone()));
        }
        if let Some(c) = &self.scim_credential {
            out.push(("scim_credential", c.clone()));
        }
        out
    }

    /// What is wrong with the section, every problem (keys relative to `[quip]`).
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (key, url) in [("base_url", &self.base_url), ("scim_url", &self.scim_url)] {
            if let Err(m) = url.check_transport(self.allow_insecure_http, "quip") {
                problems.push(Problem::new(key, m));
            }
        }
        if self.credential.is_none() {
            problems.push(Problem::new(
                "credential",
                "missing: name a stored credential (credential = \"quip\") or an environment \
                 variable (credential = { env = \"QUIP_TOKEN\" })",
            ));
        }
        if self.max_pages == 0 {
            problems.push(Problem::new("max_pages", "must be at least 1"));
        }
        problems
    }

    /// One warning per plain `http://` URL to another machine that `allow_insecure_http`
    /// lets through.
    pub fn insecure_http_warnings(&self) -> Vec<String> {
        insecure_http_warnings(
            "quip",
            [("base_url", &self.base_url), ("scim_url", &self.scim_url)],
        )
    }

    /// The Quip source: `token` is the API token, `scim_token` the separate SCIM token
    /// when one is configured. Optional Quip APIs (admin roles, Events) are read only when
    /// one of `used_fields` (the fields the compiled templates and filters use) needs what
    /// they provide (sync-safety.md S14).
    pub fn source(
        &self,
        token: SecretString,
        scim_token: Option<SecretString>,
        user_agent: &str,
        used_fields: &BTreeSet<String>,
    ) -> Result<QuipSource, Problem> {
        let mut config = ClientConfig::new(token)
            .base_url(self.base_url.as_str())
            .scim_url(self.scim_url.as_str())
            .timeout(self.timeout.get())
            .user_agent(user_agent);
        if let Some(scim) = scim_token {
            config = config.scim_token(scim);
        }
        let retry = config.retry.clone().wait_caps(WaitCaps {
            run: self.max_wait.map(HumanDuration::get),
            request: self.max_request_wait.map(HumanDuration::get),
        });
        let config = config
            .retry(retry)
            .max_response_bytes(self.max_response_bytes.bytes())
            .max_pages(self.max_pages);
        let client =
            QuipClient::new(config).map_err(|e| Problem::new("base_url", e.to_string()))?;
        let mut source_config = QuipSourceConfig::new(self.listing).roles(
            RoleSource::default()
                .endpoint(self.admin_role_endpoint)
                .admins(self.admins.clone())
                .default_role(self.default_role.clone()),
        );
        if let Some(company) = &self.company_id {
            source_config = source_config.company_id(company.clone());
        }
        if self.last_activity {
            source_config =
                source_config.last_activity(EventsConfig::new(self.events_lookback.get()));
        }
        let source_config = source_config.only_for_fields(used_fields);
        Ok(QuipSource::new(client, source_config))
    }
}
