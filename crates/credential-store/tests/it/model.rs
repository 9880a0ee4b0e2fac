use credential_store::{
    Basic, Credential, CredentialKind, ErrorKind, KindMetadata, OAuth2, Placement,
};
use http::HeaderMap;
use http::header::AUTHORIZATION;
use secrecy::{ExposeSecret, SecretString};

use crate::{CANARY, api_key, assert_no_canary};

/// The headers a request carrying `credential` would have.
struct Request(HeaderMap);

impl Request {
    fn headers(&self) -> &HeaderMap {
        &self.0
    }
}

fn request(credential: &Credential) -> Request {
    let mut headers = HeaderMap::new();
    if let Some((name, value)) = credential.header() {
        headers.insert(name, value);
    }
    Request(headers)
}

#[test]
fn api_key_in_header_with_and_without_prefix() {
    let people = api_key("people", "it-ops", CANARY);
    let req = request(&people);
    let value = &req.headers()["Authorization2"];
    assert_eq!(value.to_str().unwrap(), CANARY);
    assert!(value.is_sensitive());

    let roster = Credential::new(
        "roster",
        "it-ops",
        CredentialKind::api_key(
            "Authorization",
            Placement::Header,
            Some("Bearer ".into()),
            SecretString::from(CANARY),
        )
        .unwrap(),
    )
    .unwrap();
    let req = request(&roster);
    assert_eq!(
        req.headers()[AUTHORIZATION].to_str().unwrap(),
        format!("Bearer {CANARY}")
    );
    let (name, value) = roster.header().unwrap();
    assert_eq!(name, AUTHORIZATION);
    assert!(value.is_sensitive());
}

#[test]
fn api_key_in_query_has_no_header_and_keeps_its_secret() {
    let cred = Credential::new(
        "legacy",
        "it-ops",
        CredentialKind::api_key(
            "api_key",
            Placement::Query,
            None,
            SecretString::from("k 1&x"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(request(&cred).headers().is_empty());
    assert!(cred.header().is_none(), "query keys have no header");
    let CredentialKind::ApiKey(key) = cred.kind() else {
        panic!("an api key")
    };
    assert_eq!(key.placement(), Placement::Query);
    assert_eq!(key.token_name(), "api_key");
    assert_eq!(key.secret().expose_secret(), "k 1&x");
}

#[test]
fn basic_sets_a_sensitive_authorization_header() {
    let cred = Credential::new(
        "people-basic",
        "it-ops",
        Basic::new("admin", SecretString::from("pa:ss")).unwrap(),
    )
    .unwrap();
    let req = request(&cred);
    let value = &req.headers()[AUTHORIZATION];
    // base64("admin:pa:ss")
    assert_eq!(value.to_str().unwrap(), "Basic YWRtaW46cGE6c3M=");
    assert!(value.is_sensitive());
    assert!(Basic::new("ad:min", SecretString::from("x")).is_err());
}

#[test]
fn oauth2_without_token_has_no_header_and_with_token_sends_bearer() {
    let oauth = OAuth2::new(
        "client",
        SecretString::from("cs"),
        SecretString::from("rt"),
        "https://platform.roster.com/1/oauth/access_token",
    )
    .unwrap();
    let cred = Credential::new("roster", "it-ops", oauth.clone()).unwrap();
    assert!(request(&cred).headers().get(AUTHORIZATION).is_none());
    assert!(cred.header().is_none());

    let cred = Credential::new(
        "roster",
        "it-ops",
        oauth.with_access_token(SecretString::from(CANARY), None),
    )
    .unwrap();
    let req = request(&cred);
    assert_eq!(
        req.headers()[AUTHORIZATION].to_str().unwrap(),
        format!("Bearer {CANARY}")
    );
    assert!(req.headers()[AUTHORIZATION].is_sensitive());
}

#[test]
fn invalid_settings_are_rejected_without_echoing_the_secret() {
    let bad = [
        ("Author ization", Placement::Header, None, "x".to_owned()),
        ("", Placement::Header, None, "x".to_owned()),
        ("Authorization", Placement::Header, None, String::new()),
        (
            "Authorization",
            Placement::Header,
            None,
            format!("{CANARY}\n"),
        ),
        (
            "Authorization",
            Placement::Header,
            Some("Bearer\r\n".to_owned()),
            "x".to_owned(),
        ),
    ];
    for (token_name, placement, prefix, secret) in bad {
        let err =
            CredentialKind::api_key(token_name, placement, prefix, SecretString::from(secret))
                .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Invalid { .. }), "{err}");
        assert_no_canary("validation error", &format!("{err} {err:?}"));
    }
    assert!(Credential::new("", "o", api_key("x", "o", "s").kind().clone()).is_err());
    assert!(Credential::new("a\nb", "o", api_key("x", "o", "s").kind().clone()).is_err());
}

#[test]
fn debug_display_and_metadata_never_show_secrets() {
    let kinds: Vec<CredentialKind> = vec![
        api_key("k", "o", CANARY).kind().clone(),
        Basic::new("admin", SecretString::from(CANARY))
            .unwrap()
            .into(),
        OAuth2::new(
            CANARY.to_lowercase().replace("canary", "client"),
            SecretString::from(CANARY),
            SecretString::from(CANARY),
            "https://platform.roster.com/1/oauth/access_token",
        )
        .unwrap()
        .with_access_token(SecretString::from(CANARY), None)
        .into(),
    ];
    for kind in kinds {
        let cred = Credential::new("roster", "it-ops", kind).unwrap();
        assert_no_canary("Debug", &format!("{cred:?}"));
        assert_no_canary("pretty Debug", &format!("{cred:#?}"));
        assert_no_canary("Display", &cred.to_string());
        assert_no_canary("kind Debug", &format!("{:?}", cred.kind()));
        let json = serde_json::to_string(&cred.metadata()).unwrap();
        assert_no_canary("metadata JSON", &json);
        assert!(json.contains("\"name\":\"roster\""), "{json}");
    }
}

#[test]
fn display_describes_the_credential() {
    let cred = api_key("people", "it-ops", CANARY);
    assert_eq!(
        cred.to_string(),
        "people (api key in header `Authorization2`, owner `it-ops`)"
    );
}

#[test]
fn metadata_serializes_kind_settings() {
    let cred = api_key("people", "it-ops", CANARY);
    let meta = cred.metadata();
    assert_eq!(
        meta.kind,
        KindMetadata::ApiKey {
            token_name: "Authorization2".into(),
            placement: Placement::Header,
            prefix: None
        }
    );
    let value = serde_json::to_value(&meta).unwrap();
    assert_eq!(value["kind"]["type"], "api_key");
    assert_eq!(value["kind"]["placement"], "header");
    let back: credential_store::CredentialMetadata = serde_json::from_value(value).unwrap();
    assert_eq!(back, meta);
}

#[test]
fn rotate_secret_keeps_identity_and_settings() {
    let mut cred = Credential::new(
        "roster",
        "it-ops",
        CredentialKind::api_key(
            "Authorization",
            Placement::Header,
            Some("Bearer ".into()),
            SecretString::from("old"),
        )
        .unwrap(),
    )
    .unwrap();
    let created = cred.created_at();
    cred.rotate_secret(SecretString::from("new")).unwrap();
    assert_eq!(cred.name(), "roster");
    assert_eq!(cred.owner(), "it-ops");
    assert_eq!(cred.created_at(), created);
    assert!(cred.updated_at() >= created);
    assert_eq!(
        cred.header().unwrap().1.to_str().unwrap(),
        "Bearer new",
        "prefix kept, secret replaced"
    );
    let err = cred
        .rotate_secret(SecretString::from("bad\nvalue"))
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Invalid { name, .. } if name == "roster"));
}
