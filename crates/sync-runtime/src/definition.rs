//! From the configuration file to the engine's [`SyncDefinition`]: the pairing's default
//! mappings overlaid with what the file says, templates compiled once, errors placed in the
//! file.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sync_engine::settings::HumanDuration;
use sync_engine::{
    Collection, DeactivatePolicy, FieldExpr, FieldSpec, FilterConfig, KeyMapping, MappingConfig,
    SyncDefinition, SyncPolicy,
};

use crate::config::{Config, ConfigError, KeyPair, MappingSection, Mode};

fn key(pair: &KeyPair) -> KeyMapping {
    KeyMapping::new(pair.source.clone(), pair.target.clone())
}

/// Overlays the keys a user wrote on the collection's defaults.
fn merge(
    config: &Config,
    section: &MappingSection,
    defaults: MappingConfig,
    collection: Collection,
) -> Result<MappingConfig, ConfigError> {
    let mut m = defaults;
    if let Some(k) = &section.sync_key {
        m.sync_key = key(k);
    }
    if let Some(keys) = &section.fallback_keys {
        m.fallback_keys = keys.iter().map(key).collect();
    }
    if let Some(fields) = &section.fields {
        let mut out = BTreeMap::new();
        for (name, value) in fields {
            let expr = match value {
                toml::Value::String(s) => FieldExpr::Text(s.clone()),
                toml::Value::Boolean(b) => FieldExpr::Bool(*b),
                toml::Value::Integer(i) => FieldExpr::Int(*i),
                toml::Value::Float(f) => FieldExpr::Float(*f),
                other => {
                    return Err(config.error_at(
                        &format!("mapping.{collection}.fields.{name}"),
                        format!(
                            "expected a template string, a number or a boolean, found {}",
                            other.type_str()
                        ),
                    ));
                }
            };
            out.insert(name.clone(), expr);
        }
        m.fields = out;
    }
    if let Some(ci) = &section.case_insensitive {
        m.case_insensitive.clone_from(ci);
    }
    Ok(m)
}

/// Builds the engine's definition from a loaded configuration. `source_fields` (the
/// source's [`Source::fields`](sync_engine::Source::fields)) lets templates be checked
/// against the fields that really exist.
pub fn sync_definition(
    config: &Config,
    source_fields: &[FieldSpec],
    credential_name: &str,
) -> Result<SyncDefinition, ConfigError> {
    let f = &config.file;
    let place = |e: sync_engine::ConfigError| {
        let mut message = e.message.clone();
        if let Some(p) = e.position {
            let _ = write!(message, " (template line {}, column {})", p.line, p.col);
        }
        config.error_at(&e.path, message)
    };
    let mut collections = Vec::new();
    let users = merge(
        config,
        &f.mapping.users,
        (config.pairing.users_mapping)(),
        Collection::Users,
    )?;
    collections.push(
        users
            .compile(Collection::Users, Some(source_fields))
            .map_err(place)?,
    );
    if f.integration.mode == Mode::UsersAndSaas {
        let saas = merge(
            config,
            &f.mapping.saas_users,
            (config.pairing.saas_mapping)(),
            Collection::SaasUsers,
        )?;
        collections.push(
            saas.compile(Collection::SaasUsers, Some(source_fields))
                .map_err(place)?,
        );
    }
    let filter = FilterConfig {
        include: f.filters.include.clone(),
        exclude: f.filters.exclude.clone(),
    }
    .compile(Some(source_fields))
    .map_err(place)?;
    let d = &f.integration.deactivate;
    Ok(SyncDefinition {
        integration: config.name().to_owned(),
        mode: Some(f.integration.mode.as_str().to_owned()),
        collections,
        filter,
        policy: SyncPolicy {
            preference: f.integration.preference,
            deactivate: DeactivatePolicy {
                enabled: d.enabled,
                max_count: d.max_count,
                max_percent: d.max_percent,
                allow_empty_source: d.allow_empty_source,
                idle_seats_after: d.idle_seats_after.map(HumanDuration::get),
                idle_exclude_roles: d.idle_exclude_roles.iter().map(Into::into).collect(),
            },
        },
        credential_name: credential_name.to_owned(),
    })
}
