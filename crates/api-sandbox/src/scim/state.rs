//! The SCIM emulator's directory (users, groups), its run-time settings and list
//! anomalies, and [`ScimState`], the handle tests use to read and change them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::clock::{Clock, epoch_micros, epoch_secs};
use crate::datagen::{self, DataSpec, Person};

/// One user as the emulator holds it; rendered as a SCIM `User` resource with the
/// enterprise extension and the sandbox's activity extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScimUser {
    /// Server-assigned id (a UUID).
    pub id: String,
    /// The provisioning client's id (here the generated person's Quip-style id); some
    /// users have none.
    pub external_id: Option<String>,
    /// Unique, compared case-insensitively: the primary email.
    pub user_name: String,
    /// `name.givenName`.
    pub given_name: String,
    /// `name.familyName` (empty for robots, then omitted).
    pub family_name: String,
    /// `displayName`.
    pub display_name: String,
    /// Emails, primary first (`type` work, then other).
    pub emails: Vec<String>,
    /// `active`.
    pub active: bool,
    /// `title`.
    pub title: Option<String>,
    /// `roles[].value`.
    pub roles: Vec<String>,
    /// Enterprise `employeeNumber`.
    pub employee_number: Option<String>,
    /// Enterprise `department`.
    pub department: Option<String>,
    /// Enterprise `organization`.
    pub organization: Option<String>,
    /// Enterprise `division`.
    pub division: Option<String>,
    /// Enterprise `costCenter`.
    pub cost_center: Option<String>,
    /// Enterprise `manager.value`: another user's id.
    pub manager_id: Option<String>,
    /// Activity extension `lastLogin`, microseconds since the epoch.
    pub last_login_usec: Option<i64>,
    /// Activity extension `robot`.
    pub robot: bool,
    /// `meta.created`, microseconds since the epoch.
    pub created_usec: i64,
    /// `meta.lastModified`, microseconds since the epoch.
    pub last_modified_usec: i64,
}

impl ScimUser {
    /// A minimal active user with this id and user name (created at `usec`).
    pub fn new(id: impl Into<String>, user_name: impl Into<String>, usec: i64) -> Self {
        let user_name = user_name.into();
        ScimUser {
            id: id.into(),
            external_id: None,
            display_name: user_name.clone(),
            emails: vec![user_name.clone()],
            user_name,
            given_name: String::new(),
            family_name: String::new(),
            active: true,
            title: None,
            roles: Vec::new(),
            employee_number: None,
            department: None,
            organization: None,
            division: None,
            cost_center: None,
            manager_id: None,
            last_login_usec: None,
            robot: false,
            created_usec: usec,
            last_modified_usec: usec,
        }
    }
}

/// One group: members are user ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScimGroup {
    /// Server-assigned id (a UUID).
    pub id: String,
    /// `displayName`.
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// Member user ids, in order.
    pub members: Vec<String>,
    /// `meta.created`, microseconds since the epoch.
    pub created_usec: i64,
    /// `meta.lastModified`, microseconds since the epoch.
    pub last_modified_usec: i64,
}

impl ScimGroup {
    /// A group with this id, name and members (created at `usec`).
    pub fn new(
        id: impl Into<String>,
        display_name: impl Into<String>,
        members: Vec<String>,
        usec: i64,
    ) -> Self {
        ScimGroup {
            id: id.into(),
            display_name: display_name.into(),
            external_id: None,
            members,
            created_usec: usec,
            last_modified_usec: usec,
        }
    }
}

/// A fixed-window request budget: over it, 429 with `Retry-After` until the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// Window length in seconds (windows are aligned to multiples of it since the epoch).
    pub window_secs: u64,
}

/// Deliberate misbehaviour of the list endpoints, for clients' completeness checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Anomalies {
    /// Added to every `totalResults` (negative: fewer than there are).
    pub(crate) total_offset: i64,
    /// The page requested at this `startIndex` is served one resource short.
    pub(crate) short_page_at: Option<usize>,
}

/// Everything behind the state lock.
#[derive(Debug)]
pub(crate) struct Directory {
    pub(crate) users: Vec<ScimUser>,
    pub(crate) groups: Vec<ScimGroup>,
    pub(crate) max_count: usize,
    pub(crate) anomalies: Anomalies,
    pub(crate) rate_limit: Option<RateLimit>,
    /// (window index, requests in it)
    window: (u64, u32),
}

impl Directory {
    pub(crate) fn user(&self, id: &str) -> Option<&ScimUser> {
        self.users.iter().find(|u| u.id == id)
    }

    pub(crate) fn group(&self, id: &str) -> Option<&ScimGroup> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// Groups by member id: (group id, group name).
    pub(crate) fn memberships(&self) -> HashMap<&str, Vec<(&str, &str)>> {
        let mut map: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
        for g in &self.groups {
            for m in &g.members {
                map.entry(m.as_str())
                    .or_default()
                    .push((g.id.as_str(), g.display_name.as_str()));
            }
        }
        map
    }
}

/// The outcome of the rate limit for one request.
pub(crate) enum Admission {
    Allowed,
    /// Throttled; retry after this long.
    Throttled(Duration),
}

/// State shared by every handler and by [`ScimState`].
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) clock: Arc<dyn Clock>,
    dir: Mutex<Directory>,
    /// `http://127.0.0.1:PORT/scim/v2`, known once the server is bound.
    pub(crate) base: OnceLock<String>,
}

impl Shared {
    pub(crate) fn new(
        clock: Arc<dyn Clock>,
        users: Vec<ScimUser>,
        groups: Vec<ScimGroup>,
        max_count: usize,
        rate_limit: Option<RateLimit>,
    ) -> Self {
        Shared {
            clock,
            dir: Mutex::new(Directory {
                users,
                groups,
                max_count: max_count.max(1),
                anomalies: Anomalies::default(),
                rate_limit,
                window: (0, 0),
            }),
            base: OnceLock::new(),
        }
    }

    pub(crate) fn dir(&self) -> MutexGuard<'_, Directory> {
        self.dir.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn base(&self) -> &str {
        self.base.get().map_or("", String::as_str)
    }

    fn now_usec(&self) -> i64 {
        epoch_micros(self.clock.now())
    }

    /// Counts a request against the rate limit.
    pub(crate) fn admit(&self) -> Admission {
        let now = epoch_secs(self.clock.now());
        let mut dir = self.dir();
        let Some(limit) = dir.rate_limit else {
            return Admission::Allowed;
        };
        let window = limit.window_secs.max(1);
        let index = now / window;
        if dir.window.0 != index {
            dir.window = (index, 0);
        }
        if dir.window.1 >= limit.requests {
            let reset = (index + 1) * window;
            return Admission::Throttled(Duration::from_secs(reset.saturating_sub(now).max(1)));
        }
        dir.window.1 += 1;
        Admission::Allowed
    }
}

/// A cheap-to-clone handle on a running SCIM emulator's state. Changes are visible to the
/// next request.
#[derive(Debug, Clone)]
pub struct ScimState {
    pub(crate) shared: Arc<Shared>,
}

impl ScimState {
    fn dir(&self) -> MutexGuard<'_, Directory> {
        self.shared.dir()
    }

    fn touch<T>(&self, id: &str, change: impl FnOnce(&mut ScimUser) -> T) -> Option<T> {
        let now = self.shared.now_usec();
        let mut dir = self.dir();
        let user = dir.users.iter_mut().find(|u| u.id == id)?;
        let out = change(user);
        user.last_modified_usec = now;
        Some(out)
    }

    fn touch_group(&self, id: &str, change: impl FnOnce(&mut ScimGroup) -> bool) -> bool {
        let now = self.shared.now_usec();
        let mut dir = self.dir();
        let Some(group) = dir.groups.iter_mut().find(|g| g.id == id) else {
            return false;
        };
        let changed = change(group);
        if changed {
            group.last_modified_usec = now;
        }
        changed
    }

    /// Every user, in listing order.
    pub fn users(&self) -> Vec<ScimUser> {
        self.dir().users.clone()
    }

    /// Number of users.
    pub fn user_count(&self) -> usize {
        self.dir().users.len()
    }

    /// One user by id.
    pub fn user(&self, id: &str) -> Option<ScimUser> {
        self.dir().user(id).cloned()
    }

    /// The user with this `userName` (case-insensitive).
    pub fn user_by_name(&self, user_name: &str) -> Option<ScimUser> {
        self.dir()
            .users
            .iter()
            .find(|u| u.user_name.eq_ignore_ascii_case(user_name))
            .cloned()
    }

    /// Every group, in listing order.
    pub fn groups(&self) -> Vec<ScimGroup> {
        self.dir().groups.clone()
    }

    /// One group by id.
    pub fn group(&self, id: &str) -> Option<ScimGroup> {
        self.dir().group(id).cloned()
    }

    /// Adds a user at the end of the listing; false when its id or `userName` is taken.
    pub fn add_user(&self, user: ScimUser) -> bool {
        let mut dir = self.dir();
        if dir
            .users
            .iter()
            .any(|u| u.id == user.id || u.user_name.eq_ignore_ascii_case(&user.user_name))
        {
            return false;
        }
        dir.users.push(user);
        true
    }

    /// Removes a user (and their group memberships); false when there is none.
    pub fn remove_user(&self, id: &str) -> bool {
        let now = self.shared.now_usec();
        let mut dir = self.dir();
        let before = dir.users.len();
        dir.users.retain(|u| u.id != id);
        if dir.users.len() == before {
            return false;
        }
        for g in &mut dir.groups {
            let n = g.members.len();
            g.members.retain(|m| m != id);
            if g.members.len() != n {
                g.last_modified_usec = now;
            }
        }
        true
    }

    /// Sets `active`; false when there is no such user.
    pub fn set_active(&self, id: &str, active: bool) -> bool {
        self.touch(id, |u| u.active = active).is_some()
    }

    /// Changes `userName` (a rename); false when there is no such user or the name is
    /// another user's.
    pub fn rename_user(&self, id: &str, user_name: &str) -> bool {
        let taken = self
            .dir()
            .users
            .iter()
            .any(|u| u.id != id && u.user_name.eq_ignore_ascii_case(user_name));
        !taken
            && self
                .touch(id, |u| user_name.clone_into(&mut u.user_name))
                .is_some()
    }

    /// Changes `displayName`; false when there is no such user.
    pub fn set_display_name(&self, id: &str, display_name: &str) -> bool {
        self.touch(id, |u| display_name.clone_into(&mut u.display_name))
            .is_some()
    }

    /// Changes the enterprise `department`; false when there is no such user.
    pub fn set_department(&self, id: &str, department: Option<&str>) -> bool {
        self.touch(id, |u| u.department = department.map(str::to_owned))
            .is_some()
    }

    /// Adds a group; false when its id is taken.
    pub fn add_group(&self, group: ScimGroup) -> bool {
        let mut dir = self.dir();
        if dir.groups.iter().any(|g| g.id == group.id) {
            return false;
        }
        dir.groups.push(group);
        true
    }

    /// Removes a group; false when there is none.
    pub fn remove_group(&self, id: &str) -> bool {
        let mut dir = self.dir();
        let before = dir.groups.len();
        dir.groups.retain(|g| g.id != id);
        dir.groups.len() != before
    }

    /// Renames a group; false when there is none.
    pub fn rename_group(&self, id: &str, display_name: &str) -> bool {
        self.touch_group(id, |g| {
            display_name.clone_into(&mut g.display_name);
            true
        })
    }

    /// Adds a member to a group; false when the group does not exist or already has it.
    pub fn add_member(&self, group_id: &str, user_id: &str) -> bool {
        self.touch_group(group_id, |g| {
            if g.members.iter().any(|m| m == user_id) {
                return false;
            }
            g.members.push(user_id.to_owned());
            true
        })
    }

    /// Removes a member from a group; false when it was not one.
    pub fn remove_member(&self, group_id: &str, user_id: &str) -> bool {
        self.touch_group(group_id, |g| {
            let n = g.members.len();
            g.members.retain(|m| m != user_id);
            g.members.len() != n
        })
    }

    /// Largest `count` honoured (larger asks are capped; at least 1).
    pub fn set_max_count(&self, max: usize) {
        self.dir().max_count = max.max(1);
    }

    /// Makes every `totalResults` off by `offset` (0: truthful).
    pub fn set_total_offset(&self, offset: i64) {
        self.dir().anomalies.total_offset = offset;
    }

    /// Serves the page requested at `start_index` one resource short (`None`: never).
    pub fn set_short_page(&self, start_index: Option<usize>) {
        self.dir().anomalies.short_page_at = start_index;
    }

    /// Sets (or removes) the rate limit; the current window starts afresh.
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        let mut dir = self.dir();
        dir.rate_limit = limit;
        dir.window = (0, 0);
    }
}

/// Departments, with their division, cost centre and titles.
const DEPARTMENTS: &[(&str, &str, &str, &[&str])] = &[
    (
        "Engineering",
        "Product",
        "CC-4100",
        &["Software Engineer", "Staff Engineer", "Engineering Manager"],
    ),
    (
        "Sales",
        "Revenue",
        "CC-4200",
        &["Account Executive", "Sales Manager"],
    ),
    (
        "Marketing",
        "Revenue",
        "CC-4300",
        &["Marketing Specialist", "Content Lead"],
    ),
    (
        "Finance",
        "Operations",
        "CC-4400",
        &["Accountant", "Controller"],
    ),
    (
        "Support",
        "Operations",
        "CC-4500",
        &["Support Engineer", "Support Lead"],
    ),
    (
        "People",
        "Operations",
        "CC-4600",
        &["Recruiter", "HR Partner"],
    ),
];

/// Organisation of every generated user.
const ORGANIZATION: &str = "Acme Corporation";

/// A deterministic UUID (version 4 layout) from `rng`.
fn uuid(rng: &mut StdRng) -> String {
    let a: u128 = rng.random();
    // Version 4, RFC 4122 variant.
    let a = (a & !(0xF << 76)) | (0x4 << 76);
    let a = (a & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{a:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Users and groups for `spec`, from [`datagen::generate`]: the same seed gives the same
/// directory. Disabled people are inactive users; robots have no enterprise data; the first
/// person of each department manages the others; one group per department, an
/// `Administrators` group of the admins, and an empty `Contractors` group.
pub fn generate(spec: &DataSpec) -> (Vec<ScimUser>, Vec<ScimGroup>) {
    let people = datagen::generate(spec);
    from_people(&people, spec.seed)
}

/// [`generate`] from people already generated (deterministic in `people` and `seed`).
pub fn from_people(people: &[Person], seed: u64) -> (Vec<ScimUser>, Vec<ScimGroup>) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5C13_2000);
    let mut heads: Vec<Option<String>> = vec![None; DEPARTMENTS.len()];
    let mut by_department: Vec<Vec<String>> = vec![Vec::new(); DEPARTMENTS.len()];
    let mut admins = Vec::new();
    let mut users = Vec::with_capacity(people.len());
    let mut names = HashSet::new();
    for (i, p) in people.iter().enumerate() {
        let id = uuid(&mut rng);
        let d = rng.random_range(0..DEPARTMENTS.len());
        let has_external_id = rng.random_bool(0.9);
        let (department, division, cost_center, titles) = DEPARTMENTS[d];
        let title = titles[rng.random_range(0..titles.len())];
        if !names.insert(p.email().to_lowercase()) {
            tracing::warn!(user_name = p.email(), "duplicate userName skipped");
            continue;
        }
        let mut user = ScimUser::new(id.clone(), p.email(), p.created_usec);
        user.external_id = has_external_id.then(|| p.quip_id.clone());
        user.given_name.clone_from(&p.first_name);
        user.family_name.clone_from(&p.last_name);
        user.display_name.clone_from(&p.name);
        user.emails.clone_from(&p.emails);
        user.active = !p.disabled;
        user.robot = p.is_robot;
        user.last_login_usec = p.last_login_usec;
        user.roles = vec![p.admin_role.clone().unwrap_or_else(|| "User".to_owned())];
        if p.admin_role.is_some() {
            admins.push(id.clone());
        }
        if !p.is_robot {
            user.title = Some(title.to_owned());
            user.employee_number = Some(format!("{:06}", 100_000 + i));
            user.department = Some(department.to_owned());
            user.division = Some(division.to_owned());
            user.cost_center = Some(cost_center.to_owned());
            user.organization = Some(ORGANIZATION.to_owned());
            match &heads[d] {
                Some(head) => user.manager_id = Some(head.clone()),
                None => heads[d] = Some(id.clone()),
            }
            by_department[d].push(id);
        }
        users.push(user);
    }
    let created = people.iter().map(|p| p.created_usec).min().unwrap_or(0);
    let mut groups: Vec<ScimGroup> = DEPARTMENTS
        .iter()
        .zip(by_department)
        .map(|((name, ..), members)| ScimGroup::new(uuid(&mut rng), *name, members, created))
        .collect();
    groups.push(ScimGroup::new(
        uuid(&mut rng),
        "Administrators",
        admins,
        created,
    ));
    groups.push(ScimGroup::new(
        uuid(&mut rng),
        "Contractors",
        Vec::new(),
        created,
    ));
    (users, groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_varied() {
        let spec = DataSpec {
            users: 300,
            ..DataSpec::default()
        };
        let (users, groups) = generate(&spec);
        assert_eq!((users.clone(), groups.clone()), generate(&spec));
        assert_eq!(users.len(), 300);
        let ids: HashSet<_> = users.iter().map(|u| &u.id).collect();
        assert_eq!(ids.len(), 300);
        assert!(
            users
                .iter()
                .all(|u| u.id.len() == 36 && &u.id[14..15] == "4")
        );
        assert!(users.iter().any(|u| !u.active));
        assert!(users.iter().any(|u| u.external_id.is_none()));
        assert!(users.iter().any(|u| u.manager_id.is_some()));
        assert!(users.iter().any(|u| u.robot && u.department.is_none()));
        assert_eq!(groups.len(), DEPARTMENTS.len() + 2);
        let in_groups: usize = groups[..DEPARTMENTS.len()]
            .iter()
            .map(|g| g.members.len())
            .sum();
        assert_eq!(in_groups, users.iter().filter(|u| !u.robot).count());
        assert!(groups.last().is_some_and(|g| g.members.is_empty()));
        let other = generate(&DataSpec { seed: 7, ..spec });
        assert_ne!(users, other.0);
    }
}
