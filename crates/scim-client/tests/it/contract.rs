//! The RFC's own examples (RFC 7643 §8, RFC 7644 §3.4.2 and §3.12), decoded into the typed
//! models, and served by a mock server to the client.

use scim_client::{
    ENTERPRISE_USER_SCHEMA, FailureKind, Group, ListResponse, ScimErrorExt, ScimType,
    ServiceProviderConfig, User,
};
use serde_json::json;

use crate::common::{Canned, Mock, client_with, config, fixture};

fn decode<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const BJENSEN: &str = "2819c223-7f76-453a-919d-413861904646";

#[test]
fn rfc7643_minimal_user() {
    let u: User = decode("rfc7643/minimal-user.json");
    assert_eq!(u.id, BJENSEN);
    assert_eq!(u.user_name.as_deref(), Some("bjensen@example.com"));
    assert_eq!(u.schemas, ["urn:ietf:params:scim:schemas:core:2.0:User"]);
    let meta = u.meta.as_ref().unwrap();
    assert_eq!(meta.resource_type.as_deref(), Some("User"));
    assert_eq!(meta.version.as_deref(), Some("W/\"3694e05e9dff590\""));
    assert_eq!(
        meta.created_at().map(|t| t.to_rfc3339()),
        Some("2010-01-23T04:56:22+00:00".to_owned())
    );
    assert_eq!(
        meta.last_modified_at().map(|t| t.timestamp()),
        Some(1_305_261_754)
    );
    assert_eq!(
        meta.location.as_deref(),
        Some("https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646")
    );
    assert!(u.emails.is_empty() && u.enterprise.is_none() && u.extra.is_empty());
    assert_eq!(u.active, None);
    assert!(u.is_active(), "absent active reads as active");
    assert_eq!(u.primary_email(), None);
}

#[test]
fn rfc7643_full_user() {
    let u: User = decode("rfc7643/full-user.json");
    assert_eq!(u.external_id.as_deref(), Some("701984"));
    let name = u.name.as_ref().unwrap();
    assert_eq!(name.formatted.as_deref(), Some("Ms. Barbara J Jensen, III"));
    assert_eq!(name.given_name.as_deref(), Some("Barbara"));
    assert_eq!(name.family_name.as_deref(), Some("Jensen"));
    assert_eq!(name.middle_name.as_deref(), Some("Jane"));
    assert_eq!(name.honorific_prefix.as_deref(), Some("Ms."));
    assert_eq!(name.honorific_suffix.as_deref(), Some("III"));
    assert_eq!(u.full_name().as_deref(), Some("Ms. Barbara J Jensen, III"));
    assert_eq!(u.display_name.as_deref(), Some("Babs Jensen"));
    assert_eq!(u.title.as_deref(), Some("Tour Guide"));
    assert_eq!(u.active, Some(true));
    assert_eq!(u.emails.len(), 2);
    assert_eq!(u.emails[0].kind.as_deref(), Some("work"));
    assert_eq!(u.emails[0].primary, Some(true));
    assert_eq!(u.emails[1].primary, None);
    assert_eq!(u.primary_email(), Some("bjensen@example.com"));
    let groups: Vec<_> = u
        .groups
        .iter()
        .map(|g| g.display.as_deref().unwrap())
        .collect();
    assert_eq!(groups, ["Tour Guides", "Employees", "US Employees"]);
    assert_eq!(
        u.groups[0].reference.as_deref(),
        Some("https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a")
    );
    assert_eq!(
        u.groups[0].value.as_deref(),
        Some("e9e30dba-f08f-4109-8486-d5c6a331660a")
    );
    // Everything the model does not name stays reachable.
    for key in [
        "nickName",
        "profileUrl",
        "addresses",
        "phoneNumbers",
        "ims",
        "photos",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "password",
        "x509Certificates",
    ] {
        assert!(u.extra.contains_key(key), "{key}");
    }
    assert_eq!(u.attribute("nickName"), Some(json!("Babs")));
    assert_eq!(u.attribute("NICKNAME"), Some(json!("Babs")));
    assert_eq!(u.attribute("name.givenName"), Some(json!("Barbara")));
    assert_eq!(
        u.attribute("emails.value"),
        Some(json!(["bjensen@example.com", "babs@jensen.org"]))
    );
    assert_eq!(
        u.attribute("phoneNumbers.type"),
        Some(json!(["work", "mobile"]))
    );
    assert_eq!(
        u.attribute("urn:ietf:params:scim:schemas:core:2.0:User:userName"),
        Some(json!("bjensen@example.com"))
    );
    assert_eq!(u.attribute("name.nothing"), None);
    assert_eq!(u.attribute("nothing"), None);
    // Decoding what the model serialises gives the same user.
    let again: User = serde_json::from_value(u.to_json()).unwrap();
    assert_eq!(again, u);
}

#[test]
fn rfc7643_enterprise_user_and_attribute_paths() {
    let u: User = decode("rfc7643/enterprise-user.json");
    assert!(u.schemas.iter().any(|s| s == ENTERPRISE_USER_SCHEMA));
    let e = u.enterprise.as_ref().unwrap();
    assert_eq!(e.employee_number.as_deref(), Some("701984"));
    assert_eq!(e.cost_center.as_deref(), Some("4130"));
    assert_eq!(e.organization.as_deref(), Some("Universal Studios"));
    assert_eq!(e.division.as_deref(), Some("Theme Park"));
    assert_eq!(e.department.as_deref(), Some("Tour Operations"));
    let m = e.manager.as_ref().unwrap();
    assert_eq!(
        m.value.as_deref(),
        Some("26118915-6090-4610-87e4-49d8ca9f808d")
    );
    assert_eq!(
        m.reference.as_deref(),
        Some("../Users/26118915-6090-4610-87e4-49d8ca9f808d")
    );
    assert_eq!(m.display_name.as_deref(), Some("John Smith"));
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    assert_eq!(
        u.attribute(&format!("{ent}:department")),
        Some(json!("Tour Operations"))
    );
    assert_eq!(
        u.attribute(&format!("{}:DEPARTMENT", ent.to_uppercase())),
        Some(json!("Tour Operations"))
    );
    assert_eq!(
        u.attribute(&format!("{ent}:manager.displayName")),
        Some(json!("John Smith"))
    );
    assert_eq!(u.attribute(&format!("{ent}:nothing")), None);

    // A vendor extension, and an extension attribute the model does not name.
    let mut json = u.to_json();
    json["urn:ietf:params:scim:schemas:extension:slack:profile:2.0:User"] =
        json!({"startDate": "2020-01-01", "seat": {"kind": "full"}});
    json[ent]["badge"] = json!("B-17");
    let u: User = serde_json::from_value(json).unwrap();
    assert_eq!(
        u.attribute("urn:ietf:params:scim:schemas:extension:slack:profile:2.0:User:seat.kind"),
        Some(json!("full"))
    );
    assert_eq!(
        u.enterprise.as_ref().unwrap().extra.get("badge"),
        Some(&json!("B-17"))
    );
    assert_eq!(u.attribute(&format!("{ent}:badge")), Some(json!("B-17")));
}

#[test]
fn rfc7643_group_and_service_provider_config() {
    let g: Group = decode("rfc7643/group.json");
    assert_eq!(g.id, "e9e30dba-f08f-4109-8486-d5c6a331660a");
    assert_eq!(g.display_name.as_deref(), Some("Tour Guides"));
    let members: Vec<_> = g
        .members
        .iter()
        .map(|m| (m.value.as_deref().unwrap(), m.display.as_deref().unwrap()))
        .collect();
    assert_eq!(
        members,
        [
            (BJENSEN, "Babs Jensen"),
            ("902c246b-6245-4190-8e05-00816be7344a", "Mandy Pepperidge")
        ]
    );
    assert!(
        g.members[0]
            .reference
            .as_deref()
            .unwrap()
            .ends_with(BJENSEN)
    );
    assert_eq!(
        g.attribute("members.display"),
        Some(json!(["Babs Jensen", "Mandy Pepperidge"]))
    );

    let spc: ServiceProviderConfig = decode("rfc7643/service-provider-config.json");
    assert!(spc.supports_filter());
    assert_eq!(spc.filter.as_ref().unwrap().max_results, Some(200));
    let bulk = spc.bulk.as_ref().unwrap();
    assert_eq!(
        (bulk.max_operations, bulk.max_payload_size),
        (Some(1000), Some(1_048_576))
    );
    assert_eq!(spc.patch.as_ref().unwrap().supported, Some(true));
    assert_eq!(spc.etag.as_ref().unwrap().supported, Some(true));
    let schemes: Vec<_> = spc
        .authentication_schemes
        .iter()
        .map(|s| (s.kind.as_deref().unwrap(), s.primary))
        .collect();
    assert_eq!(
        schemes,
        [("oauthbearertoken", Some(true)), ("httpbasic", None)]
    );
    assert_eq!(
        spc.documentation_uri.as_deref(),
        Some("http://example.com/help/scim.html")
    );
}

#[test]
fn rfc7644_list_responses() {
    let filtered: ListResponse<User> = decode("rfc7644/list-filtered.json");
    assert_eq!(filtered.total_results, Some(2));
    assert_eq!(
        (filtered.start_index, filtered.items_per_page),
        (None, None)
    );
    let names: Vec<_> = filtered
        .resources
        .iter()
        .map(|u| u.user_name.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["bjensen", "jsmith"]);
    let paged: ListResponse<User> = decode("rfc7644/list-paged.json");
    assert_eq!(
        (paged.total_results, paged.items_per_page, paged.start_index),
        (Some(100), Some(10), Some(1))
    );
    assert_eq!(paged.resources[0].id, BJENSEN);
    // Lenient forms some providers send.
    let odd: ListResponse<User> = serde_json::from_value(json!({
        "totalResults": 1,
        "resources": [{"id": "x", "active": "False", "emails": null, "groups": null}],
    }))
    .unwrap();
    assert_eq!(odd.resources[0].active, Some(false));
    assert!(odd.resources[0].emails.is_empty());
    let bad = serde_json::from_value::<User>(json!({"id": "x", "active": "maybe"}));
    assert!(bad.is_err());
    let no_id = serde_json::from_value::<User>(json!({"userName": "x"}));
    assert!(no_id.is_err(), "an id is required");
}

#[tokio::test]
async fn discovery_reads_the_rfc_examples_over_http() {
    let mock = Mock::start(&[
        (
            "/scim/v2/ServiceProviderConfig",
            Canned::scim(200, fixture("rfc7643/service-provider-config.json")),
        ),
        (
            "/scim/v2/ResourceTypes",
            Canned::scim(200, fixture("rfc7643/resource-types.json")),
        ),
        (
            "/scim/v2/Schemas",
            Canned::scim(200, fixture("rfc7643/schemas.json")),
        ),
    ])
    .await;
    let (client, _) = client_with(config(&mock.base, "tok"));
    let discovery = client.discovery();
    let spc = discovery.service_provider_config().await.unwrap();
    assert_eq!(spc.filter.unwrap().max_results, Some(200));
    let types = discovery.resource_types().await.unwrap();
    assert_eq!(types.len(), 2);
    assert_eq!(types[0].endpoint, "/Users");
    assert_eq!(types[0].schema_extensions[0].schema, ENTERPRISE_USER_SCHEMA);
    assert_eq!(types[0].schema_extensions[0].required, Some(true));
    assert_eq!(types[1].name, "Group");
    let schemas = discovery.schemas().await.unwrap();
    assert_eq!(schemas.len(), 2);
    let user = &schemas[0];
    assert_eq!(user.attributes[0].name, "userName");
    assert_eq!(user.attributes[0].uniqueness.as_deref(), Some("server"));
    assert_eq!(user.attributes[0].required, Some(true));
    let emails = user.attributes.iter().find(|a| a.name == "emails").unwrap();
    assert_eq!(emails.multi_valued, Some(true));
    assert_eq!(
        emails.sub_attributes[1].canonical_values,
        [json!("work"), json!("home"), json!("other")]
    );
    let groups = user.attributes.iter().find(|a| a.name == "groups").unwrap();
    assert_eq!(groups.sub_attributes[0].reference_types, ["User", "Group"]);
    assert_eq!(schemas[1].name.as_deref(), Some("EnterpriseUser"));
    // Every request asked for SCIM JSON and carried the token.
    let received = mock.received.lock().unwrap().clone();
    assert_eq!(received.len(), 3);
    for (path, headers) in received {
        assert_eq!(
            headers["accept"], "application/scim+json, application/json;q=0.9",
            "{path}"
        );
        assert_eq!(headers["authorization"], "Bearer tok");
    }
}

#[tokio::test]
async fn rfc7644_errors_are_typed() {
    let mock = Mock::start(&[
        (
            &format!("/scim/v2/Users/{BJENSEN}") as &str,
            Canned::scim(404, fixture("rfc7644/error-404.json")),
        ),
        (
            "/scim/v2/Users/readonly",
            Canned::scim(400, fixture("rfc7644/error-mutability.json")),
        ),
        (
            "/scim/v2/Users/changed",
            Canned::scim(412, fixture("rfc7644/error-412.json")),
        ),
        (
            "/scim/v2/Users/html",
            Canned {
                status: 200,
                content_type: "text/html; charset=utf-8",
                body: "<html>Sign in</html>".into(),
            },
        ),
        (
            "/scim/v2/Users/plain",
            Canned {
                status: 200,
                content_type: "application/json",
                body: json!({"id": "plain", "userName": "p"}).to_string(),
            },
        ),
    ])
    .await;
    let (client, _) = client_with(config(&mock.base, "tok"));
    let users = client.users();
    let e = users.get(BJENSEN).send().await.unwrap_err();
    assert_eq!(e.failure(), FailureKind::NotFound);
    let scim = e.scim_error().unwrap();
    assert_eq!(scim.status, Some(404));
    assert_eq!(
        scim.detail.as_deref(),
        Some("Resource 2819c223-7f76-453a-919d-413861904646 not found")
    );
    assert_eq!(scim.scim_type, None);
    assert_eq!(
        e.to_string(),
        format!(
            "SCIM GET /scim/v2/Users/{BJENSEN}: answered HTTP 404 Not Found: Resource {BJENSEN} not found"
        )
    );
    let e = users.get("readonly").send().await.unwrap_err();
    assert_eq!(e.failure(), FailureKind::Rejected);
    assert_eq!(e.scim_type(), Some(&ScimType::Mutability));
    assert!(
        e.to_string()
            .ends_with("mutability: Attribute 'id' is readOnly"),
        "{e}"
    );
    let e = users.get("changed").send().await.unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(412));
    assert_eq!(e.scim_error().unwrap().status, Some(412));
    // A sign-in page is no SCIM answer.
    let e = users.get("html").send().await.unwrap_err();
    assert_eq!(e.failure(), FailureKind::Decode);
    assert!(e.report().contains("text/html"), "{}", e.report());
    // Plain JSON is accepted.
    let u = users.get("plain").send().await.unwrap();
    assert_eq!(u.user_name.as_deref(), Some("p"));
    // 4xx answers are not retried: one request each.
    assert_eq!(mock.paths().len(), 5);
}
