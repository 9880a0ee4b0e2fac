//! OAuth2 (quip-api.md §3): refresh an access token, verify a token.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::client::QuipClient;
use crate::error::{ErrorKind, QuipError};
use crate::models::TokenResponse;
use crate::ratelimit::ApiClass;
use crate::transport::{Auth, Transport, get, post_form};
use connector_http::RedactedUrl;

/// OAuth2. Get one with [`QuipClient::oauth`].
#[derive(Debug, Clone)]
pub struct OAuthHandler {
    client: QuipClient,
}

/// An OAuth client's credentials plus the refresh token to trade.
#[derive(Clone)]
pub struct RefreshRequest {
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: SecretString,
    /// The refresh token.
    pub refresh_token: SecretString,
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRequest")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .finish()
    }
}

/// What `GET /1/oauth/verify_token` says about a valid token (fields unconfirmed).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct TokenInfo {
    /// The token owner.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The owner's company.
    #[serde(default)]
    pub company_id: Option<String>,
    /// Granted scopes, when reported.
    #[serde(default)]
    pub scope: Option<String>,
}

impl OAuthHandler {
    pub(crate) fn new(client: QuipClient) -> Self {
        OAuthHandler { client }
    }

    /// `POST /1/oauth/access_token` with `grant_type=refresh_token` (form-encoded). The
    /// client keeps its token; call [`QuipClient::set_token`] with the new one.
    ///
    /// Not repeated after a timeout or 5xx (a refresh may rotate tokens); throttled
    /// answers are retried, since a throttled request is not processed.
    pub async fn refresh(&self, request: &RefreshRequest) -> Result<TokenResponse, QuipError> {
        let url = RedactedUrl::join(
            &self.client.transport.base_url,
            &["1", "oauth", "access_token"],
            &[],
        );
        let form = vec![
            ("grant_type", "refresh_token".to_owned()),
            (
                "refresh_token",
                request.refresh_token.expose_secret().to_owned(),
            ),
            ("client_id", request.client_id.clone()),
            (
                "client_secret",
                request.client_secret.expose_secret().to_owned(),
            ),
        ];
        let mut req = Transport::once(post_form(ApiClass::Automation, url, form));
        req.tag.auth = Auth::None;
        let response = self.client.transport.send(req).await?;
        // Decode errors quote the offending value; keep them away from token bodies.
        response.json::<TokenResponse>().map_err(|e| {
            let request = e.request().cloned();
            let e = match e.into_kind() {
                ErrorKind::Decode { path, .. } => QuipError::new(ErrorKind::Decode {
                    source: <serde_json::Error as serde::de::Error>::custom(format!(
                        "the token response does not have the expected shape at `{path}`"
                    )),
                    path,
                }),
                other => QuipError::new(other),
            };
            match request {
                Some(r) => e.with_request(r),
                None => e,
            }
        })
    }

    /// `GET /1/oauth/verify_token` with the client's token: `Some` when valid, `None`
    /// when Quip answers 401.
    pub async fn verify(&self) -> Result<Option<TokenInfo>, QuipError> {
        let url = RedactedUrl::join(
            &self.client.transport.base_url,
            &["1", "oauth", "verify_token"],
            &[],
        );
        match self
            .client
            .transport
            .send(get(ApiClass::Automation, url))
            .await
        {
            Ok(r) if r.body.iter().all(u8::is_ascii_whitespace) => Ok(Some(TokenInfo {
                user_id: None,
                company_id: None,
                scope: None,
            })),
            Ok(r) => r.json().map(Some),
            Err(e) if e.is_auth() && e.status() == Some(http::StatusCode::UNAUTHORIZED) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
