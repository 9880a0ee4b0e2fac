//! The credential model: what a credential is and the header it stands for.
//!
//! Secret values are private fields of type [`SecretString`]; no public method hands them
//! out. The vendor clients authorize their requests themselves (through
//! `connector_http::Authorization`, from the secret the runtime resolves); a tool that
//! builds a request by hand takes the ready-made, sensitive-marked header of
//! [`Credential::header`].

use std::fmt;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use http::header::{AUTHORIZATION, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{CredentialError, Result};
use crate::oauth2::OAuth2;

/// Where an API key goes on the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// A request header named by the token name (Oomnitza's form calls this "Header").
    Header,
    /// A query parameter named by the token name. The secret then appears in the URL, so
    /// prefer headers wherever the API allows them.
    Query,
}

impl Placement {
    /// `"header"` or `"query"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Query => "query",
        }
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API key or token sent as a header or a query parameter, as in Oomnitza's credential
/// form: token name (`Authorization` for Quip, `Authorization2` for Oomnitza), placement,
/// optional prefix (`Bearer `) and the secret value.
#[derive(Clone)]
pub struct ApiKey {
    token_name: String,
    placement: Placement,
    prefix: Option<String>,
    secret: SecretString,
}

impl ApiKey {
    /// An API key. The token name must be a valid header name for
    /// [`Placement::Header`]; the prefix and secret must be valid header value text (no
    /// control characters).
    pub fn new(
        token_name: impl Into<String>,
        placement: Placement,
        prefix: Option<String>,
        secret: SecretString,
    ) -> Result<Self> {
        let key = Self {
            token_name: token_name.into(),
            placement,
            prefix: prefix.filter(|p| !p.is_empty()),
            secret,
        };
        key.validate()?;
        Ok(key)
    }

    fn validate(&self) -> Result<()> {
        let name = &self.token_name;
        if name.is_empty() {
            return Err(CredentialError::invalid("api key", "token name is empty"));
        }
        if self.placement == Placement::Header && HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(CredentialError::invalid(
                "api key",
                format!("token name `{name}` is not a valid header name"),
            ));
        }
        if let Some(prefix) = &self.prefix
            && prefix.chars().any(char::is_control)
        {
            return Err(CredentialError::invalid(
                "api key",
                "prefix contains control characters",
            ));
        }
        let secret = self.secret.expose_secret();
        if secret.is_empty() {
            return Err(CredentialError::invalid("api key", "secret is empty"));
        }
        if secret.chars().any(char::is_control) {
            return Err(CredentialError::invalid(
                "api key",
                "secret contains control characters (a pasted newline?)",
            ));
        }
        Ok(())
    }

    /// Header or parameter name, e.g. `Authorization2`.
    pub fn token_name(&self) -> &str {
        &self.token_name
    }

    /// Header or query parameter.
    pub fn placement(&self) -> Placement {
        self.placement
    }

    /// Text put before the secret, e.g. `Bearer `.
    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// Prefix + secret, in a buffer that is wiped when dropped.
    fn value(&self) -> Zeroizing<String> {
        let prefix = self.prefix.as_deref().unwrap_or("");
        let secret = self.secret.expose_secret();
        let mut value = Zeroizing::new(String::with_capacity(prefix.len() + secret.len()));
        value.push_str(prefix);
        value.push_str(secret);
        value
    }

    /// The secret, still wrapped: for the API clients, which take a `SecretString` in their
    /// own configuration and mark the header sensitive.
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("token_name", &self.token_name)
            .field("placement", &self.placement)
            .field("prefix", &self.prefix)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// HTTP Basic authentication: a user name and a secret password.
#[derive(Clone)]
pub struct Basic {
    user: String,
    password: SecretString,
}

impl Basic {
    /// Basic credentials. The user name may not contain `:` (RFC 7617).
    pub fn new(user: impl Into<String>, password: SecretString) -> Result<Self> {
        let user = user.into();
        if user.contains(':') || user.chars().any(char::is_control) {
            return Err(CredentialError::invalid(
                "basic",
                "user name contains `:` or control characters",
            ));
        }
        Ok(Self { user, password })
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The password, still wrapped: for API clients that take a `SecretString` in their
    /// own configuration. Prefer [`Credential::apply`].
    pub fn password(&self) -> &SecretString {
        &self.password
    }

    fn header_value(&self) -> Option<HeaderValue> {
        let mut plain = Zeroizing::new(String::new());
        plain.push_str(&self.user);
        plain.push(':');
        plain.push_str(self.password.expose_secret());
        let mut value = Zeroizing::new(String::from("Basic "));
        base64::engine::general_purpose::STANDARD.encode_string(plain.as_bytes(), &mut value);
        sensitive(&value)
    }
}

impl fmt::Debug for Basic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Basic")
            .field("user", &self.user)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

/// What kind of credential it is, with its (private) secret parts.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum CredentialKind {
    /// An API key or token in a header or query parameter.
    ApiKey(ApiKey),
    /// HTTP Basic.
    Basic(Basic),
    /// An OAuth2 refresh token, exchanged for access tokens when they expire.
    OAuth2(OAuth2),
}

impl CredentialKind {
    /// Shorthand for [`ApiKey::new`].
    pub fn api_key(
        token_name: impl Into<String>,
        placement: Placement,
        prefix: Option<String>,
        secret: SecretString,
    ) -> Result<Self> {
        ApiKey::new(token_name, placement, prefix, secret).map(Self::ApiKey)
    }

    /// Shorthand for [`Basic::new`].
    pub fn basic(user: impl Into<String>, password: SecretString) -> Result<Self> {
        Basic::new(user, password).map(Self::Basic)
    }

    /// `"api_key"`, `"basic"` or `"oauth2"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::ApiKey(_) => "api_key",
            Self::Basic(_) => "basic",
            Self::OAuth2(_) => "oauth2",
        }
    }

    /// The non-secret description of this kind.
    pub fn metadata(&self) -> KindMetadata {
        match self {
            Self::ApiKey(k) => KindMetadata::ApiKey {
                token_name: k.token_name.clone(),
                placement: k.placement,
                prefix: k.prefix.clone(),
            },
            Self::Basic(b) => KindMetadata::Basic {
                user: b.user.clone(),
            },
            Self::OAuth2(o) => KindMetadata::OAuth2 {
                client_id: o.client_id().to_owned(),
                token_url: o.token_url().to_owned(),
                access_token_expires_at: o.access_token_expires_at(),
            },
        }
    }
}

impl From<ApiKey> for CredentialKind {
    fn from(key: ApiKey) -> Self {
        Self::ApiKey(key)
    }
}

impl From<Basic> for CredentialKind {
    fn from(basic: Basic) -> Self {
        Self::Basic(basic)
    }
}

impl From<OAuth2> for CredentialKind {
    fn from(oauth: OAuth2) -> Self {
        Self::OAuth2(oauth)
    }
}

/// A named credential belonging to an owner.
///
/// `Debug` and `Display` never show the secret; neither does [`Credential::metadata`], the
/// form used for listings.
#[derive(Clone)]
pub struct Credential {
    name: String,
    owner: String,
    kind: CredentialKind,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Credential {
    /// A new credential, created and updated now. The name must be non-empty and free of
    /// control characters.
    pub fn new(
        name: impl Into<String>,
        owner: impl Into<String>,
        kind: impl Into<CredentialKind>,
    ) -> Result<Self> {
        let now = Utc::now();
        let name = name.into();
        validate_name(&name)?;
        Ok(Self {
            name,
            owner: owner.into(),
            kind: kind.into(),
            created_at: now,
            updated_at: now,
        })
    }

    /// Replaces both timestamps (for stores that keep their own).
    #[must_use]
    pub fn with_timestamps(mut self, created_at: DateTime<Utc>, updated_at: DateTime<Utc>) -> Self {
        self.created_at = created_at;
        self.updated_at = updated_at;
        self
    }

    /// The name other configuration refers to (e.g. `quip`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Who owns it (a user of the cloud service, or the local account).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Its kind and (private) secret parts.
    pub fn kind(&self) -> &CredentialKind {
        &self.kind
    }

    /// When it was first stored.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// When it was last changed.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    pub(crate) fn set_updated_at(&mut self, at: DateTime<Utc>) {
        self.updated_at = at;
    }

    pub(crate) fn set_created_at(&mut self, at: DateTime<Utc>) {
        self.created_at = at;
    }

    /// What a listing shows: everything but the secret.
    pub fn metadata(&self) -> CredentialMetadata {
        CredentialMetadata {
            name: self.name.clone(),
            owner: self.owner.clone(),
            kind: self.kind.metadata(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// Replaces the secret and keeps the name, owner, creation time and everything else
    /// (so references to the credential keep working). The secret replaced is the API key,
    /// the Basic password, or the OAuth2 refresh token (the cached access token is dropped).
    pub fn rotate_secret(&mut self, new_secret: SecretString) -> Result<()> {
        match &mut self.kind {
            CredentialKind::ApiKey(key) => {
                let rotated = ApiKey::new(
                    key.token_name.clone(),
                    key.placement,
                    key.prefix.clone(),
                    new_secret,
                )
                .map_err(|e| rename_invalid(e, &self.name))?;
                *key = rotated;
            }
            CredentialKind::Basic(basic) => basic.password = new_secret,
            CredentialKind::OAuth2(oauth) => oauth.replace_refresh_token(new_secret),
        }
        self.updated_at = Utc::now();
        Ok(())
    }

    /// The header this credential sends, with its value marked sensitive
    /// ([`HeaderValue::set_sensitive`]), for clients that build requests themselves.
    /// `None` for query-parameter API keys and for OAuth2 without a current access token
    /// (refresh it through the vendor's client and [`OAuth2::record_refresh`]).
    pub fn header(&self) -> Option<(HeaderName, HeaderValue)> {
        match &self.kind {
            CredentialKind::ApiKey(key) => match key.placement {
                Placement::Header => {
                    let name = HeaderName::from_bytes(key.token_name.as_bytes()).ok()?;
                    Some((name, sensitive(&key.value())?))
                }
                Placement::Query => None,
            },
            CredentialKind::Basic(basic) => Some((AUTHORIZATION, basic.header_value()?)),
            CredentialKind::OAuth2(oauth) => Some((AUTHORIZATION, oauth.bearer_header()?)),
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("name", &self.name)
            .field("owner", &self.owner)
            .field("kind", &self.kind)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (", self.name)?;
        match &self.kind {
            CredentialKind::ApiKey(k) => {
                write!(f, "api key in {} `{}`", k.placement, k.token_name)?;
            }
            CredentialKind::Basic(b) => write!(f, "basic auth for user `{}`", b.user)?,
            CredentialKind::OAuth2(o) => write!(f, "oauth2 client `{}`", o.client_id())?,
        }
        write!(f, ", owner `{}`)", self.owner)
    }
}

/// A credential without its secret: what listings show and what may be serialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CredentialMetadata {
    /// Credential name.
    pub name: String,
    /// Owner.
    pub owner: String,
    /// Kind and its non-secret settings.
    pub kind: KindMetadata,
    /// When it was first stored.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// The non-secret settings of a credential kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum KindMetadata {
    /// An API key.
    ApiKey {
        /// Header or parameter name.
        token_name: String,
        /// Header or query.
        placement: Placement,
        /// Text before the secret, e.g. `Bearer `.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
    },
    /// HTTP Basic.
    Basic {
        /// User name.
        user: String,
    },
    /// OAuth2 refresh token.
    #[serde(rename = "oauth2")]
    OAuth2 {
        /// OAuth2 client id.
        client_id: String,
        /// Token endpoint.
        token_url: String,
        /// When the cached access token expires, if there is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        access_token_expires_at: Option<DateTime<Utc>>,
    },
}

/// A header value marked sensitive; `None` if the text is not valid header text (which
/// validation at construction rules out).
pub(crate) fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut header = HeaderValue::from_str(value).ok()?;
    header.set_sensitive(true);
    Some(header)
}

pub(crate) fn validate_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(CredentialError::invalid(name, "name is empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(CredentialError::invalid(
            name.escape_debug().to_string(),
            "name contains control characters",
        ));
    }
    Ok(())
}

/// Re-labels a validation error of a kind with the credential's name.
fn rename_invalid(error: CredentialError, name: &str) -> CredentialError {
    match error.into_kind() {
        crate::ErrorKind::Invalid { reason, .. } => CredentialError::invalid(name, reason),
        other => other.into(),
    }
}
