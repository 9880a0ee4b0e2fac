//! Resource JSON (RFC 7643 §4, §8), the discovery documents (RFC 7643 §5–§7) and attribute
//! selection (`attributes`, `excludedAttributes`, RFC 7644 §3.4.2.5).

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat};
use serde_json::{Map, Value, json};

use super::filter::Schema;
use super::state::{Directory, ScimGroup, ScimUser};

/// Core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The sandbox's own vendor extension: `lastLogin` (dateTime) and `robot` (boolean).
pub const ACTIVITY_SCHEMA: &str = "urn:api-sandbox:params:scim:schemas:extension:activity:2.0:User";
/// List responses (RFC 7644 §3.4.2).
pub(crate) const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Filterable user attributes.
pub(crate) const USER_FILTER: Schema = Schema {
    core: "urn:ietf:params:scim:schemas:core:2.0:user",
    extensions: &[
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user",
        "urn:api-sandbox:params:scim:schemas:extension:activity:2.0:user",
    ],
    attributes: &[
        "id",
        "externalid",
        "username",
        "displayname",
        "active",
        "title",
        "emails",
        "emails.value",
        "emails.type",
        "emails.primary",
        "name.givenname",
        "name.familyname",
        "name.formatted",
        "roles",
        "roles.value",
        "groups",
        "groups.value",
        "groups.display",
        "meta.created",
        "meta.lastmodified",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:employeenumber",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:department",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:organization",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:division",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:costcenter",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:manager.value",
        "urn:api-sandbox:params:scim:schemas:extension:activity:2.0:user:lastlogin",
        "urn:api-sandbox:params:scim:schemas:extension:activity:2.0:user:robot",
    ],
    case_exact: &["id", "externalid", "groups.value"],
};

/// Filterable group attributes.
pub(crate) const GROUP_FILTER: Schema = Schema {
    core: "urn:ietf:params:scim:schemas:core:2.0:group",
    extensions: &[],
    attributes: &[
        "id",
        "externalid",
        "displayname",
        "members",
        "members.value",
        "members.display",
        "meta.created",
        "meta.lastmodified",
    ],
    case_exact: &["id", "externalid", "members", "members.value"],
};

/// RFC 3339 (UTC, seconds) of a microsecond timestamp.
pub(crate) fn rfc3339(usec: i64) -> String {
    DateTime::from_timestamp_micros(usec)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn meta(resource_type: &str, location: &str, created: i64, modified: i64) -> Value {
    json!({
        "resourceType": resource_type,
        "created": rfc3339(created),
        "lastModified": rfc3339(modified),
        "location": location,
        // A weak ETag that changes with every modification.
        "version": format!("W/\"{modified:x}\""),
    })
}

/// A user resource. `memberships`: the user's groups (id, name).
pub(crate) fn user_json(
    user: &ScimUser,
    dir: &Directory,
    memberships: &HashMap<&str, Vec<(&str, &str)>>,
    base: &str,
) -> Value {
    let mut schemas = vec![USER_SCHEMA];
    let mut out = Map::new();
    out.insert("id".into(), json!(user.id));
    if let Some(e) = &user.external_id {
        out.insert("externalId".into(), json!(e));
    }
    out.insert("userName".into(), json!(user.user_name));
    let mut name = Map::new();
    name.insert("formatted".into(), json!(user.display_name));
    if !user.given_name.is_empty() {
        name.insert("givenName".into(), json!(user.given_name));
    }
    if !user.family_name.is_empty() {
        name.insert("familyName".into(), json!(user.family_name));
    }
    out.insert("name".into(), Value::Object(name));
    out.insert("displayName".into(), json!(user.display_name));
    let emails: Vec<Value> = user
        .emails
        .iter()
        .enumerate()
        .map(|(i, e)| {
            if i == 0 {
                json!({"value": e, "type": "work", "primary": true})
            } else {
                json!({"value": e, "type": "other"})
            }
        })
        .collect();
    out.insert("emails".into(), Value::Array(emails));
    out.insert("active".into(), json!(user.active));
    if let Some(t) = &user.title {
        out.insert("title".into(), json!(t));
    }
    if !user.roles.is_empty() {
        let roles: Vec<Value> = user
            .roles
            .iter()
            .enumerate()
            .map(|(i, r)| json!({"value": r, "display": r, "primary": i == 0}))
            .collect();
        out.insert("roles".into(), Value::Array(roles));
    }
    if let Some(groups) = memberships.get(user.id.as_str()) {
        let groups: Vec<Value> = groups
            .iter()
            .map(|(id, name)| {
                json!({
                    "value": id,
                    "$ref": format!("{base}/Groups/{id}"),
                    "display": name,
                    "type": "direct",
                })
            })
            .collect();
        out.insert("groups".into(), Value::Array(groups));
    }
    let mut enterprise = Map::new();
    for (key, value) in [
        ("employeeNumber", &user.employee_number),
        ("costCenter", &user.cost_center),
        ("organization", &user.organization),
        ("division", &user.division),
        ("department", &user.department),
    ] {
        if let Some(v) = value {
            enterprise.insert(key.into(), json!(v));
        }
    }
    if let Some(m) = &user.manager_id {
        let mut manager = Map::new();
        manager.insert("value".into(), json!(m));
        manager.insert("$ref".into(), json!(format!("{base}/Users/{m}")));
        if let Some(boss) = dir.user(m) {
            manager.insert("displayName".into(), json!(boss.display_name));
        }
        enterprise.insert("manager".into(), Value::Object(manager));
    }
    if !enterprise.is_empty() {
        schemas.push(ENTERPRISE_SCHEMA);
        out.insert(ENTERPRISE_SCHEMA.into(), Value::Object(enterprise));
    }
    let mut activity = Map::new();
    activity.insert("robot".into(), json!(user.robot));
    if let Some(at) = user.last_login_usec {
        activity.insert("lastLogin".into(), json!(rfc3339(at)));
    }
    schemas.push(ACTIVITY_SCHEMA);
    out.insert(ACTIVITY_SCHEMA.into(), Value::Object(activity));
    out.insert(
        "meta".into(),
        meta(
            "User",
            &format!("{base}/Users/{}", user.id),
            user.created_usec,
            user.last_modified_usec,
        ),
    );
    out.insert("schemas".into(), json!(schemas));
    Value::Object(out)
}

/// A group resource.
pub(crate) fn group_json(group: &ScimGroup, dir: &Directory, base: &str) -> Value {
    let members: Vec<Value> = group
        .members
        .iter()
        .map(|id| {
            let mut m = Map::new();
            m.insert("value".into(), json!(id));
            m.insert("$ref".into(), json!(format!("{base}/Users/{id}")));
            m.insert("type".into(), json!("User"));
            if let Some(u) = dir.user(id) {
                m.insert("display".into(), json!(u.display_name));
            }
            Value::Object(m)
        })
        .collect();
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP_SCHEMA]));
    out.insert("id".into(), json!(group.id));
    if let Some(e) = &group.external_id {
        out.insert("externalId".into(), json!(e));
    }
    out.insert("displayName".into(), json!(group.display_name));
    out.insert("members".into(), Value::Array(members));
    out.insert(
        "meta".into(),
        meta(
            "Group",
            &format!("{base}/Groups/{}", group.id),
            group.created_usec,
            group.last_modified_usec,
        ),
    );
    Value::Object(out)
}

/// `GET /ServiceProviderConfig` (RFC 7643 §5).
pub(crate) fn service_provider_config(base: &str, max_results: usize, basic: bool) -> Value {
    let mut schemes = vec![json!({
        "type": "oauthbearertoken",
        "name": "OAuth Bearer Token",
        "description": "Authentication scheme using the OAuth Bearer Token Standard",
        "specUri": "https://www.rfc-editor.org/info/rfc6750",
        "primary": true,
    })];
    if basic {
        schemes.push(json!({
            "type": "httpbasic",
            "name": "HTTP Basic",
            "description": "Authentication scheme using the HTTP Basic Standard",
            "specUri": "https://www.rfc-editor.org/info/rfc7617",
        }));
    }
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/quip-oomnitza/quip-oomnitza",
        "patch": {"supported": false},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": schemes,
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    })
}

fn attribute(
    name: &str,
    kind: &str,
    multi: bool,
    description: &str,
    extra: &[(&str, Value)],
) -> Value {
    let mut a = json!({
        "name": name,
        "type": kind,
        "multiValued": multi,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    });
    for (k, v) in extra {
        a[*k] = v.clone();
    }
    a
}

fn sub(names: &[(&str, &str)]) -> Value {
    Value::Array(
        names
            .iter()
            .map(|(n, t)| attribute(n, t, false, n, &[]))
            .collect(),
    )
}

/// The schema definitions (RFC 7643 §7), abridged to the attributes this emulator serves.
pub(crate) fn schemas(base: &str) -> Vec<Value> {
    let ro = || ("mutability", json!("readOnly"));
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "User Account",
        "attributes": [
            attribute("userName", "string", false, "Unique identifier for the User", &[
                ("required", json!(true)), ("uniqueness", json!("server"))]),
            attribute("name", "complex", false, "The components of the user's real name", &[
                ("subAttributes", sub(&[("formatted", "string"), ("familyName", "string"), ("givenName", "string")]))]),
            attribute("displayName", "string", false, "The name of the User, suitable for display", &[]),
            attribute("title", "string", false, "The user's title", &[]),
            attribute("active", "boolean", false, "The User's administrative status", &[]),
            attribute("emails", "complex", true, "Email addresses for the user", &[
                ("subAttributes", sub(&[("value", "string"), ("type", "string"), ("primary", "boolean")]))]),
            attribute("roles", "complex", true, "Roles for the User", &[
                ("subAttributes", sub(&[("value", "string"), ("display", "string"), ("primary", "boolean")]))]),
            attribute("groups", "complex", true, "Groups to which the user belongs", &[
                ro(), ("subAttributes", sub(&[("value", "string"), ("$ref", "reference"), ("display", "string"), ("type", "string")]))]),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{USER_SCHEMA}")},
    });
    let enterprise = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": ENTERPRISE_SCHEMA,
        "name": "EnterpriseUser",
        "description": "Enterprise User",
        "attributes": [
            attribute("employeeNumber", "string", false, "Numeric or alphanumeric identifier assigned to a person", &[]),
            attribute("costCenter", "string", false, "Identifies the name of a cost center", &[]),
            attribute("organization", "string", false, "Identifies the name of an organization", &[]),
            attribute("division", "string", false, "Identifies the name of a division", &[]),
            attribute("department", "string", false, "Identifies the name of a department", &[]),
            attribute("manager", "complex", false, "The User's manager", &[
                ("subAttributes", sub(&[("value", "string"), ("$ref", "reference"), ("displayName", "string")]))]),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{ENTERPRISE_SCHEMA}")},
    });
    let activity = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": ACTIVITY_SCHEMA,
        "name": "Activity",
        "description": "Sign-in activity (api-sandbox vendor extension)",
        "attributes": [
            attribute("lastLogin", "dateTime", false, "Last sign-in", &[ro()]),
            attribute("robot", "boolean", false, "A bot account", &[ro()]),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{ACTIVITY_SCHEMA}")},
    });
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "Group",
        "attributes": [
            attribute("displayName", "string", false, "A human-readable name for the Group", &[("required", json!(true))]),
            attribute("members", "complex", true, "A list of members of the Group", &[
                ("subAttributes", sub(&[("value", "string"), ("$ref", "reference"), ("display", "string"), ("type", "string")]))]),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{GROUP_SCHEMA}")},
    });
    vec![user, enterprise, activity, group]
}

/// The resource types (RFC 7643 §6).
pub(crate) fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User Account",
            "schema": USER_SCHEMA,
            "schemaExtensions": [
                {"schema": ENTERPRISE_SCHEMA, "required": false},
                {"schema": ACTIVITY_SCHEMA, "required": false},
            ],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")},
        }),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "Group",
            "schema": GROUP_SCHEMA,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")},
        }),
    ]
}

/// One entry of `attributes`/`excludedAttributes`: the key of the resource it lives under
/// (an extension URN or a core attribute), and the attribute (and sub-attribute) below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selector {
    /// Lower-cased extension URN, or `None` for a core attribute.
    urn: Option<String>,
    /// Lower-cased names: attribute, then an optional sub-attribute.
    names: Vec<String>,
}

/// Parses a comma-separated attribute list; names it cannot read are ignored (RFC 7644
/// leaves unknown names to the provider).
pub(crate) fn selectors(raw: &str, schema: &Schema) -> Vec<Selector> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let lower = s.to_ascii_lowercase();
            let (urn, rest) = match std::iter::once(schema.core)
                .chain(schema.extensions.iter().copied())
                .find(|u| lower.starts_with(u))
            {
                Some(u) if u == schema.core => (None, lower[u.len()..].trim_start_matches(':')),
                Some(u) => (Some(u.to_owned()), lower[u.len()..].trim_start_matches(':')),
                None => (None, lower.as_str()),
            };
            let names: Vec<String> = rest
                .split('.')
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect();
            (urn.is_some() || !names.is_empty()).then_some(Selector { urn, names })
        })
        .collect()
}

fn key_ci(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// Copies what `names` selects from `from` into `to`.
fn copy_selected(from: &Map<String, Value>, to: &mut Map<String, Value>, names: &[String]) {
    let Some(first) = names.first() else {
        for (k, v) in from {
            to.insert(k.clone(), v.clone());
        }
        return;
    };
    let Some(key) = key_ci(from, first) else {
        return;
    };
    let value = &from[&key];
    let Some(sub) = names.get(1) else {
        to.insert(key, value.clone());
        return;
    };
    let pick = |v: &Value| -> Option<Value> {
        let object = v.as_object()?;
        let k = key_ci(object, sub)?;
        let mut m = match to.get(&key) {
            Some(Value::Object(existing)) => existing.clone(),
            _ => Map::new(),
        };
        m.insert(k.clone(), object[&k].clone());
        Some(Value::Object(m))
    };
    match value {
        Value::Array(items) => {
            let picked: Vec<Value> = items
                .iter()
                .filter_map(|item| {
                    let object = item.as_object()?;
                    let k = key_ci(object, sub)?;
                    let mut m = Map::new();
                    m.insert(k.clone(), object[&k].clone());
                    Some(Value::Object(m))
                })
                .collect();
            to.insert(key, Value::Array(picked));
        }
        other => {
            if let Some(v) = pick(other) {
                to.insert(key, v);
            }
        }
    }
}

/// Applies `attributes` (only those, plus `id` and `schemas`, which are always returned)
/// or else `excludedAttributes` (never `id` or `schemas`).
pub(crate) fn project(resource: Value, only: &[Selector], excluded: &[Selector]) -> Value {
    let Value::Object(map) = resource else {
        return resource;
    };
    if !only.is_empty() {
        let mut out = Map::new();
        for always in ["schemas", "id"] {
            if let Some(v) = map.get(always) {
                out.insert(always.into(), v.clone());
            }
        }
        for s in only {
            match &s.urn {
                None => copy_selected(&map, &mut out, &s.names),
                Some(urn) => {
                    let Some(key) = key_ci(&map, urn) else {
                        continue;
                    };
                    let Some(Value::Object(ext)) = map.get(&key) else {
                        continue;
                    };
                    let mut target = match out.remove(&key) {
                        Some(Value::Object(m)) => m,
                        _ => Map::new(),
                    };
                    copy_selected(ext, &mut target, &s.names);
                    out.insert(key, Value::Object(target));
                }
            }
        }
        return Value::Object(out);
    }
    let mut out = map;
    for s in excluded {
        let target = match &s.urn {
            None => Some(&mut out),
            Some(urn) => key_ci(&out, urn).and_then(|k| out.get_mut(&k)?.as_object_mut()),
        };
        let Some(target) = target else { continue };
        match s.names.as_slice() {
            [] => {
                if let Some(urn) = &s.urn
                    && let Some(k) = key_ci(&out, urn)
                {
                    out.remove(&k);
                }
            }
            [name] => {
                if let Some(k) = key_ci(target, name)
                    && !(s.urn.is_none() && (k == "id" || k == "schemas"))
                {
                    target.remove(&k);
                }
            }
            [name, sub, ..] => {
                if let Some(k) = key_ci(target, name) {
                    let strip = |v: &mut Value| {
                        if let Some(o) = v.as_object_mut()
                            && let Some(sk) = key_ci(o, sub)
                        {
                            o.remove(&sk);
                        }
                    };
                    match target.get_mut(&k) {
                        Some(Value::Array(items)) => items.iter_mut().for_each(strip),
                        Some(v) => strip(v),
                        None => {}
                    }
                }
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "id": "1",
            "userName": "a",
            "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": "a@x", "type": "work"}],
            ENTERPRISE_SCHEMA: {"department": "D", "costCenter": "C"},
        })
    }

    #[test]
    fn attributes_keep_only_what_is_asked_plus_id() {
        let only = selectors(
            "userName, name.givenName,emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            &USER_FILTER,
        );
        let got = project(resource(), &only, &[]);
        assert_eq!(
            got,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
                "id": "1",
                "userName": "a",
                "name": {"givenName": "A"},
                "emails": [{"value": "a@x"}],
                ENTERPRISE_SCHEMA: {"department": "D"},
            })
        );
        let core = selectors(
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
            &USER_FILTER,
        );
        assert_eq!(
            project(resource(), &core, &[]).as_object().map(Map::len),
            Some(3)
        );
    }

    #[test]
    fn excluded_attributes_never_drop_the_id() {
        let excluded = selectors(
            "id,emails,name.familyName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
            &USER_FILTER,
        );
        let got = project(resource(), &[], &excluded);
        assert_eq!(
            got,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
                "id": "1",
                "userName": "a",
                "name": {"givenName": "A"},
                ENTERPRISE_SCHEMA: {"department": "D"},
            })
        );
    }
}
