//! Response shapes: the Automation user object (§4.1, §5) and the SCIM user resource.

use chrono::{DateTime, SecondsFormat};
use serde::Serialize;

use crate::datagen::Person;

use super::state::{derived_id, fnv1a};

/// Creation time of the synthetic API user (Quip's documented example date).
const SYNTHETIC_CREATED_USEC: i64 = 1_632_022_665_732_239;

/// The Automation API user object.
#[derive(Debug, Serialize)]
pub(crate) struct UserJson<'a> {
    id: &'a str,
    name: &'a str,
    emails: &'a [String],
    company_id: &'a str,
    disabled: bool,
    is_robot: bool,
    created_usec: i64,
    affinity: f64,
    profile_picture_url: String,
    chat_thread_id: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    folders: Option<Folders>,
}

/// Folder ids, present for the current user only.
#[derive(Debug, Serialize)]
struct Folders {
    desktop_folder_id: String,
    archive_folder_id: String,
    starred_folder_id: String,
    private_folder_id: String,
    trash_folder_id: String,
    shared_folder_ids: Vec<String>,
    group_folder_ids: Vec<String>,
}

impl<'a> UserJson<'a> {
    /// `person` as seen by `viewer` (affinity and 1:1 chat depend on the viewer).
    pub(crate) fn new(person: &'a Person, company_id: &'a str, viewer: &str) -> Self {
        let id = person.quip_id.as_str();
        UserJson {
            id,
            name: &person.name,
            emails: &person.emails,
            company_id,
            disabled: person.disabled,
            is_robot: person.is_robot,
            created_usec: person.created_usec,
            affinity: if viewer == id {
                0.0
            } else {
                (fnv1a(&[viewer, id]) % 100) as f64 / 100.0
            },
            profile_picture_url: format!("https://sandbox.quip.example/pic/{id}"),
            chat_thread_id: derived_id(b'a', &["chat", viewer.min(id), viewer.max(id)]),
            folders: None,
        }
    }

    /// Adds the folder ids `GET /1/users/current` includes.
    pub(crate) fn with_folders(mut self) -> Self {
        let folder = |kind: &str| derived_id(b'F', &[kind, self.id]);
        self.folders = Some(Folders {
            desktop_folder_id: folder("desktop"),
            archive_folder_id: folder("archive"),
            starred_folder_id: folder("starred"),
            private_folder_id: folder("private"),
            trash_folder_id: folder("trash"),
            shared_folder_ids: vec![folder("shared")],
            group_folder_ids: vec![folder("group")],
        });
        self
    }
}

/// The token owner when no person of the company qualifies (an empty or all-member
/// company): an API account that is not part of the directory.
pub(crate) fn synthetic_user(id: &str, admin: bool) -> Person {
    let (name, local) = if admin {
        ("Sandbox API Admin", "quip-api-admin")
    } else {
        ("Sandbox API Member", "quip-api-member")
    };
    Person {
        quip_id: id.to_owned(),
        name: name.to_owned(),
        first_name: "Sandbox".to_owned(),
        last_name: "API".to_owned(),
        emails: vec![format!("{local}@sandbox.invalid")],
        disabled: false,
        is_robot: false,
        created_usec: SYNTHETIC_CREATED_USEC,
        admin_role: admin.then(|| "Super Admin".to_owned()),
        last_login_usec: None,
    }
}

/// RFC 3339 (UTC, milliseconds) of a microsecond timestamp.
pub(crate) fn rfc3339(usec: i64) -> String {
    DateTime::from_timestamp_micros(usec)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn is_empty(s: &&str) -> bool {
    s.is_empty()
}

/// A SCIM 2.0 User resource (RFC 7643 §4.1).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScimUser<'a> {
    schemas: [&'static str; 1],
    id: &'a str,
    user_name: &'a str,
    name: ScimName<'a>,
    display_name: &'a str,
    emails: Vec<ScimEmail<'a>>,
    active: bool,
    meta: ScimMeta,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ScimName<'a> {
    formatted: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    given_name: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    family_name: &'a str,
}

#[derive(Debug, Serialize)]
struct ScimEmail<'a> {
    value: &'a str,
    primary: bool,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ScimMeta {
    resource_type: &'static str,
    created: String,
    last_modified: String,
}

impl<'a> ScimUser<'a> {
    pub(crate) fn new(person: &'a Person, updated_usec: i64) -> Self {
        ScimUser {
            schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
            id: &person.quip_id,
            user_name: person.email(),
            name: ScimName {
                formatted: &person.name,
                given_name: &person.first_name,
                family_name: &person.last_name,
            },
            display_name: &person.name,
            emails: person
                .emails
                .iter()
                .enumerate()
                .map(|(i, value)| ScimEmail {
                    value,
                    primary: i == 0,
                    kind: "work",
                })
                .collect(),
            active: !person.disabled,
            meta: ScimMeta {
                resource_type: "User",
                created: rfc3339(person.created_usec),
                last_modified: rfc3339(updated_usec.max(person.created_usec)),
            },
        }
    }
}
