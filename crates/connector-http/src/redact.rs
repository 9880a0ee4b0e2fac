//! URLs and headers that are safe to show: no credentials, no secret query values, no
//! sensitive header values.

use std::fmt;

use http::HeaderMap;

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
/// Clients never put tokens in URLs; this guards against a configured base URL carrying
/// one (`https://user:pass@host`, `?access_token=`) and against a redirect pointing at one.
#[derive(Clone, PartialEq, Eq)]
pub struct RedactedUrl(url::Url);

impl RedactedUrl {
    /// Wraps `url`.
    pub fn new(url: url::Url) -> Self {
        RedactedUrl(url)
    }

    /// `base` with `segments` appended (each percent-encoded on its own, after any path
    /// the base has) and `query` pairs; the base's own query and fragment are dropped.
    pub fn join(base: &url::Url, segments: &[&str], query: &[(&str, &str)]) -> Self {
        let mut url = base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        RedactedUrl(url)
    }

    /// The path, e.g. `/2/Users`.
    pub fn path(&self) -> &str {
        self.0.path()
    }

    /// The path and the query, shown like the whole URL (secret values hidden, long ones
    /// shortened), without scheme, host and user info.
    pub fn path_and_query(&self) -> PathAndQuery<'_> {
        PathAndQuery(self)
    }

    /// The full URL, for sending. Never log this.
    pub fn expose(&self) -> &url::Url {
        &self.0
    }
}

/// A header map whose `Debug` and `Display` show every name but hide the values of
/// sensitive headers ([`http::HeaderValue::is_sensitive`], and any `Authorization*`,
/// `Cookie`, `Set-Cookie` or `*token*`/`*key*`/`*secret*` header even when not marked).
pub struct RedactedHeaders<'a>(pub &'a HeaderMap);

impl RedactedHeaders<'_> {
    fn is_secret(name: &http::HeaderName, value: &http::HeaderValue) -> bool {
        let name = name.as_str();
        value.is_sensitive()
            || name.starts_with("authorization")
            || name.starts_with("proxy-authorization")
            || name == "cookie"
            || name == "set-cookie"
            || ["token", "key", "secret", "password"]
                .iter()
                .any(|s| name.contains(s))
    }
}

impl fmt::Display for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (name, value) in self.0 {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            if Self::is_secret(name, value) {
                write!(f, "{name}: ***")?;
            } else {
                write!(f, "{name}: {}", String::from_utf8_lossy(value.as_bytes()))?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{self}}}")
    }
}

/// The `Location` of a redirect, resolved against the request URL, for messages: scheme,
/// host, port and path only (a query or user-info part could carry someone's secret).
pub fn redirect_location(headers: &HeaderMap, request_url: &url::Url) -> String {
    let Some(raw) = headers.get(http::header::LOCATION) else {
        return "(no Location header)".to_owned();
    };
    let raw = String::from_utf8_lossy(raw.as_bytes());
    match request_url.join(&raw) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => "(an unreadable Location header)".to_owned(),
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
        PathAndQuery(self).fmt(f)
    }
}

/// The path and the redacted query of a [`RedactedUrl`]; see [`RedactedUrl::path_and_query`].
pub struct PathAndQuery<'a>(&'a RedactedUrl);

impl fmt::Display for PathAndQuery<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let u = &(self.0).0;
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
        let u = url::Url::parse("https://h/x?token=CANARY&a=1").unwrap();
        assert_eq!(
            RedactedUrl::new(u).path_and_query().to_string(),
            "/x?token=***&a=1"
        );
    }

    #[test]
    fn join_keeps_a_base_path_and_encodes_segments() {
        let base = url::Url::parse("https://proxy.example/quip/?x=1").unwrap();
        let u = RedactedUrl::join(&base, &["1", "users", "jane doe@acme.com"], &[]);
        assert_eq!(
            u.expose().as_str(),
            "https://proxy.example/quip/1/users/jane%20doe@acme.com"
        );
        let base = url::Url::parse("https://platform.quip.com").unwrap();
        let u = RedactedUrl::join(&base, &["1", "users", ""], &[("ids", "A,b@c")]);
        assert_eq!(
            u.expose().as_str(),
            "https://platform.quip.com/1/users/?ids=A%2Cb%40c"
        );
        let base = url::Url::parse("http://127.0.0.1:99/prefix/").unwrap();
        let u = RedactedUrl::join(&base, &["api", "v3", "users"], &[("limit", "5")]);
        assert_eq!(
            u.expose().as_str(),
            "http://127.0.0.1:99/prefix/api/v3/users?limit=5"
        );
    }

    #[test]
    fn headers_hide_secret_values() {
        let mut h = HeaderMap::new();
        let mut marked = http::HeaderValue::from_static("CANARY-1");
        marked.set_sensitive(true);
        h.insert("x-custom", marked);
        h.insert("authorization2", http::HeaderValue::from_static("CANARY-2"));
        h.insert("x-api-key", http::HeaderValue::from_static("CANARY-3"));
        h.insert("accept", http::HeaderValue::from_static("application/json"));
        let shown = format!("{} {:?}", RedactedHeaders(&h), RedactedHeaders(&h));
        assert!(!shown.contains("CANARY"), "{shown}");
        assert!(shown.contains("accept: application/json"), "{shown}");
        assert!(shown.contains("authorization2: ***"), "{shown}");
    }

    #[test]
    fn redirect_locations_lose_query_and_user_info() {
        let base = url::Url::parse("https://h/1/users/current").unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(redirect_location(&h, &base), "(no Location header)");
        h.insert(
            http::header::LOCATION,
            http::HeaderValue::from_static("https://u:CANARY@other.example/x?token=CANARY#f"),
        );
        assert_eq!(redirect_location(&h, &base), "https://other.example/x");
        h.insert(
            http::header::LOCATION,
            http::HeaderValue::from_static("/y?secret=x"),
        );
        assert_eq!(redirect_location(&h, &base), "https://h/y");
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
