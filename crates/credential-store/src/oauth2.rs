//! OAuth2 refresh-token credentials (Quip's `/1/oauth/access_token`).

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::{ACCEPT, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::error::{CredentialError, ErrorKind, Result};
use crate::model::sensitive;

/// An access token this close to expiry is refreshed before use, so that it does not
/// expire in flight.
const EXPIRY_MARGIN: TimeDelta = TimeDelta::seconds(60);

/// Upper bound on one refresh request.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(30);

/// An OAuth2 client with a refresh token; access tokens are obtained and refreshed on
/// demand by [`Credential::authorize`](crate::Credential::authorize).
///
/// A refreshed access token (and a rotated refresh token, if the server sends one) is
/// kept in memory; store the credential again (`put`) to persist it.
pub struct OAuth2 {
    client_id: String,
    token_url: String,
    client_secret: SecretString,
    tokens: Mutex<Tokens>,
    /// Held while refreshing, so concurrent callers wait for one refresh.
    refresh_gate: tokio::sync::Mutex<()>,
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
        match reqwest::Url::parse(&token_url) {
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
            refresh_gate: tokio::sync::Mutex::new(()),
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

    pub(crate) fn client_secret(&self) -> &SecretString {
        &self.client_secret
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
            refresh_gate: tokio::sync::Mutex::new(()),
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

    /// Refreshes the access token unless it is fresh at `now`.
    pub(crate) async fn ensure_fresh(
        &self,
        name: &str,
        http: &reqwest::Client,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if self.is_fresh_at(now) {
            return Ok(());
        }
        let _gate = self.refresh_gate.lock().await;
        // Another caller may have refreshed while we waited.
        if self.is_fresh_at(now) {
            return Ok(());
        }
        self.refresh(name, http, now).await
    }

    async fn refresh(&self, name: &str, http: &reqwest::Client, now: DateTime<Utc>) -> Result<()> {
        let refresh_token = self.lock().refresh_token.clone();
        tracing::debug!(credential = %name, token_url = %self.token_url, "refreshing OAuth2 access token");
        let response = http
            .post(&self.token_url)
            .timeout(REFRESH_TIMEOUT)
            .header(ACCEPT, "application/json")
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose_secret()),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.expose_secret()),
            ])
            .send()
            .await
            .map_err(|e| refresh_failed(name, e.without_url()))?;
        let status = response.status();
        let body = Zeroizing::new(
            response
                .bytes()
                .await
                .map_err(|e| refresh_failed(name, e.without_url()))?
                .to_vec(),
        );
        if !status.is_success() {
            return Err(ErrorKind::RefreshRejected {
                name: name.to_owned(),
                status: status.as_u16(),
                error: oauth_error_text(&body),
            }
            .into());
        }
        let answer: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            refresh_failed(
                name,
                format!(
                    "token response is not the expected JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        if answer.access_token.expose_secret().is_empty() {
            return Err(refresh_failed(
                name,
                "token response has an empty access_token",
            ));
        }
        let expires_at = match answer.expires_in {
            Some(secs) if secs > 0 => Some(now + TimeDelta::seconds(secs)),
            _ => None,
        };
        let mut tokens = self.lock();
        tokens.access_token = Some(answer.access_token);
        tokens.expires_at = expires_at;
        if let Some(rotated) = answer
            .refresh_token
            .filter(|t| !t.expose_secret().is_empty())
        {
            tokens.refresh_token = rotated;
        }
        tracing::debug!(credential = %name, ?expires_at, "OAuth2 access token refreshed");
        Ok(())
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

#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    #[serde(default)]
    refresh_token: Option<SecretString>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    expires_in: Option<i64>,
}

/// `expires_in` as a number or a numeric string (both are seen in the wild).
fn lenient_seconds<'de, D>(deserializer: D) -> std::result::Result<Option<i64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Seconds {
        Int(i64),
        Float(f64),
        Text(String),
    }
    Ok(match Option::<Seconds>::deserialize(deserializer)? {
        Some(Seconds::Int(n)) => Some(n),
        Some(Seconds::Float(f)) => Some(f as i64),
        Some(Seconds::Text(s)) => s.trim().parse().ok(),
        None => None,
    })
}

/// The `error` and `error_description` of an OAuth2 error body, shortened. Nothing else
/// from the body is kept, in case a server echoes the request.
fn oauth_error_text(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct OAuthError {
        error: Option<String>,
        error_description: Option<String>,
    }
    let parsed: OAuthError = serde_json::from_slice(body).ok()?;
    let text = match (parsed.error, parsed.error_description) {
        (Some(e), Some(d)) => format!("{e}: {d}"),
        (Some(e), None) => e,
        (None, Some(d)) => d,
        (None, None) => return None,
    };
    Some(text.chars().take(200).collect())
}

fn refresh_failed(
    name: &str,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> CredentialError {
    ErrorKind::RefreshFailed {
        name: name.to_owned(),
        source: source.into(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth() -> OAuth2 {
        OAuth2::new(
            "client",
            SecretString::from("cs"),
            SecretString::from("rt"),
            "https://platform.quip.com/1/oauth/access_token",
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

    #[test]
    fn error_text_keeps_only_the_oauth_fields() {
        let body = br#"{"error":"invalid_grant","error_description":"expired","echo":"rt-secret"}"#;
        assert_eq!(
            oauth_error_text(body).as_deref(),
            Some("invalid_grant: expired")
        );
        assert_eq!(oauth_error_text(b"<html>rt-secret</html>"), None);
    }
}
