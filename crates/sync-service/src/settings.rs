//! An integration's `config` (the configuration file's sections, as JSON) to a checked
//! sync-runtime [`Config`], the cloud's own rules on it, and the checks of a launch.
//!
//! The JSON object is turned into the TOML text the runtime reads (same sections, same
//! keys), so the cloud and the local tool accept exactly the same settings and report the
//! same problems, named by key. `[integration] name` is always the integration's name in
//! the service.

use std::path::PathBuf;
use std::sync::Arc;

use credential_store::{CredentialProvider, CredentialRef, DatabaseProvider, MasterKey};
use secrecy::SecretString;
use sync_runtime::credentials::{CredentialSource, Secret};
use sync_runtime::{Config, ConfigErrors, Integration, Pairing, Secrets, SectionSecrets};
use sync_store::Store;

use crate::problem::{Item, error_chain};

/// A credential source over the store, scoped to one owner.
#[derive(Debug, Clone)]
pub struct OwnerCredentials(pub DatabaseProvider<Store>);

impl OwnerCredentials {
    /// The credentials of `owner_id` in `store`, opened with `master`.
    pub fn new(store: &Store, owner_id: &str, master: &Arc<MasterKey>) -> Self {
        Self(DatabaseProvider::new(
            Arc::new(store.clone()),
            owner_id,
            Arc::clone(master),
        ))
    }
}

impl CredentialSource for OwnerCredentials {
    fn provider(&self) -> &dyn CredentialProvider {
        &self.0
    }

    fn missing(&self, name: &str) -> String {
        format!(
            "no credential named \"{name}\": create it with POST /api/v1/credentials, or name one \
             of yours"
        )
    }
}

/// The file name problems are reported against.
fn pseudo_path(name: &str) -> PathBuf {
    PathBuf::from(format!("integration \"{name}\""))
}

/// Converts a JSON config to TOML text (with `[integration] name` set to `name`).
pub fn to_toml(name: &str, config: &serde_json::Value) -> Result<String, Vec<Item>> {
    let Some(object) = config.as_object() else {
        return Err(vec![Item::at(
            "config",
            "must be an object of sections, as in the configuration file",
        )]);
    };
    let mut nulls = Vec::new();
    find_nulls("config", config, &mut nulls);
    if !nulls.is_empty() {
        return Err(nulls);
    }
    let mut object = object.clone();
    let integration = object
        .entry("integration")
        .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    let Some(integration) = integration.as_object_mut() else {
        return Err(vec![Item::at("config.integration", "must be an object")]);
    };
    if let Some(given) = integration.get("name")
        && given.as_str() != Some(name)
    {
        return Err(vec![Item::at(
            "config.integration.name",
            "must be the integration's name (or left out): the service names the integration",
        )]);
    }
    integration.insert(
        "name".to_owned(),
        serde_json::Value::String(name.to_owned()),
    );
    let value = toml::Value::try_from(serde_json::Value::Object(object)).map_err(|e| {
        vec![Item::at(
            "config",
            format!("cannot be a configuration: {e}"),
        )]
    })?;
    toml::to_string(&value).map_err(|e| {
        vec![Item::at(
            "config",
            format!("cannot be a configuration: {e}"),
        )]
    })
}

fn find_nulls(path: &str, value: &serde_json::Value, out: &mut Vec<Item>) {
    match value {
        serde_json::Value::Null => out.push(Item::at(
            path,
            "null is not a value here: leave the key out for its default",
        )),
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                find_nulls(&format!("{path}.{k}"), v, out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                find_nulls(&format!("{path}[{i}]"), v, out);
            }
        }
        _ => {}
    }
}

fn config_items(errors: &ConfigErrors) -> Vec<Item> {
    errors
        .errors()
        .iter()
        .map(|e| Item {
            key: e.key.clone(),
            message: e.message.clone(),
        })
        .collect()
}

/// Parses an integration's JSON config into a checked [`Config`] (offline checks only),
/// with the cloud's rule that credentials are stored ones (`"credential": "name"`): an
/// `{ env = ... }` reference would read the service's own environment.
pub fn parse(
    pairing: &'static Pairing,
    name: &str,
    config: &serde_json::Value,
) -> Result<Config, Vec<Item>> {
    let text = to_toml(name, config)?;
    let config = Config::parse(&pseudo_path(name), text, pairing).map_err(|e| config_items(&e))?;
    let mut problems = Vec::new();
    for (section, refs) in [
        (config.pairing.source.section(), config.source.credentials()),
        (config.pairing.target.section(), config.target.credentials()),
    ] {
        for (key, reference) in refs {
            if let CredentialRef::Env { .. } = reference {
                problems.push(Item::at(
                    format!("{section}.{key}"),
                    "the cloud service takes stored credentials only: name one of yours \
                     (\"credential\": \"my-credential\"), not an environment variable",
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(problems)
    }
}

/// Parses the stored settings of an integration (JSON text).
pub fn parse_stored(
    pairing: &'static Pairing,
    name: &str,
    settings: &str,
) -> Result<Config, Vec<Item>> {
    let value: serde_json::Value = serde_json::from_str(settings).map_err(|e| {
        vec![Item::at(
            "config",
            format!("stored settings do not decode: {e}"),
        )]
    })?;
    parse(pairing, name, &value)
}

/// Builds the integration with `owner`'s stored credentials (for a run).
pub async fn build(
    config: &Config,
    credentials: &OwnerCredentials,
) -> Result<Integration, sync_runtime::RuntimeError> {
    sync_runtime::build(config, credentials).await
}

/// Every problem a launch would meet, found at once: each credential that is missing or
/// unreadable, then, with the credentials there are, the source's check (its credential is
/// accepted) and the target's checks per collection (sync key a unique field, every
/// mapped field present, mandatory fields mapped) against the live systems. Sends no
/// write. `online` false: only the credential checks (a local installation, whose
/// secrets the service never sees).
pub async fn launch_problems(
    config: &Config,
    credentials: &OwnerCredentials,
    online: bool,
) -> Vec<Item> {
    let mut problems = Vec::new();
    if !online {
        return problems;
    }
    let mut complete = [true, true];
    let mut sides = Vec::with_capacity(2);
    for (i, (section, wanted)) in [
        (config.pairing.source.section(), config.source.credentials()),
        (config.pairing.target.section(), config.target.credentials()),
    ]
    .into_iter()
    .enumerate()
    {
        let mut secrets = SectionSecrets::new(section);
        for (key, reference) in wanted {
            let at = format!("{section}.{key}");
            match sync_runtime::credentials::resolve(config, &at, &reference, credentials).await {
                Ok(secret) => secrets = secrets.with(key, secret),
                Err(e) => {
                    complete[i] = false;
                    problems.push(Item::at(at, e.message));
                    // A stand-in so the other side can still be built and checked; this
                    // side's checks are skipped, so it is never sent.
                    secrets = secrets.with(
                        key,
                        Secret::Token(SecretString::from("unresolved".to_owned())),
                    );
                }
            }
        }
        sides.push(secrets);
    }
    let target = sides.pop().unwrap_or_default();
    let source = sides.pop().unwrap_or_default();
    let integration = match sync_runtime::build_with_secrets(config, &Secrets { source, target }) {
        Ok(integration) => integration,
        Err(e) => {
            problems.extend(runtime_items(&e));
            return problems;
        }
    };
    let connectors = match integration.open() {
        Ok(c) => c,
        Err(e) => {
            problems.extend(runtime_items(&e));
            return problems;
        }
    };
    let (source_section, target_section) = (
        config.pairing.source.section(),
        config.pairing.target.section(),
    );
    if complete[0]
        && let Err(e) = connectors.source.validate().await
    {
        problems.extend(split(source_section, &e.to_string()));
    }
    if complete[1] {
        for mapping in &integration.definition.collections {
            let spec = mapping.spec();
            if let Err(e) = connectors.target.validate(spec).await {
                problems.extend(split(
                    &format!("{target_section}.{}", spec.collection),
                    &e.to_string(),
                ));
            }
        }
    }
    problems
}

fn split(key: &str, text: &str) -> Vec<Item> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Item::at(key, l.trim()))
        .collect()
}

/// A runtime error as problem items (every configuration problem, or one line).
pub fn runtime_items(e: &sync_runtime::RuntimeError) -> Vec<Item> {
    match e {
        sync_runtime::RuntimeError::Config(errors) => config_items(errors),
        other => vec![Item::bare(error_chain(other))],
    }
}
