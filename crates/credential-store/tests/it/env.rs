use credential_store::{CredentialProvider, EnvProvider, ErrorKind, KindMetadata, Placement};
use http::header::AUTHORIZATION;

use crate::{CANARY, api_key, assert_no_canary};

#[tokio::test]
async fn plain_variable_is_an_authorization_header_api_key() {
    let env = EnvProvider::from_vars(
        "ROSTER_PEOPLE_CRED_",
        [("ROSTER_PEOPLE_CRED_ROSTER", CANARY)],
    );
    let cred = env.get("roster").await.unwrap();
    assert_eq!(cred.owner(), "local");
    let (name, value) = cred.header().unwrap();
    assert_eq!(name, AUTHORIZATION);
    assert_eq!(value, CANARY);
    assert!(value.is_sensitive());
}

#[tokio::test]
async fn settings_variables_shape_the_credential() {
    let env = EnvProvider::from_vars(
        "ROSTER_PEOPLE_CRED_",
        [
            ("ROSTER_PEOPLE_CRED_PEOPLE_PROD", "tok"),
            (
                "ROSTER_PEOPLE_CRED_PEOPLE_PROD__TOKEN_NAME",
                "Authorization2",
            ),
            ("ROSTER_PEOPLE_CRED_ROSTER", "qtok"),
            ("ROSTER_PEOPLE_CRED_ROSTER__PREFIX", "Bearer "),
            ("ROSTER_PEOPLE_CRED_LEGACY", "k"),
            ("ROSTER_PEOPLE_CRED_LEGACY__PLACEMENT", "Query"),
            ("ROSTER_PEOPLE_CRED_LEGACY__TOKEN_NAME", "api_key"),
            ("ROSTER_PEOPLE_CRED_BASIC", "pw"),
            ("ROSTER_PEOPLE_CRED_BASIC__KIND", "basic"),
            ("ROSTER_PEOPLE_CRED_BASIC__USER", "admin"),
            ("ROSTER_PEOPLE_CRED_OAUTH", CANARY),
            ("ROSTER_PEOPLE_CRED_OAUTH__KIND", "oauth2"),
            ("ROSTER_PEOPLE_CRED_OAUTH__CLIENT_ID", "cid"),
            ("ROSTER_PEOPLE_CRED_OAUTH__CLIENT_SECRET", CANARY),
            (
                "ROSTER_PEOPLE_CRED_OAUTH__TOKEN_URL",
                "https://platform.roster.com/1/oauth/access_token",
            ),
            ("UNRELATED", "x"),
        ],
    )
    .with_owner("ci");

    let people = env.get("people-prod").await.unwrap();
    assert_eq!(people.name(), "people-prod");
    assert_eq!(people.owner(), "ci");
    assert_eq!(people.header().unwrap().0.as_str(), "authorization2");

    let roster = env.get("roster").await.unwrap();
    assert_eq!(roster.header().unwrap().1, "Bearer qtok");

    let legacy = env.get("legacy").await.unwrap();
    assert!(matches!(
        legacy.metadata().kind,
        KindMetadata::ApiKey { placement: Placement::Query, ref token_name, .. } if token_name == "api_key"
    ));

    let basic = env.get("basic").await.unwrap();
    assert_eq!(basic.header().unwrap().1, "Basic YWRtaW46cHc=");

    let oauth = env.get("oauth").await.unwrap();
    assert!(
        matches!(oauth.metadata().kind, KindMetadata::OAuth2 { ref client_id, .. } if client_id == "cid")
    );

    let listing = env.list().await.unwrap();
    let names: Vec<&str> = listing.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["basic", "legacy", "oauth", "people_prod", "roster"]);
    assert_no_canary("env listing", &serde_json::to_string(&listing).unwrap());
    assert_no_canary("env provider Debug", &format!("{env:?}"));
}

#[tokio::test]
async fn missing_variable_is_not_found_and_bad_settings_name_the_variable() {
    let env = EnvProvider::from_vars(
        "ROSTER_PEOPLE_CRED_",
        [
            ("ROSTER_PEOPLE_CRED_B", CANARY.to_owned()),
            ("ROSTER_PEOPLE_CRED_B__KIND", "basic".to_owned()),
            ("ROSTER_PEOPLE_CRED_K", CANARY.to_owned()),
            ("ROSTER_PEOPLE_CRED_K__KIND", "kerberos".to_owned()),
            ("ROSTER_PEOPLE_CRED_P", CANARY.to_owned()),
            ("ROSTER_PEOPLE_CRED_P__PLACEMENT", "body".to_owned()),
            ("ROSTER_PEOPLE_CRED_N", format!("{CANARY}\n")),
        ],
    );
    assert!(env.get("absent").await.unwrap_err().is_not_found());
    for (name, var) in [
        ("b", "ROSTER_PEOPLE_CRED_B__USER"),
        ("k", "ROSTER_PEOPLE_CRED_K__KIND"),
        ("p", "ROSTER_PEOPLE_CRED_P__PLACEMENT"),
        ("n", "ROSTER_PEOPLE_CRED_N"),
    ] {
        let err = env.get(name).await.unwrap_err();
        match err.kind() {
            ErrorKind::Invalid { name: n, .. } => assert_eq!(n, var),
            other => panic!("{name}: unexpected {other:?}"),
        }
        assert!(!err.falls_through(), "a broken definition stops a chain");
        assert_no_canary("env error", &format!("{err} {err:?}"));
    }
}

#[tokio::test]
async fn environment_is_read_only() {
    let env = EnvProvider::from_vars("ROSTER_PEOPLE_CRED_", [("ROSTER_PEOPLE_CRED_ROSTER", "x")]);
    for err in [
        env.put(&api_key("roster", "o", "y")).await.unwrap_err(),
        env.delete("roster").await.unwrap_err(),
        env.rotate_secret("roster", "z".into()).await.unwrap_err(),
    ] {
        assert!(matches!(err.kind(), ErrorKind::ReadOnly { .. }), "{err:?}");
        assert_eq!(err.to_string(), "env is read-only");
    }
}

#[test]
fn custom_prefix() {
    let env = EnvProvider::new("ACME_");
    assert_eq!(env.var_name("roster").unwrap(), "ACME_ROSTER");
}
