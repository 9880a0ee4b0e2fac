//! OAuth2 refresh-token credentials (Quip's `/1/oauth/access_token`).
//!
//! This module keeps the tokens; it does not talk to the token endpoint. There is one
//! refresh flow, the vendor client's (`quip_client::OAuthHandler::refresh`, sent through
//! the shared HTTP layer: not repeated after a failure Quip may have acted on, redirects
//! refused, bodies capped): take [`OAuth2::refresh_token`] and [`OAuth2::client_secret`]
//! to it, and hand its answer to [`OAuth2::record_refresh`].

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::error::{CredentialError, Result};
use crate::model::sensitive;

/// An access token this close to expiry is refreshed before use, so that it does not
/// expire in flight.
const EXPIRY_MARGIN: TimeDelta = TimeDelta::seconds(60);

/// An OAuth2 client with a refresh token and the current access token, if any.
///
/// A refreshed access token (and a rotated refresh token, if the server sends one) is
/// recorded with [`OAuth2::record_refresh`] and kept in memory; store the credential again
/// (`put`) to persist it.
pub struct OAuth2 {
    client_id: String,
    token_url: String,
    client_secret: SecretString,
    tokens: Mutex<Tokens>,
}

/// The mutable token state of an [`OAuth2`] credential.
#[derive(Clone)]
pub(crate) struct Tokens {
    pub(crate) refresh_token: SecretString,
    pub(crate) access_token: Option<SecretString>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
}

impl OAuth2 {
    /// An OAuth2 credential. `token_url` must be an `http` or `https` URL (for Quip:
    /// `https://platform.quip.com/1/oauth/access_token`).
    pub fn new(
        client_id: impl Into<String>,
        client_secret: SecretString,
        refresh_token: SecretString,
        token_url: impl Into<String>,
    ) -> Result<Self> {
        let token_url = token_url.into();
        match url::Url::parse(&token_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => {
                return Err(CredentialError::invalid(
                    "oauth2",
                    format!("token URL `{token_url}` is not an http(s) URL"),
                ));
            }
        }
        let client_id = client_id.into();
        if client_id.is_empty() {
            return Err(CredentialError::invalid("oauth2", "client id is empty"));
        }
        Ok(Self {
            client_id,
            token_url,
            client_secret,
            tokens: Mutex::new(Tokens {
                refresh_token,
                access_token: None,
                expires_at: None,
            }),
        })
    }

    /// Seeds a current access token (e.g. one obtained during set-up). With no expiry the
    /// token is used until the credential is refreshed some other way.
    #[must_use]
    pub fn with_access_token(
        self,
        access_token: SecretString,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        {
            let mut tokens = self.lock();
            tokens.access_token = Some(access_token);
            tokens.expires_at = expires_at;
        }
        self
    }

    /// The OAuth2 client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// When the cached access token expires (`None` without a token or without a known
    /// expiry).
    pub fn access_token_expires_at(&self) -> Option<DateTime<Utc>> {
        let tokens = self.lock();
        tokens.access_token.as_ref().and(tokens.expires_at)
    }

    /// Whether an access token is cached (it may have expired).
    pub fn has_access_token(&self) -> bool {
        self.lock().access_token.is_some()
    }

    /// Whether the cached access token can be used at `now` without refreshing.
    pub fn is_fresh_at(&self, now: DateTime<Utc>) -> bool {
        let tokens = self.lock();
        tokens.access_token.is_some()
            && tokens
                .expires_at
                .is_none_or(|expires| expires - EXPIRY_MARGIN > now)
    }

    /// The OAuth2 client secret, for the token endpoint.
    pub fn client_secret(&self) -> &SecretString {
        &self.client_secret
    }

    /// The current refresh token, for the token endpoint.
    pub fn refresh_token(&self) -> SecretString {
        self.lock().refresh_token.clone()
    }

    /// Whether the access token must be refreshed before use at `now` (none, or it
    /// expires within a minute).
    pub fn needs_refresh_at(&self, now: DateTime<Utc>) -> bool {
        !self.is_fresh_at(now)
    }

    /// Keeps what the token endpoint answered at `now`: the new access token, its lifetime
    /// in seconds (`None` or 0: no known expiry), and a rotated refresh token when the
    /// server sent a non-empty one. An empty access token is refused and changes nothing.
    pub fn record_refresh(
        &self,
        access_token: SecretString,
        refresh_token: Option<SecretString>,
        expires_in: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if access_token.expose_secret().is_empty() {
            return Err(CredentialError::invalid(
                "oauth2",
                "the token response has an empty access_token",
            ));
        }
        let expires_at = expires_in
            .filter(|&secs| secs > 0)
            .and_then(|secs| i64::try_from(secs).ok())
            .map(|secs| now + TimeDelta::seconds(secs));
        let mut tokens = self.lock();
        tokens.access_token = Some(access_token);
        tokens.expires_at = expires_at;
        if let Some(rotated) = refresh_token.filter(|t| !t.expose_secret().is_empty()) {
            tokens.refresh_token = rotated;
        }
        tracing::debug!(client_id = %self.client_id, ?expires_at, "OAuth2 access token recorded");
        Ok(())
    }

    pub(crate) fn tokens(&self) -> Tokens {
        self.lock().clone()
    }

    pub(crate) fn from_parts(
        client_id: String,
        token_url: String,
        client_secret: SecretString,
        tokens: Tokens,
    ) -> Self {
        Self {
            client_id,
            token_url,
            client_secret,
            tokens: Mutex::new(tokens),
        }
    }

    pub(crate) fn replace_refresh_token(&mut self, refresh_token: SecretString) {
        let tokens = self
            .tokens
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        tokens.refresh_token = refresh_token;
        tokens.access_token = None;
        tokens.expires_at = None;
    }

    pub(crate) fn bearer_header(&self) -> Option<HeaderValue> {
        let tokens = self.lock();
        let token = tokens.access_token.as_ref()?;
        let mut value = Zeroizing::new(String::from("Bearer "));
        value.push_str(token.expose_secret());
        sensitive(&value)
    }

    fn lock(&self) -> MutexGuard<'_, Tokens> {
        // The token state is replaced whole under the lock, so it is consistent even if a
        // holder panicked.
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clone for OAuth2 {
    fn clone(&self) -> Self {
        Self::from_parts(
            self.client_id.clone(),
            self.token_url.clone(),
            self.client_secret.clone(),
            self.tokens(),
        )
    }
}

impl fmt::Debug for OAuth2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tokens = self.lock();
        f.debug_struct("OAuth2")
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url)
            .field("client_secret", &"[REDACTED]")
            .field("refresh_token", &"[REDACTED]")
            .field(
                "access_token",
                &tokens.access_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("expires_at", &tokens.expires_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn oauth() -> OAuth2 {
        OAuth2::new(
            "client",
            SecretString::from("cs"),
            SecretString::from("rt"),
            "https://auth.example.com/1/oauth/access_token",
        )
        .unwrap()
    }

    #[test]
    fn freshness_respects_the_margin() {
        let now = Utc::now();
        assert!(!oauth().is_fresh_at(now), "no token is never fresh");
        let o = oauth().with_access_token(SecretString::from("at"), None);
        assert!(o.is_fresh_at(now), "token without expiry is fresh");
        let o =
            oauth().with_access_token(SecretString::from("at"), Some(now + TimeDelta::seconds(30)));
        assert!(
            !o.is_fresh_at(now),
            "expiring within the margin needs a refresh"
        );
        let o = oauth().with_access_token(
            SecretString::from("at"),
            Some(now + TimeDelta::seconds(3600)),
        );
        assert!(o.is_fresh_at(now));
    }

    #[test]
    fn recording_a_refresh_sets_expiry_and_rotation() {
        let now = Utc::now();
        let o = oauth();
        assert!(o.needs_refresh_at(now));
        o.record_refresh(
            SecretString::from("at"),
            Some(SecretString::from("rt2")),
            Some(3600),
            now,
        )
        .unwrap();
        assert!(!o.needs_refresh_at(now));
        assert_eq!(
            o.access_token_expires_at(),
            Some(now + TimeDelta::seconds(3600))
        );
        assert_eq!(o.refresh_token().expose_secret(), "rt2");
        // An empty rotated token keeps the old one; no lifetime means no expiry.
        o.record_refresh(
            SecretString::from("at2"),
            Some(SecretString::from("")),
            None,
            now,
        )
        .unwrap();
        assert_eq!(o.refresh_token().expose_secret(), "rt2");
        assert_eq!(o.access_token_expires_at(), None);
        assert!(o.is_fresh_at(now + TimeDelta::days(365)));
        // An empty access token is refused and changes nothing.
        let err = o
            .record_refresh(SecretString::from(""), None, Some(60), now)
            .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Invalid { .. }), "{err}");
        assert_eq!(o.bearer_header().unwrap().to_str().unwrap(), "Bearer at2");
    }

    #[test]
    fn rejects_bad_token_urls() {
        for url in ["not a url", "ftp://x/y", "file:///etc/passwd"] {
            let err = OAuth2::new(
                "client",
                SecretString::from("cs"),
                SecretString::from("rt"),
                url,
            )
            .unwrap_err();
            assert!(matches!(err.kind(), ErrorKind::Invalid { .. }), "{url}");
        }
    }
}
