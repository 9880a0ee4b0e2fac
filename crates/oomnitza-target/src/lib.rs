//! The `[oomnitza]` side of a pairing: a [`TargetFactory`] that reads the section into an
//! [`OomnitzaSection`] and builds the [`oomnitza_client::OomnitzaTarget`], with the
//! defaults a pairing chooses (the SaaS application, the bulk connector name, the People
//! sync key when the mapping names none).
//!
//! Every pairing into Oomnitza (`quip-oomnitza-pairing`, `scim-oomnitza-pairing`) declares
//! one as a `static` and puts it in its [`sync_runtime::Pairing`]:
//!
//! ```
//! use oomnitza_client::OomnitzaDefaults;
//! use oomnitza_target::OomnitzaFactory;
//!
//! static OOMNITZA: OomnitzaFactory = OomnitzaFactory::new(None, "acme-oomnitza", "acme_user_id");
//! // the same as
//! static SAME: OomnitzaFactory = OomnitzaFactory {
//!     defaults: OomnitzaDefaults { saas_name: None, connector_name: "acme-oomnitza" },
//!     users_sync_key: "acme_user_id",
//! };
//! # let _ = &SAME;
//! # let _ = &OOMNITZA;
//! ```

use credential_store::CredentialRef;
use oomnitza_client::{Auth, OomnitzaDefaults, OomnitzaSection};
use sync_engine::settings::Problem;
use sync_engine::{Collection, Target};
use sync_runtime::credentials::Secret;
use sync_runtime::{
    BuildContext, ConfigDoc, ConfigError, TargetFactory, TargetSection, load_section,
};

/// Reads `[oomnitza]` with a pairing's defaults.
#[derive(Debug, Clone, Copy)]
pub struct OomnitzaFactory {
    /// What the section defaults to in this pairing (`saas_name: None` makes it required).
    pub defaults: OomnitzaDefaults,
    /// The People field holding the sync key when the definition has no users mapping.
    pub users_sync_key: &'static str,
}

impl OomnitzaFactory {
    /// A factory whose application defaults to `saas_name` (`None`: it must be named),
    /// whose bulk portions are `connector_name`'s and whose People sync key defaults to
    /// `users_sync_key`.
    pub const fn new(
        saas_name: Option<&'static str>,
        connector_name: &'static str,
        users_sync_key: &'static str,
    ) -> Self {
        OomnitzaFactory {
            defaults: OomnitzaDefaults {
                saas_name,
                connector_name,
            },
            users_sync_key,
        }
    }
}

/// `[oomnitza]`, read.
#[derive(Debug, Clone)]
pub struct OomnitzaTargetSection {
    /// The section as written.
    pub section: OomnitzaSection,
    /// The factory's defaults.
    pub defaults: OomnitzaDefaults,
    /// See [`OomnitzaFactory::users_sync_key`].
    pub users_sync_key: &'static str,
}

impl TargetFactory for OomnitzaFactory {
    fn section(&self) -> &'static str {
        "oomnitza"
    }

    fn load(&self, doc: &ConfigDoc<'_>) -> Result<Box<dyn TargetSection>, Vec<ConfigError>> {
        let section = load_section(doc, "oomnitza", |s: &OomnitzaSection| {
            s.problems(&self.defaults)
        })?;
        Ok(Box::new(OomnitzaTargetSection {
            section,
            defaults: self.defaults,
            users_sync_key: self.users_sync_key,
        }))
    }
}

impl TargetSection for OomnitzaTargetSection {
    fn credentials(&self) -> Vec<(&'static str, CredentialRef)> {
        self.section.credentials()
    }

    fn insecure_http_warnings(&self) -> Vec<String> {
        self.section.insecure_http_warnings()
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Target>, Problem> {
        let auth = match ctx.secrets.get("credential") {
            Some(Secret::Token(t)) => Auth::Token(t.clone()),
            Some(Secret::Basic { user, password }) => Auth::Basic {
                user: user.clone(),
                password: password.clone(),
            },
            None => return Err(Problem::new("credential", "missing")),
        };
        let users_key = ctx
            .definition
            .collections
            .iter()
            .find(|m| m.spec().collection == Collection::Users)
            .map_or_else(
                || self.users_sync_key.to_owned(),
                |m| m.spec().sync_key.to_string(),
            );
        let target = self.section.target(auth, &users_key, &self.defaults)?;
        Ok(Box::new(target))
    }
}
