//! Builds the Quip → Oomnitza integration from a configuration: the Quip source, the
//! Oomnitza target and the engine definition. The only vendor-specific part of the runtime.

use std::time::Duration;

use oomnitza_client::{OomnitzaClient, OomnitzaTarget, PeopleDeactivation, TargetConfig};
use quip_client::{EventsConfig, QuipClient, QuipSource, QuipSourceConfig, RoleSource};
use sync_engine::ApplyOptions;

use crate::config::{ByteSize, Config, ConfigError, Listing, WriteStrategy, parse_duration};
use crate::credentials::{LocalStore, Secret, resolve};
use crate::definition::sync_definition;
use crate::integration::{Integration, RuntimeError};

/// The resolved secrets of one integration.
#[derive(Debug, Clone)]
pub struct Secrets {
    /// The Quip API token.
    pub quip: Secret,
    /// A separate SCIM token, when configured.
    pub quip_scim: Option<Secret>,
    /// The Oomnitza token (or Basic credentials).
    pub oomnitza: Secret,
}

/// A built integration plus the clients, for checks that go beyond the engine traits.
#[derive(Debug)]
pub struct Connected {
    /// The runnable integration.
    pub integration: Integration,
    /// The Quip client the source uses.
    pub quip: QuipClient,
    /// The Oomnitza client the target uses.
    pub oomnitza: OomnitzaClient,
}

/// Resolves the configuration's credentials from the environment and the local store.
pub async fn resolve_secrets(config: &Config, store: &LocalStore) -> Result<Secrets, ConfigError> {
    let f = &config.file;
    let missing = |key: &str| config.error_at(key, "missing");
    let quip_ref = f
        .quip
        .credential
        .as_ref()
        .ok_or_else(|| missing("quip.credential"))?;
    let oom_ref = f
        .oomnitza
        .credential
        .as_ref()
        .ok_or_else(|| missing("oomnitza.credential"))?;
    let quip = resolve(config, "quip.credential", quip_ref, store).await?;
    let quip_scim = match &f.quip.scim_credential {
        Some(r) => Some(resolve(config, "quip.scim_credential", r, store).await?),
        None => None,
    };
    let oomnitza = resolve(config, "oomnitza.credential", oom_ref, store).await?;
    Ok(Secrets {
        quip,
        quip_scim,
        oomnitza,
    })
}

/// Resolves credentials and builds the integration.
pub async fn build(config: &Config, store: &LocalStore) -> Result<Connected, RuntimeError> {
    let secrets = resolve_secrets(config, store).await?;
    build_with_secrets(config, secrets)
}

fn token(config: &Config, key: &str, secret: Secret) -> Result<secrecy::SecretString, ConfigError> {
    match secret {
        Secret::Token(t) => Ok(t),
        Secret::Basic { .. } => {
            Err(config.error_at(key, "Quip needs an API token, not a user and password"))
        }
    }
}

fn duration(config: &Config, key: &str, text: &str) -> Result<Duration, ConfigError> {
    parse_duration(text).map_err(|m| config.error_at(key, m))
}

fn size(config: &Config, key: &str, value: &ByteSize) -> Result<u64, ConfigError> {
    value.bytes().map_err(|m| config.error_at(key, m))
}

fn json_value(
    config: &Config,
    key: &str,
    value: &toml::Value,
) -> Result<serde_json::Value, ConfigError> {
    serde_json::to_value(value).map_err(|e| config.error_at(key, e.to_string()))
}

/// Builds the integration with secrets already in hand (the demo, the cloud service).
pub fn build_with_secrets(config: &Config, secrets: Secrets) -> Result<Connected, RuntimeError> {
    let f = &config.file;
    let user_agent = concat!("quip-oomnitza/", env!("CARGO_PKG_VERSION"));

    // Quip.
    let mut quip_config =
        quip_client::ClientConfig::new(token(config, "quip.credential", secrets.quip)?)
            .base_url(f.quip.base_url.trim_end_matches('/'))
            .scim_url(f.quip.scim_url.trim_end_matches('/'))
            .timeout(duration(config, "quip.timeout", &f.quip.timeout)?)
            .user_agent(user_agent);
    if let Some(scim) = secrets.quip_scim {
        quip_config = quip_config.scim_token(token(config, "quip.scim_credential", scim)?);
    }
    let retry =
        quip_config
            .retry
            .clone()
            .wait_cap(duration(config, "quip.max_wait", &f.quip.max_wait)?);
    quip_config = quip_config
        .retry(retry)
        .max_response_bytes(size(
            config,
            "quip.max_response_bytes",
            &f.quip.max_response_bytes,
        )?)
        .max_pages(f.quip.max_pages);
    // On the security target, which applications keep at `warn` under `--quiet`: a token
    // in clear text is something the admin must hear about on every run.
    for warning in config.insecure_http_warnings() {
        tracing::warn!(target: credential_store::SECURITY_LOG_TARGET, "{warning}");
    }
    let quip = QuipClient::new(quip_config)
        .map_err(|e| config.error_at("quip.base_url", e.to_string()))?;
    let credential_name = f
        .quip
        .credential
        .as_ref()
        .map_or("quip", |c| c.display_name())
        .to_owned();
    let definition = sync_definition(config, &quip_client::quip_fields(), &credential_name)?;
    let listing = match f.quip.listing {
        Listing::Scim => quip_client::Listing::Scim,
        Listing::Admin => quip_client::Listing::Admin,
    };
    let mut source_config = QuipSourceConfig::new(listing).roles(
        RoleSource::default()
            .endpoint(f.quip.admin_role_endpoint)
            .admins(f.quip.admins.clone())
            .default_role(f.quip.default_role.clone()),
    );
    if let Some(company) = &f.quip.company_id {
        source_config = source_config.company_id(company.clone());
    }
    if f.quip.last_activity {
        source_config = source_config.last_activity(EventsConfig::new(duration(
            config,
            "quip.events_lookback",
            &f.quip.events_lookback,
        )?));
    }
    // Optional Quip APIs (admin roles, Events) are read only when a mapping or filter uses
    // what they provide, as the compiled templates say (sync-safety.md S14).
    let source_config = source_config.only_for_fields(&definition.source_fields());
    let source = QuipSource::new(quip.clone(), source_config);

    // Oomnitza.
    let auth = match secrets.oomnitza {
        Secret::Token(t) => oomnitza_client::Auth::Token(t),
        Secret::Basic { user, password } => oomnitza_client::Auth::Basic { user, password },
    };
    let base = f.oomnitza.base_url.as_deref().unwrap_or_default();
    let oom_config = oomnitza_client::ClientConfig::new(base, auth)
        .map_err(|e| config.error_at("oomnitza.base_url", e.to_string()))?
        .with_timeout(duration(config, "oomnitza.timeout", &f.oomnitza.timeout)?)
        .with_concurrency(f.oomnitza.concurrency)
        .with_max_response_bytes(size(
            config,
            "oomnitza.max_response_bytes",
            &f.oomnitza.max_response_bytes,
        )?)
        .with_max_pages(u32::try_from(f.oomnitza.max_pages).unwrap_or(u32::MAX))
        .with_retry(
            oomnitza_client::RetryPolicy::default().with_max_total_wait(duration(
                config,
                "oomnitza.max_wait",
                &f.oomnitza.max_wait,
            )?),
        );
    let oomnitza = OomnitzaClient::new(oom_config)
        .map_err(|e| config.error_at("oomnitza.base_url", e.to_string()))?;
    let users_key = f
        .mapping
        .users
        .sync_key
        .as_ref()
        .map_or_else(|| "quip_user_id".to_owned(), |k| k.target.clone());
    let target_config = TargetConfig::default()
        .with_write_strategy(match f.oomnitza.write_strategy {
            WriteStrategy::Rest => oomnitza_client::WriteStrategy::Rest,
            WriteStrategy::Bulk => oomnitza_client::WriteStrategy::Bulk,
        })
        .with_saas_name(f.oomnitza.saas_name.clone())
        .with_users_sync_key_field(users_key)
        .with_people_deactivation(PeopleDeactivation {
            field: f.oomnitza.deactivate_field.clone(),
            inactive_value: json_value(
                config,
                "oomnitza.deactivate_value",
                &f.oomnitza.deactivate_value,
            )?,
            active_value: json_value(
                config,
                "oomnitza.activate_value",
                &f.oomnitza.activate_value,
            )?,
        })
        .with_concurrency(f.oomnitza.concurrency)
        .with_connector_name(f.oomnitza.connector_name.clone());
    let target = OomnitzaTarget::new(oomnitza.clone(), target_config);

    let integration = Integration {
        definition,
        source: Box::new(source),
        target: Box::new(target),
        apply: ApplyOptions {
            concurrency: f.run.concurrency,
            batch_size: f.run.batch_size,
            allow_held_deactivations: false,
        },
    };
    Ok(Connected {
        integration,
        quip,
        oomnitza,
    })
}

/// The online checks of `validate`: the Quip token works, and every Oomnitza field the
/// mapping needs exists (the sync key field unique). Writes nothing. Returns one line per
/// check passed.
pub async fn check(config: &Config, connected: &Connected) -> Result<Vec<String>, RuntimeError> {
    let mut lines = Vec::new();
    let me = connected
        .quip
        .users()
        .current()
        .await
        .map_err(sync_engine::ConnectorError::from)?;
    lines.push(format!(
        "Quip: token accepted at {} (token owner {}, company {})",
        config.file.quip.base_url,
        me.name.as_deref().unwrap_or(&me.id),
        me.company_id.as_deref().unwrap_or("unknown")
    ));
    connected.integration.validate_target().await?;
    for mapping in &connected.integration.definition.collections {
        let spec = mapping.spec();
        let fields: Vec<&str> = spec.fields.iter().map(AsRef::as_ref).collect();
        lines.push(format!(
            "Oomnitza {}: fields present: {} (sync key {} is unique)",
            spec.collection,
            fields.join(", "),
            spec.sync_key
        ));
    }
    Ok(lines)
}
