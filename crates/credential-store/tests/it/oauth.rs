//! OAuth2 credentials keep the tokens; the refresh itself is the vendor client's one flow
//! (`roster_client::OAuthHandler::refresh`), whose answer is recorded here.

use chrono::{TimeDelta, Utc};
use credential_store::{Credential, CredentialKind, ErrorKind, OAuth2};
use http::header::AUTHORIZATION;
use secrecy::{ExposeSecret, SecretString};

use crate::{CANARY, assert_no_canary};

fn credential(access: Option<(&str, TimeDelta)>) -> Credential {
    let mut oauth = OAuth2::new(
        "roster-client",
        SecretString::from("client-secret"),
        SecretString::from(CANARY),
        "https://platform.roster.com/1/oauth/access_token",
    )
    .unwrap();
    if let Some((token, valid_for)) = access {
        oauth = oauth.with_access_token(
            SecretString::from(token.to_owned()),
            Some(Utc::now() + valid_for),
        );
    }
    Credential::new("roster", "it-ops", oauth).unwrap()
}

fn oauth(cred: &Credential) -> &OAuth2 {
    let CredentialKind::OAuth2(oauth) = cred.kind() else {
        panic!("oauth2 credential")
    };
    oauth
}

fn bearer(cred: &Credential) -> String {
    let (name, value) = cred.header().expect("a bearer header");
    assert_eq!(name, AUTHORIZATION);
    assert!(value.is_sensitive());
    value.to_str().unwrap().to_owned()
}

#[test]
fn an_expired_token_needs_a_refresh_and_the_answer_is_kept_with_its_expiry() {
    let cred = credential(Some(("stale-access", TimeDelta::hours(-1))));
    let o = oauth(&cred);
    let now = Utc::now();
    assert!(o.needs_refresh_at(now));
    // What the token endpoint needs: the refresh token and the client secret.
    assert_eq!(o.refresh_token().expose_secret(), CANARY);
    assert_eq!(o.client_secret().expose_secret(), "client-secret");
    assert_eq!(o.client_id(), "roster-client");

    o.record_refresh(
        SecretString::from("fresh-access"),
        Some(SecretString::from("rotated-refresh")),
        Some(2_592_000),
        now,
    )
    .unwrap();
    assert_eq!(bearer(&cred), "Bearer fresh-access");
    let expires = o.access_token_expires_at().expect("expiry from expires_in");
    assert!(expires > now + TimeDelta::days(29));
    assert!(!o.needs_refresh_at(now), "fresh now: no second refresh");
    assert!(
        o.needs_refresh_at(expires - TimeDelta::seconds(30)),
        "refreshed before expiry"
    );
}

#[test]
fn a_rotated_refresh_token_is_the_one_for_the_next_refresh() {
    let cred = credential(None);
    let o = oauth(&cred);
    let now = Utc::now();
    o.record_refresh(
        SecretString::from("a1"),
        Some(SecretString::from("r2")),
        Some(1),
        now,
    )
    .unwrap();
    assert_eq!(bearer(&cred), "Bearer a1");
    assert_eq!(o.refresh_token().expose_secret(), "r2");
    // No rotation in the answer: the refresh token stays.
    o.record_refresh(SecretString::from("a2"), None, Some(3600), now)
        .unwrap();
    assert_eq!(bearer(&cred), "Bearer a2");
    assert_eq!(o.refresh_token().expose_secret(), "r2");
}

#[test]
fn a_fresh_token_needs_no_refresh() {
    let cred = credential(Some(("current", TimeDelta::hours(1))));
    assert!(!oauth(&cred).needs_refresh_at(Utc::now()));
    assert_eq!(bearer(&cred), "Bearer current");
}

#[test]
fn an_empty_access_token_is_refused_without_showing_a_secret() {
    let cred = credential(Some(("current", TimeDelta::hours(1))));
    let err = oauth(&cred)
        .record_refresh(
            SecretString::from(""),
            Some(SecretString::from(CANARY)),
            None,
            Utc::now(),
        )
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Invalid { .. }), "{err}");
    assert_no_canary("refresh error", &format!("{err} {err:?}"));
    assert_eq!(bearer(&cred), "Bearer current", "nothing changed");
    assert_no_canary("credential", &format!("{cred:?} {cred}"));
}
