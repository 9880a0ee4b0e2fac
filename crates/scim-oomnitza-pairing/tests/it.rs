//! The `[scim]` section and the SCIM source: configuration files (defaults, every problem at
//! once) and reads of the SCIM emulator (fields, roles, groups, last activity, a basic
//! credential, an incomplete listing).

use std::collections::BTreeMap;
use std::path::Path;

use api_sandbox::scim::{ACTIVITY_SCHEMA, ScimConfig, ScimEmulator, ScimUser, generate};
use api_sandbox::{DataSpec, Fault, FaultRule};
use scim_oomnitza_pairing::{PAIRING, ScimSection};
use secrecy::SecretString;
use sync_engine::{NoProgress, SourceRecord, Value};
use sync_runtime::credentials::Secret;
use sync_runtime::{Config, ConfigErrors, Secrets, SectionSecrets};

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(Path::new("scim.toml"), text.to_owned(), &PAIRING)
}

const OOMNITZA: &str = r#"
[oomnitza]
base_url = "https://acme.oomnitza.com"
credential = { env = "OOMNITZA_TOKEN" }
saas_name = "Slack"
"#;

#[test]
fn a_minimal_file_works_with_the_client_defaults() {
    let config = parse(&format!(
        "[scim]\nbase_url = \"https://api.slack.com/scim/v2\"\ncredential = {{ env = \"T\" }}\n{OOMNITZA}"
    ))
    .expect("a minimal file");
    let scim: ScimSection = config.doc().section("scim").expect("[scim]");
    assert_eq!(scim.page_size, None);
    assert_eq!(scim.max_wait.map(|d| d.get().as_secs()), Some(900));
    assert_eq!(scim.max_request_wait, None);
    assert_eq!(config.name(), "SCIM users");
}

#[test]
fn every_problem_is_reported_at_once_with_its_key() {
    let text = r#"
[scim]
base_url = "http://scim.example.com/scim/v2"
page_size = 0
max_pages = 0
max_wait = false

[oomnitza]
base_url = "https://acme.oomnitza.com"
credential = { env = "OOMNITZA_TOKEN" }
"#;
    let errors = parse(text).expect_err("problems");
    let all = errors.to_string();
    for key in [
        "scim.base_url",
        "scim.credential",
        "scim.page_size",
        "scim.max_pages",
        "oomnitza.saas_name",
    ] {
        assert!(all.contains(key), "{key} in:\n{all}");
    }
    assert!(all.contains("plain http://"), "{all}");
    let unknown = parse(&format!(
        "[scim]\nbase_url = \"https://x.example/scim/v2\"\ncredential = \"s\"\ncolour = 1\n{OOMNITZA}"
    ))
    .expect_err("unknown key");
    assert!(unknown.to_string().contains("colour"), "{unknown}");
}

/// The source the pairing builds for the emulator, with `extra` keys in `[scim]`.
fn source_for(scim: &ScimEmulator, extra: &str, secret: Secret) -> Box<dyn sync_engine::Source> {
    let text = format!(
        "[scim]\nbase_url = \"{}\"\ncredential = \"scim\"\n{extra}\n{OOMNITZA}",
        scim.base_url()
    );
    let config = parse(&text).expect("configuration");
    let secrets = Secrets {
        source: SectionSecrets::new("scim").with("credential", secret),
        target: SectionSecrets::new("oomnitza")
            .with("credential", Secret::Token(SecretString::from("o"))),
    };
    let integration = sync_runtime::build_with_secrets(&config, &secrets).expect("build");
    integration.open().expect("open").source
}

fn bearer(scim: &ScimEmulator) -> Secret {
    Secret::Token(SecretString::from(scim.token().to_owned()))
}

fn by_key(records: Vec<SourceRecord>) -> BTreeMap<String, SourceRecord> {
    records
        .into_iter()
        .map(|r| (r.key.to_string(), r))
        .collect()
}

fn text(r: &SourceRecord, field: &str) -> Option<String> {
    r.fields
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[tokio::test]
async fn records_carry_the_contract_fields_roles_and_last_activity() {
    let spec = DataSpec {
        users: 80,
        seed: 5,
        ..DataSpec::default()
    };
    let (users, groups) = generate(&spec);
    let admins = groups
        .iter()
        .find(|g| g.display_name == "Administrators")
        .expect("Administrators")
        .members
        .clone();
    let scim = ScimEmulator::start(ScimConfig::default(), users.clone(), groups)
        .await
        .expect("emulator");
    let extra = format!(
        "role_from_groups = [\"administrators\"]\nlast_activity_attribute = \"{ACTIVITY_SCHEMA}:lastLogin\"\nrobot_attribute = \"{ACTIVITY_SCHEMA}:robot\"\npage_size = 30"
    );
    let source = source_for(&scim, &extra, bearer(&scim));
    let snapshot = source.read(&NoProgress).await.expect("read");
    assert!(snapshot.completeness.is_complete());
    assert_eq!(snapshot.reported_total, Some(80));
    assert_eq!(source.stats().calls, 3, "80 users at 30 a page");
    let records = by_key(snapshot.records);
    let check = |u: &ScimUser| {
        let r = &records[&u.id];
        assert_eq!(r.active, u.active);
        assert_eq!(text(r, "userName").as_deref(), Some(u.user_name.as_str()));
        assert_eq!(text(r, "email"), Some(u.emails[0].to_lowercase()));
        assert_eq!(text(r, "given_name").unwrap_or_default(), u.given_name);
        // The emulator leaves an empty name part out.
        assert_eq!(text(r, "family_name").unwrap_or_default(), u.family_name);
        assert_eq!(r.fields.get("is_robot"), Some(&Value::Bool(u.robot)));
        assert_eq!(text(r, "external_id"), u.external_id.clone());
        let role = if admins.contains(&u.id) {
            "administrators"
        } else {
            "Member"
        };
        assert_eq!(r.roles, [role], "{}", u.id);
        let login = u.last_login_usec.map(|us| us.div_euclid(1_000_000));
        assert_eq!(r.last_activity.map(|t| t.timestamp()), login);
    };
    users.iter().for_each(check);
    assert!(users.iter().any(|u| !u.active) && users.iter().any(|u| u.robot));
    scim.shutdown().await;
}

#[tokio::test]
async fn a_group_filter_a_role_attribute_and_basic_credentials() {
    let spec = DataSpec {
        users: 60,
        seed: 6,
        ..DataSpec::default()
    };
    let (users, groups) = generate(&spec);
    let sales = groups
        .iter()
        .find(|g| g.display_name == "Sales")
        .expect("Sales")
        .members
        .clone();
    let scim = ScimEmulator::start(ScimConfig::default(), users.clone(), groups)
        .await
        .expect("emulator");
    let (user, password) = scim.basic_credentials().expect("basic on");
    let basic = Secret::Basic {
        user: user.to_owned(),
        password: SecretString::from(password.to_owned()),
    };
    let extra = "groups = [\"SALES\"]\nrole_attribute = \"roles.value\"";
    let source = source_for(&scim, extra, basic);
    let snapshot = source.read(&NoProgress).await.expect("read with basic");
    let records = by_key(snapshot.records);
    let keys: Vec<&String> = records.keys().collect();
    let mut want: Vec<&String> = sales.iter().collect();
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(
        snapshot.reported_total, None,
        "fewer records than the listing"
    );
    for u in users.iter().filter(|u| sales.contains(&u.id)) {
        assert_eq!(records[&u.id].roles, [u.roles[0].as_str()]);
    }
    scim.shutdown().await;
}

#[tokio::test]
async fn a_repeated_page_fails_the_read_and_a_refused_token_is_an_auth_error() {
    let spec = DataSpec {
        users: 30,
        ..DataSpec::default()
    };
    let scim = ScimEmulator::start_generated(ScimConfig::default(), &spec)
        .await
        .expect("emulator");
    scim.faults().inject(
        FaultRule::new(http::Method::GET, "/scim/v2/Users", Fault::RepeatPage)
            .after(1)
            .times(1),
    );
    let source = source_for(&scim, "page_size = 10", bearer(&scim));
    let error = source.read(&NoProgress).await.expect_err("incomplete");
    assert!(error.to_string().contains("repeats"), "{error}");
    let wrong = Secret::Token(SecretString::from("CANARY-wrong-1f2e"));
    let source = source_for(&scim, "", wrong);
    let error = source.validate().await.expect_err("401");
    assert_eq!(error.kind, sync_engine::ErrorKind::Auth, "{error}");
    assert!(!error.to_string().contains("CANARY"), "{error}");
    scim.shutdown().await;
}
