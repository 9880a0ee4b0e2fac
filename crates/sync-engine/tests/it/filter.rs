//! Include/exclude filters.

use chrono::DateTime;
use sync_engine::{FilterConfig, MappingContext};

use crate::support::{robot, source_fields, user};

fn ctx() -> MappingContext {
    MappingContext::new(DateTime::from_timestamp(0, 0).unwrap(), "cred")
}

fn filter(include: &[&str], exclude: &[&str]) -> sync_engine::Filter {
    FilterConfig {
        include: include.iter().map(|s| (*s).to_owned()).collect(),
        exclude: exclude.iter().map(|s| (*s).to_owned()).collect(),
    }
    .compile(Some(&source_fields()))
    .expect("valid filter")
}

#[test]
fn exclude_robots() {
    let f = filter(&[], &["is_robot"]);
    assert!(
        f.keep(&user("u1", "Ada", "ada@acme.com", true), &ctx())
            .unwrap()
    );
    assert!(!f.keep(&robot("r1", "Bot", "bot@acme.com"), &ctx()).unwrap());
}

#[test]
fn include_by_domain_in_three_spellings() {
    for rule in [
        r#"email is endingwith "@acme.com""#,
        r#"email.endswith("@acme.com")"#,
        r#"email | domain == "acme.com""#,
    ] {
        let f = filter(&[rule], &[]);
        assert!(
            f.keep(&user("u1", "Ada", "ada@acme.com", true), &ctx())
                .unwrap(),
            "{rule}"
        );
        assert!(
            !f.keep(&user("u2", "Bob", "bob@other.com", true), &ctx())
                .unwrap(),
            "{rule}"
        );
    }
}

#[test]
fn include_any_and_exclude_none() {
    let f = filter(
        &[
            r#"email.endswith("@acme.com")"#,
            r#"email.endswith("@acme.org")"#,
        ],
        &["is_robot", r#"name == "Test User""#],
    );
    let keep = |r| f.keep(&r, &ctx()).unwrap();
    assert!(keep(user("u1", "Ada", "ada@acme.org", true)));
    assert!(!keep(user("u2", "Bob", "bob@else.org", true)));
    assert!(!keep(robot("r1", "Bot", "bot@acme.com")));
    assert!(!keep(user("u3", "Test User", "test@acme.com", true)));
    assert!(
        filter(&[], &[])
            .keep(&robot("r", "R", "r@x"), &ctx())
            .unwrap()
    );
}

#[test]
fn errors_name_the_rule_and_position() {
    let compile = |include: Vec<String>, exclude: Vec<String>| {
        FilterConfig { include, exclude }
            .compile(Some(&source_fields()))
            .unwrap_err()
    };
    let err = compile(vec![], vec!["is_robot or".into()]);
    assert_eq!(
        err.to_string(),
        "filters.exclude[0]: syntax error: unexpected end of input, expected expression at line 1 col 10"
    );
    let err = compile(
        vec!["is_robot".into(), "emial is endingwith 'x'".into()],
        vec![],
    );
    assert_eq!(err.path, "filters.include[1]");
    assert!(
        err.message.starts_with("unknown source field `emial`"),
        "{err}"
    );
    assert_eq!(err.position.map(|p| (p.line, p.col)), Some((1, 1)));
    let err = compile(vec![], vec!["email is endswith 'x'".into()]);
    assert_eq!(
        err.to_string(),
        "filters.exclude[0]: unknown test: test endswith is unknown at line 1 col 10"
    );
    let err = compile(vec![], vec!["  ".into()]);
    assert_eq!(
        err.to_string(),
        "filters.exclude[0]: the expression is empty"
    );
}

#[test]
fn unknown_config_keys_are_rejected() {
    let err = toml::from_str::<FilterConfig>("exclude = []\nexlcude = []").unwrap_err();
    assert!(err.to_string().contains("unknown field `exlcude`"), "{err}");
}

#[test]
fn runtime_errors_name_the_rule() {
    let f = filter(&[], &["seats + 'x'"]);
    let mut r = user("u1", "Ada", "ada@acme.com", true);
    r.fields.insert("seats", 3);
    let err = f.keep(&r, &ctx()).unwrap_err();
    assert_eq!(err.path, "filters.exclude[0]");
    assert_eq!(err.key, "u1");
}
