//! Mapping configuration, compilation, evaluation and error messages.

use chrono::{DateTime, Utc};
use sync_engine::{
    Collection, ConfigError, FieldKind, FieldSpec, Fields, KeyMapping, MappingConfig,
    MappingContext, SourceRecord, Value,
};

use crate::support::source_fields;

fn ctx() -> MappingContext {
    MappingContext::new(
        DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        "roster-prod",
    )
}

fn ts(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

fn record() -> SourceRecord {
    SourceRecord {
        key: "u1".into(),
        fields: Fields::new()
            .with("id", "u1")
            .with("name", "Ada King Lovelace")
            .with("email", " Ada@Example.COM ")
            .with("emails", vec!["Ada@Example.COM", "ada@old.example"])
            .with("is_robot", false)
            .with("created_at", ts(1_600_000_000))
            .with("seats", 3),
        active: true,
        roles: vec!["admin".into(), "member".into()],
        last_activity: Some(ts(1_650_000_000)),
    }
}

fn compile_toml(toml_text: &str) -> Result<sync_engine::Mapping, ConfigError> {
    let config: MappingConfig = toml::from_str(toml_text).expect("valid TOML");
    config.compile(Collection::Users, Some(&source_fields()))
}

#[test]
fn from_toml_with_types_preserved() {
    let mapping = compile_toml(
        r#"
        sync_key = { source = "id", target = "roster_user_id" }
        fallback_keys = [{ source = "email", target = "email" }]
        case_insensitive = ["email"]
        [fields]
        email = "{{ emails[0] | lower }}"
        first_name = "{{ name | first_name }}"
        last_name = "{{ name | last_name }}"
        display = "{{ name }} <{{ email | trim }}>"
        domain = "{{ email | domain }}"
        robot = "{{ is_robot }}"
        not_robot = "{{ not is_robot }}"
        all_emails = "{{ emails }}"
        created = "{{ created_at }}"
        created_epoch = "{{ created_at | epoch }}"
        seen = "{{ last_activity }}"
        synced = "{{ sync_time }}"
        synced_text = "at {{ sync_time }}"
        credential = "{{ credential_name }}"
        role = "{{ role | upper }}"
        roles = "{{ roles }}"
        seats = "{{ seats * 2 }}"
        half = "{{ seats / 2 }}"
        source_type = "Roster"
        active_flag = true
        weight = 1.5
        level = 7
        "#,
    )
    .expect("compiles");
    let d = mapping.desired(&record(), &ctx()).expect("maps");
    assert_eq!(d.key, "u1");
    assert!(d.active);
    let get = |n: &str| {
        d.fields
            .get(n)
            .cloned()
            .unwrap_or_else(|| panic!("no field {n}"))
    };
    assert_eq!(get("roster_user_id"), Value::from("u1"));
    assert_eq!(get("email"), Value::from("ada@example.com"));
    assert_eq!(get("first_name"), Value::from("Ada"));
    assert_eq!(get("last_name"), Value::from("King Lovelace"));
    assert_eq!(
        get("display"),
        Value::from("Ada King Lovelace <Ada@Example.COM>")
    );
    assert_eq!(get("domain"), Value::from("example.com"));
    assert_eq!(get("robot"), Value::Bool(false));
    assert_eq!(get("not_robot"), Value::Bool(true));
    assert_eq!(
        get("all_emails"),
        Value::from(vec!["Ada@Example.COM", "ada@old.example"])
    );
    assert_eq!(get("created"), Value::Timestamp(ts(1_600_000_000)));
    assert_eq!(get("created_epoch"), Value::Int(1_600_000_000));
    assert_eq!(get("seen"), Value::Timestamp(ts(1_650_000_000)));
    assert_eq!(get("synced"), Value::Timestamp(ts(1_700_000_000)));
    assert_eq!(get("synced_text"), Value::from("at 2023-11-14T22:13:20Z"));
    assert_eq!(get("credential"), Value::from("roster-prod"));
    assert_eq!(get("role"), Value::from("ADMIN"));
    assert_eq!(get("roles"), Value::from(vec!["admin", "member"]));
    assert_eq!(get("seats"), Value::Int(6));
    assert_eq!(get("half"), Value::Float(1.5));
    assert_eq!(get("source_type"), Value::from("Roster"));
    assert_eq!(get("active_flag"), Value::Bool(true));
    assert_eq!(get("weight"), Value::Float(1.5));
    assert_eq!(get("level"), Value::Int(7));

    let spec = mapping.spec();
    assert_eq!(&*spec.sync_key, "roster_user_id");
    assert_eq!(
        spec.fallback_keys,
        vec![sync_engine::FieldName::from("email")]
    );
    assert!(spec.fields.iter().any(|f| &**f == "roster_user_id"));
    assert_eq!(mapping.compare_options().case_insensitive.len(), 1);
}

#[test]
fn fallback_key_not_mapped_is_taken_from_the_source() {
    let m = MappingConfig::new(KeyMapping::new("id", "roster_user_id"))
        .fallback(KeyMapping::new("email", "work_email"))
        .compile(Collection::Users, Some(&source_fields()))
        .unwrap();
    let d = m.desired(&record(), &ctx()).unwrap();
    assert_eq!(
        d.fields.get("work_email"),
        Some(&Value::from(" Ada@Example.COM "))
    );
    assert_eq!(d.fields.len(), 2);
}

#[test]
fn unknown_config_keys_are_rejected() {
    let err = toml::from_str::<MappingConfig>(
        r#"
        sync_key = { source = "id", target = "roster_user_id" }
        feilds = {}
        "#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("unknown field `feilds`"), "{err}");
}

fn compile_field(expr: &str) -> Result<sync_engine::Mapping, ConfigError> {
    MappingConfig::new(KeyMapping::new("id", "roster_user_id"))
        .field("full_name", expr)
        .compile(Collection::Users, Some(&source_fields()))
}

#[test]
fn syntax_error_names_field_and_position() {
    let err = compile_field("{{ name ").unwrap_err();
    assert_eq!(err.path, "mapping.users.fields.full_name");
    assert_eq!(
        err.to_string(),
        "mapping.users.fields.full_name: syntax error: unexpected end of input, expected end of variable block at line 1 col 4"
    );
    let err = compile_field("Hello\n  {{ name | }}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "mapping.users.fields.full_name: syntax error: unexpected end of variable block, expected identifier at line 2 col 13"
    );
}

#[test]
fn unknown_source_field_names_field_and_position() {
    let err = compile_field("{{ first }} {{ nmae | upper }}").unwrap_err();
    assert_eq!(err.path, "mapping.users.fields.full_name");
    assert!(
        err.message
            .starts_with("unknown source field `first` (known fields: "),
        "{err}"
    );
    let p = err.position.unwrap();
    assert_eq!((p.line, p.col), (1, 4));
}

#[test]
fn unknown_filter_is_found_at_load() {
    let err = compile_field("{{ name | titel }}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "mapping.users.fields.full_name: unknown filter: filter titel is unknown at line 1 col 11"
    );
}

#[test]
fn without_source_fields_unknown_names_are_allowed() {
    let m = MappingConfig::new(KeyMapping::new("id", "roster_user_id"))
        .field("x", "{{ anything_goes }}")
        .compile(Collection::Users, None)
        .unwrap();
    let d = m.desired(&record(), &ctx()).unwrap();
    assert_eq!(d.fields.get("x"), Some(&Value::Null));
}

#[test]
fn key_mapping_errors() {
    let err = MappingConfig::new(KeyMapping::new("uid", "roster_user_id"))
        .compile(Collection::Users, Some(&source_fields()))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "mapping.users.sync_key.source: unknown source field `uid`"
    );
    let err = MappingConfig::new(KeyMapping::new("id", "roster_user_id"))
        .field("roster_user_id", "{{ id }}")
        .compile(Collection::SaasUsers, Some(&source_fields()))
        .unwrap_err();
    assert_eq!(err.path, "mapping.saas_users.fields.roster_user_id");
    let err = MappingConfig::new(KeyMapping::new("id", "roster_user_id"))
        .case_insensitive("mail")
        .compile(Collection::Users, Some(&source_fields()))
        .unwrap_err();
    assert_eq!(err.path, "mapping.users.case_insensitive[0]");
}

#[test]
fn render_errors_are_per_record_and_name_the_field() {
    let m = compile_field("{{ name ~ (seats + name) }}").unwrap();
    let err = m.desired(&record(), &ctx()).unwrap_err();
    assert_eq!(err.key, "u1");
    assert_eq!(err.path, "mapping.users.fields.full_name");
    assert!(
        err.message
            .starts_with("invalid operation: tried to use + operator on unsupported types"),
        "{err}"
    );
    assert!(err.message.contains("at line 1 col 12"), "{err}");

    let m = compile_field("{{ emails }}").unwrap();
    let mut r = record();
    r.fields
        .insert("emails", Value::List(vec![Value::from("a"), Value::Int(2)]));
    assert!(m.desired(&r, &ctx()).is_ok());
}

#[test]
fn missing_sync_key_is_a_record_error() {
    let m = compile_field("{{ name }}").unwrap();
    let mut r = record();
    r.fields.remove("id");
    let err = m.desired(&r, &ctx()).unwrap_err();
    assert_eq!(err.path, "mapping.users.sync_key.source");
    assert!(err.message.contains("`id` is empty"), "{err}");
}

#[test]
fn templates_cannot_reach_outside() {
    // No includes, no file access: the sandbox has no loader.
    let m = compile_field("{% include '/etc/passwd' %}").unwrap();
    let err = m.desired(&record(), &ctx()).unwrap_err();
    assert!(err.message.contains("template not found"), "{err}");
}

#[test]
fn missing_optional_values_are_null() {
    let fields = vec![
        FieldSpec::new("id", FieldKind::String, ""),
        FieldSpec::new("emails", FieldKind::List, ""),
        FieldSpec::new("manager", FieldKind::String, ""),
    ];
    let m = MappingConfig::new(KeyMapping::new("id", "k"))
        .field("email", "{{ emails[0] | lower }}")
        .field("manager", "{{ manager.email }}")
        .compile(Collection::Users, Some(&fields))
        .unwrap();
    let r = SourceRecord {
        key: "u".into(),
        fields: Fields::new()
            .with("id", "u")
            .with("emails", Value::List(vec![])),
        active: true,
        roles: vec![],
        last_activity: None,
    };
    let d = m.desired(&r, &ctx()).unwrap();
    assert!(sync_engine::values_equal(
        d.fields.get("email").unwrap(),
        &Value::Null,
        false
    ));
    assert_eq!(d.fields.get("manager"), Some(&Value::Null));
}
