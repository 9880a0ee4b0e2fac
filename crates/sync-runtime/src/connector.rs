//! How connectors plug into the runtime.
//!
//! A connector crate exports its configuration section (a serde type that rejects unknown
//! keys) and a constructor for its [`Source`] or [`Target`]. A [`SourceFactory`] or
//! [`TargetFactory`] reads that section out of the file ([`ConfigDoc::section`]) into a
//! [`SourceSection`] or [`TargetSection`], which names the credentials it needs and,
//! once they are resolved, builds the connector. A [`Pairing`] names one source factory,
//! one target factory and the defaults that belong to the pair (the integration's name,
//! the default mappings); a binary passes its pairing to [`Config::load`] and [`build`].
//! The runtime itself knows no vendor.

use std::collections::BTreeMap;
use std::fmt;

use secrecy::SecretString;
use sync_engine::{ApplyOptions, FieldSpec, MappingConfig, Source, SyncDefinition, Target};

use crate::config::{Config, ConfigDoc, ConfigError, ConfigErrors, Problem};
use crate::credentials::{CredentialSource, Secret, resolve};
use crate::definition::sync_definition;
use crate::integration::{Connectors, Integration, OpenConnectors, RuntimeError};
use credential_store::CredentialRef;

/// The secrets of one section, by the key that named them (`credential`,
/// `scim_credential`).
#[derive(Debug, Clone, Default)]
pub struct SectionSecrets {
    section: String,
    secrets: BTreeMap<String, Secret>,
}

impl SectionSecrets {
    /// No secrets yet, for section `section`.
    pub fn new(section: impl Into<String>) -> Self {
        SectionSecrets {
            section: section.into(),
            secrets: BTreeMap::new(),
        }
    }

    /// Adds the secret named at `key`.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, secret: Secret) -> Self {
        self.secrets.insert(key.into(), secret);
        self
    }

    /// The secret named at `key`, when the section named one there.
    pub fn get(&self, key: &str) -> Option<&Secret> {
        self.secrets.get(key)
    }

    /// The API token named at `key`: a [`Problem`] when it is absent or is a user and
    /// password.
    pub fn token(&self, key: &str) -> Result<Option<SecretString>, Problem> {
        match self.secrets.get(key) {
            None => Ok(None),
            Some(Secret::Token(t)) => Ok(Some(t.clone())),
            Some(Secret::Basic { .. }) => Err(Problem::new(
                key,
                format!(
                    "{} needs an API token here, not a user and password",
                    self.section
                ),
            )),
        }
    }
}

/// Context for building a connector once its credentials are resolved.
#[derive(Debug, Clone, Copy)]
pub struct BuildContext<'a> {
    /// The section's secrets.
    pub secrets: &'a SectionSecrets,
    /// The compiled definition: mappings (and so the sync keys and the source fields the
    /// templates use), filters and policy.
    pub definition: &'a SyncDefinition,
    /// `User-Agent` for HTTP requests, e.g. `quip-oomnitza/0.1.0`.
    pub user_agent: &'a str,
}

/// A source connector's parsed section.
pub trait SourceSection: Send + Sync + fmt::Debug {
    /// The credentials it needs: `(key in the section, reference)`.
    fn credentials(&self) -> Vec<(&'static str, CredentialRef)>;

    /// The fields its records carry, for checking templates and filters offline.
    fn fields(&self) -> Vec<FieldSpec>;

    /// Plain `http://` URLs to other machines that the section allows, one warning each
    /// (`key = url is plain http:// …`).
    fn insecure_http_warnings(&self) -> Vec<String> {
        Vec::new()
    }

    /// The source, given its secrets.
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Source>, Problem>;
}

/// A target connector's parsed section.
pub trait TargetSection: Send + Sync + fmt::Debug {
    /// The credentials it needs: `(key in the section, reference)`.
    fn credentials(&self) -> Vec<(&'static str, CredentialRef)>;

    /// Plain `http://` URLs to other machines that the section allows, one warning each.
    fn insecure_http_warnings(&self) -> Vec<String> {
        Vec::new()
    }

    /// The target, given its secrets.
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Target>, Problem>;
}

/// Reads a source connector's section.
pub trait SourceFactory: Send + Sync {
    /// The section's name, e.g. `quip`.
    fn section(&self) -> &'static str;

    /// Reads and checks the section (every problem, placed in the file).
    fn load(&self, doc: &ConfigDoc<'_>) -> Result<Box<dyn SourceSection>, Vec<ConfigError>>;
}

/// Reads a target connector's section.
pub trait TargetFactory: Send + Sync {
    /// The section's name, e.g. `oomnitza`.
    fn section(&self) -> &'static str;

    /// Reads and checks the section (every problem, placed in the file).
    fn load(&self, doc: &ConfigDoc<'_>) -> Result<Box<dyn TargetSection>, Vec<ConfigError>>;
}

/// Reads section `name` into `T` and checks it with `problems`: the common body of a
/// factory's `load`.
pub fn load_section<T>(
    doc: &ConfigDoc<'_>,
    name: &str,
    problems: impl FnOnce(&T) -> Vec<Problem>,
) -> Result<T, Vec<ConfigError>>
where
    T: serde::de::DeserializeOwned + Default,
{
    let section: T = doc.section(name).map_err(|e| vec![e])?;
    let errors = doc.problems(name, problems(&section));
    if errors.is_empty() {
        Ok(section)
    } else {
        Err(errors)
    }
}

/// One source connector and one target connector, and what belongs to the pair.
pub struct Pairing {
    /// Reads the source's section.
    pub source: &'static dyn SourceFactory,
    /// Reads the target's section.
    pub target: &'static dyn TargetFactory,
    /// `[integration] name` when the file does not say.
    pub integration_name: &'static str,
    /// The default `[mapping.users]`.
    pub users_mapping: fn() -> MappingConfig,
    /// The default `[mapping.saas_users]`.
    pub saas_mapping: fn() -> MappingConfig,
    /// `User-Agent` of the connectors' HTTP requests.
    pub user_agent: &'static str,
    /// The application: its command and environment variables.
    pub product: crate::credentials::Product,
    /// What `seats` says when no seat has any recorded activity: how the source records
    /// activity (an add-on to buy, a setting to enable), with a link to the docs.
    pub no_activity_hint: &'static str,
}

impl fmt::Debug for Pairing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pairing")
            .field("source", &self.source.section())
            .field("target", &self.target.section())
            .field("integration_name", &self.integration_name)
            .finish_non_exhaustive()
    }
}

/// The resolved secrets of one integration, per side.
#[derive(Debug, Clone)]
pub struct Secrets {
    /// The source section's.
    pub source: SectionSecrets,
    /// The target section's.
    pub target: SectionSecrets,
}

/// Resolves the configuration's credentials: environment variables named in the file, and
/// stored credentials through `store` (a local installation's [`LocalStore`] chain, or a
/// service's database provider).
///
/// [`LocalStore`]: crate::credentials::LocalStore
pub async fn resolve_secrets(
    config: &Config,
    store: &dyn CredentialSource,
) -> Result<Secrets, ConfigErrors> {
    let mut errors = Vec::new();
    let mut sides = Vec::with_capacity(2);
    for (section, wanted) in [
        (config.pairing.source.section(), config.source.credentials()),
        (config.pairing.target.section(), config.target.credentials()),
    ] {
        let mut secrets = SectionSecrets::new(section);
        for (key, reference) in wanted {
            match resolve(config, &format!("{section}.{key}"), &reference, store).await {
                Ok(secret) => secrets = secrets.with(key, secret),
                Err(e) => errors.push(e),
            }
        }
        sides.push(secrets);
    }
    if let Some(errors) = ConfigErrors::from_errors(errors) {
        return Err(errors);
    }
    let target = sides.pop().unwrap_or_default();
    let source = sides.pop().unwrap_or_default();
    Ok(Secrets { source, target })
}

/// Resolves credentials and builds the integration.
pub async fn build(
    config: &Config,
    store: &dyn CredentialSource,
) -> Result<Integration, RuntimeError> {
    let secrets = resolve_secrets(config, store).await?;
    build_with_secrets(config, &secrets)
}

/// Builds the integration with secrets already in hand (the demo, the cloud service).
///
/// The connectors are built once here, so that a problem with a section or a secret is a
/// configuration error before anything runs; each run then opens its own
/// ([`Integration::open`]).
pub fn build_with_secrets(config: &Config, secrets: &Secrets) -> Result<Integration, RuntimeError> {
    // On the security target, which applications keep at `warn` under `--quiet`: a token
    // in clear text is something the admin must hear about on every run.
    for warning in config.insecure_http_warnings() {
        tracing::warn!(target: credential_store::SECURITY_LOG_TARGET, "{warning}");
    }
    let credential_name = config
        .source
        .credentials()
        .first()
        .map_or(config.pairing.source.section(), |(_, r)| r.display_name())
        .to_owned();
    let definition = sync_definition(config, &config.source.fields(), &credential_name)?;
    let connectors = SectionConnectors {
        config: config.clone(),
        secrets: secrets.clone(),
    };
    connectors.open(&definition)?;
    let f = &config.file;
    Ok(Integration {
        definition,
        connectors: Box::new(connectors),
        apply: ApplyOptions {
            concurrency: f.run.concurrency,
            batch_size: f.run.batch_size,
            allow_held_deactivations: false,
        },
    })
}

/// Opens connectors from a configuration's sections and their resolved secrets.
struct SectionConnectors {
    config: Config,
    secrets: Secrets,
}

impl OpenConnectors for SectionConnectors {
    fn open(&self, definition: &SyncDefinition) -> Result<Connectors, RuntimeError> {
        let config = &self.config;
        let place = |section: &str, p: Problem| {
            RuntimeError::from(config.error_at(&format!("{section}.{}", p.key), p.message))
        };
        let context = |secrets| BuildContext {
            secrets,
            definition,
            user_agent: config.pairing.user_agent,
        };
        let source = config
            .source
            .build(&context(&self.secrets.source))
            .map_err(|p| place(config.pairing.source.section(), p))?;
        let target = config
            .target
            .build(&context(&self.secrets.target))
            .map_err(|p| place(config.pairing.target.section(), p))?;
        Ok(Connectors { source, target })
    }
}
