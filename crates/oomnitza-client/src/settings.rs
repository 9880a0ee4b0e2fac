//! The `[oomnitza]` section of a configuration file, and the target it builds.

use credential_store::CredentialRef;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sync_engine::settings::{ByteSize, HttpUrl, HumanDuration, Problem, insecure_http_warnings};

use crate::client::OomnitzaClient;
use crate::config::{Auth, ClientConfig, RetryPolicy};
use crate::target::{OomnitzaTarget, PeopleDeactivation, TargetConfig, WriteStrategy};
use connector_http::WaitCaps;
use sync_engine::settings::switch;

/// `[oomnitza]`: the tenant, its credential, the SaaS application and how to write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OomnitzaSection {
    /// `https://<tenant>.oomnitza.com`; required.
    pub base_url: Option<HttpUrl>,
    /// The API token (sent as `Authorization2`) or basic credential; required.
    pub credential: Option<CredentialRef>,
    /// The SaaS application's name; required unless the pairing has a default app.
    pub saas_name: Option<String>,
    /// `rest` or `bulk`.
    pub write_strategy: WriteStrategy,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// People field that marks a person inactive (unconfirmed in Oomnitza's docs).
    pub deactivate_field: String,
    /// Its value for an inactive person.
    pub deactivate_value: Json,
    /// Its value for an active person.
    pub activate_value: Json,
    /// Connector name of bulk portions; the pairing's default when absent.
    pub connector_name: Option<String>,
    /// Per-request timeout, e.g. `30s`.
    pub timeout: HumanDuration,
    /// Cap on the total time one run spends waiting between retries (429, 5xx, timeouts),
    /// over all its requests; `false` for none.
    #[serde(with = "switch")]
    pub max_wait: Option<HumanDuration>,
    /// Cap on the time one request spends waiting between retries; `false` for none.
    #[serde(with = "switch")]
    pub max_request_wait: Option<HumanDuration>,
    /// Largest response body accepted, e.g. `"64MiB"` or a number of bytes.
    pub max_response_bytes: ByteSize,
    /// Most pages one listing may take.
    pub max_pages: u64,
    /// Accept a plain `http://` URL to a host other than this machine (token in clear
    /// text).
    pub allow_insecure_http: bool,
}

impl Default for OomnitzaSection {
    fn default() -> Self {
        let deactivation = PeopleDeactivation::default();
        OomnitzaSection {
            base_url: None,
            credential: None,
            saas_name: None,
            write_strategy: WriteStrategy::Rest,
            concurrency: 8,
            deactivate_field: deactivation.field,
            deactivate_value: deactivation.inactive_value,
            activate_value: deactivation.active_value,
            connector_name: None,
            timeout: HumanDuration::from_secs(30),
            max_wait: Some(HumanDuration::from_secs(30 * 60)),
            max_request_wait: Some(HumanDuration::from_secs(120)),
            max_response_bytes: ByteSize::mib(64),
            max_pages: u64::from(crate::config::DEFAULT_MAX_PAGES),
            allow_insecure_http: false,
        }
    }
}

/// What the pairing decides for `[oomnitza]` when the file does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OomnitzaDefaults {
    /// The SaaS application, when the source is one known application (`None`: the file
    /// must name it).
    pub saas_name: Option<&'static str>,
    /// `connector_name` of bulk portions.
    pub connector_name: &'static str,
}

impl OomnitzaSection {
    /// The key naming the credential: `credential` (required).
    pub fn credentials(&self) -> Vec<(&'static str, CredentialRef)> {
        self.credential
            .iter()
            .map(|c| ("credential", c.clone()))
            .collect()
    }

    /// What is wrong with the section, every problem (keys relative to `[oomnitza]`).
    pub fn problems(&self, defaults: &OomnitzaDefaults) -> Vec<Problem> {
        let mut problems = Vec::new();
        match &self.base_url {
            None => problems.push(Problem::new(
                "base_url",
                "missing: set it to your tenant, e.g. \"https://acme.oomnitza.com\"",
            )),
            Some(url) => {
                if let Err(m) = url.check_transport(self.allow_insecure_http, "oomnitza") {
                    problems.push(Problem::new("base_url", m));
                }
            }
        }
        if self.credential.is_none() {
            problems.push(Problem::new(
                "credential",
                "missing: name a stored credential or { env = \"OOMNITZA_TOKEN\" }",
            ));
        }
        if !(1..=u64::from(u32::MAX)).contains(&self.max_pages) {
            problems.push(Problem::new(
                "max_pages",
                format!("must be between 1 and {}", u32::MAX),
            ));
        }
        if self.concurrency == 0 {
            problems.push(Problem::new("concurrency", "must be at least 1"));
        }
        match self.saas_name.as_deref() {
            Some(name) if name.trim().is_empty() => {
                problems.push(Problem::new("saas_name", "must not be empty"));
            }
            None if defaults.saas_name.is_none() => problems.push(Problem::new(
                "saas_name",
                "missing: name the SaaS application in Oomnitza, e.g. saas_name = \"Slack\"",
            )),
            _ => {}
        }
        if self
            .connector_name
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            problems.push(Problem::new("connector_name", "must not be empty"));
        }
        problems
    }

    /// One warning when `allow_insecure_http` lets a plain `http://` URL to another machine
    /// through.
    pub fn insecure_http_warnings(&self) -> Vec<String> {
        insecure_http_warnings("oomnitza", self.base_url.iter().map(|u| ("base_url", u)))
    }

    /// The Oomnitza target, writing People keyed by `users_sync_key` (the People field the
    /// users mapping's sync key names).
    pub fn target(
        &self,
        auth: Auth,
        users_sync_key: &str,
        defaults: &OomnitzaDefaults,
    ) -> Result<OomnitzaTarget, Problem> {
        let base = self
            .base_url
            .as_ref()
            .map(HttpUrl::as_str)
            .unwrap_or_default();
        let bad_url = |e: crate::Error| Problem::new("base_url", e.to_string());
        let client_config = ClientConfig::new(base, auth)
            .map_err(bad_url)?
            .with_timeout(self.timeout.get())
            .with_concurrency(self.concurrency)
            .with_max_response_bytes(self.max_response_bytes.bytes())
            .with_max_pages(u32::try_from(self.max_pages).unwrap_or(u32::MAX))
            .with_retry(RetryPolicy::default().with_wait_caps(WaitCaps {
                run: self.max_wait.map(HumanDuration::get),
                request: self.max_request_wait.map(HumanDuration::get),
            }));
        let client = OomnitzaClient::new(client_config).map_err(bad_url)?;
        let saas_name = self
            .saas_name
            .as_deref()
            .or(defaults.saas_name)
            .ok_or_else(|| Problem::new("saas_name", "missing"))?;
        let connector_name = self
            .connector_name
            .as_deref()
            .unwrap_or(defaults.connector_name);
        let config = TargetConfig::new(saas_name, users_sync_key, connector_name)
            .with_write_strategy(self.write_strategy)
            .with_people_deactivation(PeopleDeactivation {
                field: self.deactivate_field.clone(),
                inactive_value: self.deactivate_value.clone(),
                active_value: self.activate_value.clone(),
            })
            .with_concurrency(self.concurrency);
        Ok(OomnitzaTarget::new(client, config))
    }
}
