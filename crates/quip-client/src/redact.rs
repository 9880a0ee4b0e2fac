//! URLs that are safe to show: no credentials, no secret query values.

use std::fmt;

/// Query parameters whose values are replaced by `***` when a URL is shown.
const SECRET_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "refresh_token",
    "client_secret",
    "code",
    "password",
    "api_key",
    "key",
    "secret",
];

/// A URL whose `Display` and `Debug` hide user info and secret query values, and shorten
/// long query values (a bulk lookup carries up to 1,000 ids).
///
/// Tokens are never put in URLs by this crate; this guards against a configured base URL
/// carrying one (`https://user:pass@host`, `?access_token=`).
#[derive(Clone, PartialEq, Eq)]
pub struct RedactedUrl(url::Url);

impl RedactedUrl {
    /// Wraps `url`.
    pub fn new(url: url::Url) -> Self {
        RedactedUrl(url)
    }

    /// The path, e.g. `/2/Users`.
    pub fn path(&self) -> &str {
        self.0.path()
    }

    /// The full URL, for sending. Never log this.
    pub(crate) fn expose(&self) -> &url::Url {
        &self.0
    }
}

impl fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let u = &self.0;
        write!(f, "{}://", u.scheme())?;
        if !u.username().is_empty() || u.password().is_some() {
            f.write_str("***@")?;
        }
        if let Some(host) = u.host_str() {
            f.write_str(host)?;
        }
        if let Some(port) = u.port() {
            write!(f, ":{port}")?;
        }
        f.write_str(u.path())?;
        let mut first = true;
        for (k, v) in u.query_pairs() {
            f.write_str(if first { "?" } else { "&" })?;
            first = false;
            let secret = SECRET_PARAMS.iter().any(|s| k.eq_ignore_ascii_case(s));
            if secret {
                write!(f, "{k}=***")?;
            } else if v.chars().count() > 64 {
                let head: String = v.chars().take(48).collect();
                write!(f, "{k}={head}…({} chars)", v.chars().count())?;
            } else {
                write!(f, "{k}={v}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedactedUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_credentials_and_secret_params() {
        let u = url::Url::parse(
            "https://bob:hunter2@platform.quip.com:8443/1/oauth/verify_token?access_token=CANARY&company_id=X",
        )
        .unwrap();
        let shown = RedactedUrl::new(u).to_string();
        assert_eq!(
            shown,
            "https://***@platform.quip.com:8443/1/oauth/verify_token?access_token=***&company_id=X"
        );
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("CANARY"));
    }

    #[test]
    fn shortens_long_values() {
        let ids = vec!["UTUAEAiZl6B"; 100].join(",");
        let u = url::Url::parse(&format!("https://h/1/users/?ids={ids}")).unwrap();
        let shown = format!("{:?}", RedactedUrl::new(u));
        assert!(shown.contains("(1199 chars)"), "{shown}");
        assert!(shown.len() < 200);
    }
}
