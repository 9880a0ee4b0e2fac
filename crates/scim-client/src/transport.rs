//! The SCIM part of the send path: the credential, `Accept: application/scim+json`, the
//! answer's media type, and the base URL's checks. Retries, backoff, `Retry-After`, the
//! wait cap, counters, the body cap and redirect refusal are `connector_http`'s; SCIM
//! throttling is the shared default (429 waits for `Retry-After`; 500, 502, 503 and 504
//! are transient).

use std::fmt;
use std::sync::Arc;

use connector_http::{
    Authorization, Clock, HttpClient, RedactedUrl, Request, Response, Settings, Vendor,
};
use http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use sync_engine::ApiStats;
use url::Url;

use crate::config::ClientConfig;
use crate::error::{Error, ErrorKind, ScimErrorBody};

/// `application/scim+json` first (RFC 7644 §3.1), plain JSON accepted too.
const ACCEPT_SCIM: &str = "application/scim+json, application/json;q=0.9";

/// The SCIM hooks: the credential.
pub(crate) struct Scim {
    auth: Authorization,
}

impl fmt::Debug for Scim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scim").field("auth", &self.auth).finish()
    }
}

impl Vendor for Scim {
    type Tag = ();
    type Body = ScimErrorBody;

    fn authorize(&self, (): (), builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        self.auth.apply(builder)
    }

    fn secrets(&self) -> Vec<SecretString> {
        vec![self.auth.secret().clone()]
    }
}

/// The shared state behind every handler of one client.
pub(crate) struct Transport {
    http: HttpClient<Scim>,
    base: Url,
    pub(crate) page_size: u32,
    pub(crate) max_pages: u64,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("base", &RedactedUrl::new(self.base.clone()))
            .field("http", &self.http)
            .field("page_size", &self.page_size)
            .field("max_pages", &self.max_pages)
            .finish_non_exhaustive()
    }
}

/// `scheme://host[:port]/path` of `url`: what a message may show of a URL that was
/// refused for carrying a user, password, query or fragment.
fn safe_origin_and_path(url: &Url) -> String {
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "{}://{}{port}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.path()
    )
}

/// Checks a base URL: http(s), a host, and nothing that could carry a secret.
pub(crate) fn check_base(url: &Url) -> Result<(), Error> {
    let shown = safe_origin_and_path(url);
    let bad = |why: &str| Err(Error::config(format!("base_url {shown} {why}")));
    if !matches!(url.scheme(), "http" | "https") {
        return bad("is not an http(s) URL");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return bad("has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad("carries a user name or password; give the credential as `auth` instead");
    }
    if url.query().is_some() || url.fragment().is_some() {
        return bad("carries a query or fragment; a SCIM base takes neither");
    }
    Ok(())
}

/// Whether a `Content-Type` is JSON: `application/scim+json`, `application/json`, any
/// `+json` type; none at all is tolerated.
fn is_json(content_type: Option<&HeaderValue>) -> Result<(), String> {
    let Some(value) = content_type else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase();
    let media = text.split(';').next().unwrap_or("").trim().to_owned();
    if media == "application/json" || media.ends_with("+json") {
        Ok(())
    } else {
        Err(media)
    }
}

impl Transport {
    pub(crate) fn new(config: ClientConfig, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        check_base(&config.base_url)?;
        let auth = config.auth.authorization();
        if !auth.is_valid() {
            return Err(Error::config(
                "the SCIM token contains characters not allowed in an HTTP header",
            ));
        }
        let p = &config.retry;
        let retry = connector_http::RetryPolicy::new(
            p.max_attempts,
            p.max_throttled,
            (p.base_delay, p.max_delay),
            p.wait_caps,
        );
        let settings = Settings::new(
            (config.timeout, config.connect_timeout),
            config.user_agent.clone(),
            config.max_response_bytes,
            retry,
        );
        Ok(Transport {
            http: HttpClient::new(settings, Scim { auth }, clock)?,
            base: config.base_url,
            page_size: config.page_size.max(1),
            max_pages: config.max_pages.max(1),
        })
    }

    pub(crate) fn stats(&self) -> ApiStats {
        self.http.stats()
    }

    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        self.http.clock()
    }

    /// The base with `segments` appended and `query`.
    pub(crate) fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> RedactedUrl {
        RedactedUrl::join(&self.base, segments, query)
    }

    /// `GET url`, retried as the policy says; the answer must be JSON.
    pub(crate) async fn get(&self, url: RedactedUrl) -> Result<Response<ScimErrorBody>, Error> {
        let request = Request::get((), url).header(ACCEPT, HeaderValue::from_static(ACCEPT_SCIM));
        let response = self.http.send(&request).await?;
        if let Err(media) = is_json(response.headers.get(CONTENT_TYPE)) {
            let source = <serde_json::Error as serde::de::Error>::custom(format!(
                "the answer is {media}, not application/scim+json or application/json"
            ));
            return Err(Error::new(ErrorKind::Decode {
                path: ".".to_owned(),
                source,
            })
            .with_request(response.context().clone()));
        }
        Ok(response)
    }

    /// `GET url` and decode the answer, naming the failing field path.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, url: RedactedUrl) -> Result<T, Error> {
        self.get(url).await?.json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_with_secrets_or_odd_schemes_are_refused_without_echoing_them() {
        for bad in [
            "ftp://h/scim",
            "https://admin:CANARY@h/scim/v2",
            "https://CANARY@h/scim/v2",
            "https://h/scim/v2?token=CANARY",
            "https://h/scim/v2#CANARY",
        ] {
            let url = Url::parse(bad).unwrap();
            let e = check_base(&url).expect_err(bad);
            assert!(!e.to_string().contains("CANARY"), "{e}");
            assert!(e.to_string().contains("://h"), "{e}");
        }
        check_base(&Url::parse("https://api.slack.com/scim/v2").unwrap()).unwrap();
        check_base(&Url::parse("http://127.0.0.1:8080/").unwrap()).unwrap();
    }

    #[test]
    fn json_media_types() {
        for ok in [
            "application/scim+json",
            "application/scim+json; charset=utf-8",
            "Application/JSON",
            "application/problem+json",
        ] {
            assert!(is_json(Some(&HeaderValue::from_static(ok))).is_ok(), "{ok}");
        }
        assert!(is_json(None).is_ok());
        assert_eq!(
            is_json(Some(&HeaderValue::from_static("text/html; charset=utf-8"))),
            Err("text/html".to_owned())
        );
    }
}
