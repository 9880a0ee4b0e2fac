//! The emulator's state: the company directory, login events, cursors, tokens and budgets,
//! and [`QuipState`], the handle tests, the demo and benchmarks use to read and change it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::clock::{Clock, epoch_micros, epoch_secs};
use crate::datagen::Person;
use crate::faults::Counters;

use super::config::{EventsApi, QuipConfig, QuipLimits, QuipOAuthConfig, ThrottleStyle};
use super::events::{CursorPos, QuipEvent};
use super::ratelimit::{Area, Decision, Limiter};

/// What a bearer token may do, and whose it is.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    /// The user the token belongs to (per-user budgets are keyed by this).
    pub(crate) owner_id: String,
    /// Admin API allowed.
    pub(crate) admin: bool,
    /// Automation API allowed.
    pub(crate) automation: bool,
    /// SCIM API allowed.
    pub(crate) scim: bool,
    /// Issued OAuth tokens expire.
    pub(crate) expires_at: Option<SystemTime>,
}

impl Grant {
    pub(crate) fn allows(&self, area: Area, now: SystemTime) -> bool {
        if self.expires_at.is_some_and(|t| now >= t) {
            return false;
        }
        match area {
            // Non-admin tokens are authenticated on Admin routes, then refused with 403.
            Area::Automation | Area::Admin => self.automation,
            Area::Scim => self.scim,
        }
    }
}

/// One person plus what the emulator tracks about them.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) person: Person,
    /// Last change, for SCIM `meta.lastModified`.
    pub(crate) updated_usec: i64,
}

/// A Events API cursor and the position before it (for `PageFault::Repeat`).
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    pub(crate) pos: CursorPos,
    pub(crate) prev: Option<CursorPos>,
}

/// Settings changeable at run time.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) admin_list_max_count: usize,
    pub(crate) scim_max_count: usize,
    pub(crate) events_page_size: usize,
    pub(crate) admin_roles_endpoint: bool,
    pub(crate) events_api: EventsApi,
}

/// Login events, in recording order and indexed by time.
#[derive(Debug, Default)]
pub(crate) struct EventLog {
    /// Event with sequence number `n` is at index `n - 1`.
    pub(crate) by_seq: Vec<(String, i64)>,
    /// (time_usec, seq)
    pub(crate) by_time: BTreeSet<(i64, u64)>,
}

impl EventLog {
    pub(crate) fn push(&mut self, user_id: String, time_usec: i64) -> u64 {
        self.by_seq.push((user_id, time_usec));
        let seq = self.by_seq.len() as u64;
        self.by_time.insert((time_usec, seq));
        seq
    }

    pub(crate) fn last_seq(&self) -> u64 {
        self.by_seq.len() as u64
    }

    pub(crate) fn get(&self, seq: u64) -> Option<QuipEvent> {
        let index = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.by_seq
            .get(index)
            .map(|(user_id, time_usec)| QuipEvent::login(seq, user_id, *time_usec))
    }
}

/// Everything behind the state lock.
#[derive(Debug)]
pub(crate) struct Directory {
    pub(crate) people: Vec<Entry>,
    by_id: HashMap<String, usize>,
    /// Lower-cased email -> index.
    by_email: HashMap<String, usize>,
    pub(crate) events: EventLog,
    pub(crate) cursors: HashMap<String, Cursor>,
    next_cursor: u64,
    pub(crate) tokens: HashMap<String, Grant>,
    issued_tokens: u64,
    pub(crate) settings: Settings,
    /// Owner of the admin token (and of OAuth tokens).
    pub(crate) owner_id: String,
    pub(crate) oauth: QuipOAuthConfig,
}

impl Directory {
    pub(crate) fn get(&self, id: &str) -> Option<&Entry> {
        self.by_id.get(id).map(|&i| &self.people[i])
    }

    pub(crate) fn by_email(&self, email: &str) -> Option<&Entry> {
        self.by_email
            .get(&email.to_lowercase())
            .map(|&i| &self.people[i])
    }

    /// By id, or by email within the company.
    pub(crate) fn lookup(&self, key: &str) -> Option<&Entry> {
        self.get(key).or_else(|| {
            if key.contains('@') {
                self.by_email(key)
            } else {
                None
            }
        })
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut Entry> {
        let i = *self.by_id.get(id)?;
        Some(&mut self.people[i])
    }

    fn insert(&mut self, person: Person, updated_usec: i64) -> bool {
        let emails: Vec<String> = person.emails.iter().map(|e| e.to_lowercase()).collect();
        if self.by_id.contains_key(&person.quip_id)
            || emails.iter().any(|e| self.by_email.contains_key(e))
        {
            return false;
        }
        let index = self.people.len();
        self.by_id.insert(person.quip_id.clone(), index);
        for email in emails {
            self.by_email.insert(email, index);
        }
        self.people.push(Entry {
            person,
            updated_usec,
        });
        true
    }

    fn insert_sharing_email(&mut self, person: Person, updated_usec: i64) -> bool {
        if self.by_id.contains_key(&person.quip_id) {
            return false;
        }
        let index = self.people.len();
        self.by_id.insert(person.quip_id.clone(), index);
        for email in &person.emails {
            self.by_email.entry(email.to_lowercase()).or_insert(index);
        }
        self.people.push(Entry {
            person,
            updated_usec,
        });
        true
    }

    fn remove(&mut self, id: &str) -> bool {
        let Some(index) = self.by_id.get(id).copied() else {
            return false;
        };
        self.people.remove(index);
        self.reindex();
        true
    }

    fn reindex(&mut self) {
        self.by_id.clear();
        self.by_email.clear();
        for (i, entry) in self.people.iter().enumerate() {
            self.by_id.insert(entry.person.quip_id.clone(), i);
            for email in &entry.person.emails {
                self.by_email.entry(email.to_lowercase()).or_insert(i);
            }
        }
    }

    /// Stores a cursor and returns its opaque id.
    pub(crate) fn new_cursor(&mut self, pos: CursorPos, prev: Option<CursorPos>) -> String {
        self.next_cursor += 1;
        let id = format!(
            "{}{:08x}",
            derived_id(b'C', &["cursor", &self.next_cursor.to_string()]),
            self.next_cursor
        );
        self.cursors.insert(id.clone(), Cursor { pos, prev });
        id
    }

    /// Issues a new OAuth access token for the admin token's owner.
    pub(crate) fn issue_token(&mut self, company_id: &str, expires_at: SystemTime) -> String {
        self.issued_tokens += 1;
        let token = format!(
            "sandbox-oauth-{}-{:06}",
            derived_id(b'T', &[company_id, &self.issued_tokens.to_string()]),
            self.issued_tokens
        );
        self.tokens.insert(
            token.clone(),
            Grant {
                owner_id: self.owner_id.clone(),
                admin: true,
                automation: true,
                scim: false,
                expires_at: Some(expires_at),
            },
        );
        token
    }
}

/// State shared by every handler and by [`QuipState`].
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) company_id: String,
    pub(crate) clock: Arc<dyn Clock>,
    dir: Mutex<Directory>,
    limiter: Mutex<Limiter>,
    pub(crate) counters: Counters,
}

impl Shared {
    pub(crate) fn new(
        config: &QuipConfig,
        company_id: String,
        people: Vec<Person>,
        counters: Counters,
    ) -> Self {
        let owner_id = people
            .iter()
            .find(|p| !p.is_robot && !p.disabled && p.admin_role.is_some())
            .map_or_else(
                || derived_id(b'U', &[&company_id, "api-admin"]),
                |p| p.quip_id.clone(),
            );
        let member_id = people
            .iter()
            .find(|p| !p.is_robot && !p.disabled && p.admin_role.is_none())
            .map_or_else(
                || derived_id(b'U', &[&company_id, "api-member"]),
                |p| p.quip_id.clone(),
            );
        let mut tokens = HashMap::new();
        let scim_token = config
            .scim_token
            .clone()
            .unwrap_or_else(|| config.token.clone());
        tokens.insert(
            config.token.clone(),
            Grant {
                owner_id: owner_id.clone(),
                admin: true,
                automation: true,
                scim: scim_token == config.token,
                expires_at: None,
            },
        );
        if scim_token != config.token {
            tokens.insert(
                scim_token,
                Grant {
                    owner_id: owner_id.clone(),
                    admin: false,
                    automation: false,
                    scim: true,
                    expires_at: None,
                },
            );
        }
        if let Some(member_token) = &config.non_admin_token {
            tokens.entry(member_token.clone()).or_insert(Grant {
                owner_id: member_id,
                admin: false,
                automation: true,
                scim: false,
                expires_at: None,
            });
        }
        let events = seed_events(&people, config.older_logins_per_person);
        let mut dir = Directory {
            people: Vec::with_capacity(people.len()),
            by_id: HashMap::with_capacity(people.len()),
            by_email: HashMap::with_capacity(people.len()),
            events,
            cursors: HashMap::new(),
            next_cursor: 0,
            tokens,
            issued_tokens: 0,
            settings: Settings {
                admin_list_max_count: config.admin_list_max_count.max(1),
                scim_max_count: config.scim_max_count.max(1),
                events_page_size: config.events_page_size.max(1),
                admin_roles_endpoint: config.admin_roles_endpoint,
                events_api: config.events_api,
            },
            owner_id,
            oauth: config.oauth.clone(),
        };
        for person in people {
            let id = person.quip_id.clone();
            let created = person.created_usec;
            if !dir.insert(person, created) {
                tracing::warn!(%id, "duplicate person id or email skipped");
            }
        }
        Shared {
            company_id,
            clock: Arc::clone(&config.clock),
            dir: Mutex::new(dir),
            limiter: Mutex::new(Limiter::new(config.limits, config.throttle_style)),
            counters,
        }
    }

    pub(crate) fn dir(&self) -> MutexGuard<'_, Directory> {
        self.dir.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn limiter(&self) -> MutexGuard<'_, Limiter> {
        self.limiter.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.clock.now()
    }

    pub(crate) fn now_usec(&self) -> i64 {
        epoch_micros(self.now())
    }

    /// Disables a person (SCIM delete). False when unknown.
    pub(crate) fn disable(&self, id: &str, now_usec: i64) -> bool {
        let mut dir = self.dir();
        let Some(entry) = dir.get_mut(id) else {
            return false;
        };
        if !entry.person.disabled {
            entry.person.disabled = true;
            entry.updated_usec = now_usec;
        }
        true
    }

    /// The grant of `token` if it is valid for `area` now.
    pub(crate) fn authenticate(&self, token: &str, area: Area) -> Option<Grant> {
        let now = self.now();
        self.dir()
            .tokens
            .get(token)
            .filter(|g| g.allows(area, now))
            .cloned()
    }

    /// Rate-limits one request of `user` on `area`.
    pub(crate) fn admit(&self, area: Area, user: &str) -> Decision {
        let now = epoch_secs(self.now());
        self.limiter().admit(area, user, &self.company_id, now)
    }
}

/// `login` events from each person's last login, plus `older` earlier ones, in time order.
fn seed_events(people: &[Person], older: u32) -> EventLog {
    const DAY_USEC: i64 = 86_400_000_000;
    // (time, index of the person): integers sort fast and deterministically.
    let mut seeds: Vec<(i64, usize)> = Vec::with_capacity(people.len() * (1 + older as usize));
    for (index, p) in people.iter().enumerate() {
        let Some(last) = p.last_login_usec else {
            continue;
        };
        seeds.push((last, index));
        let mut hash = fnv1a(&[&p.quip_id, "logins"]);
        let mut t = last;
        for _ in 0..older {
            let gap_days = 1 + (hash % 20).cast_signed();
            hash /= 20;
            t -= gap_days * DAY_USEC;
            if t < p.created_usec {
                break;
            }
            seeds.push((t, index));
        }
    }
    seeds.sort_unstable();
    // Built in bulk: tens of thousands of people are seeded at start.
    EventLog {
        by_time: seeds
            .iter()
            .zip(1..)
            .map(|(&(time_usec, _), seq)| (time_usec, seq))
            .collect(),
        by_seq: seeds
            .into_iter()
            .map(|(time_usec, index)| (people[index].quip_id.clone(), time_usec))
            .collect(),
    }
}

/// 64-bit FNV-1a over the parts (separated), stable across runs and Rust versions.
pub(crate) fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// A deterministic 11-character Quip-style id derived from `parts`.
pub(crate) fn derived_id(prefix: u8, parts: &[&str]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut n = fnv1a(parts);
    let mut id = String::with_capacity(11);
    id.push(char::from(prefix));
    for _ in 0..10 {
        id.push(char::from(ALPHABET[(n % 62) as usize]));
        n /= 62;
    }
    id
}

/// A cheap-to-clone handle on a running Quip emulator's state, for tests, the demo and
/// benchmarks. Changes are visible to the next request.
#[derive(Debug, Clone)]
pub struct QuipState {
    pub(crate) shared: Arc<Shared>,
}

impl QuipState {
    /// The company every person belongs to (`company_id` of Admin and Events calls).
    pub fn company_id(&self) -> &str {
        &self.shared.company_id
    }

    /// Id of the admin token's owner (what `GET /1/users/current` returns).
    pub fn token_owner_id(&self) -> String {
        self.shared.dir().owner_id.clone()
    }

    /// Every person, in listing order (removed people are gone).
    pub fn people(&self) -> Vec<Person> {
        self.shared
            .dir()
            .people
            .iter()
            .map(|e| e.person.clone())
            .collect()
    }

    /// How many people the company has.
    pub fn len(&self) -> usize {
        self.shared.dir().people.len()
    }

    /// True when the company has nobody.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One person by Quip id.
    pub fn person(&self, id: &str) -> Option<Person> {
        self.shared.dir().get(id).map(|e| e.person.clone())
    }

    /// One person by any of their emails (case-insensitive).
    pub fn person_by_email(&self, email: &str) -> Option<Person> {
        self.shared.dir().by_email(email).map(|e| e.person.clone())
    }

    /// Adds a person at the end of the listing order. False (and nothing changes) when the
    /// id or one of the emails is already taken.
    pub fn add_person(&self, person: Person) -> bool {
        let now = self.shared.now_usec();
        let mut dir = self.shared.dir();
        dir.insert(person, now)
    }

    /// Disables or re-enables a person. False when unknown.
    pub fn set_disabled(&self, id: &str, disabled: bool) -> bool {
        self.modify(id, |p| p.disabled = disabled)
    }

    /// Renames a person. False when unknown.
    pub fn set_name(&self, id: &str, name: &str) -> bool {
        self.modify(id, |p| name.clone_into(&mut p.name))
    }

    /// Sets (`Some("Super Admin")`, `Some("Site Admin")`, a custom role) or clears a
    /// person's admin role. False when unknown.
    pub fn set_admin_role(&self, id: &str, role: Option<&str>) -> bool {
        self.modify(id, |p| p.admin_role = role.map(str::to_owned))
    }

    /// Removes a person from listings and lookups (their past events stay). False when
    /// unknown.
    pub fn remove_person(&self, id: &str) -> bool {
        self.shared.dir().remove(id)
    }

    /// Records a `login` event for a person at `time_usec` (seen by realtime cursors
    /// created before, and by batch cursors covering that time) and updates their last
    /// login. False when unknown.
    pub fn record_login(&self, id: &str, time_usec: i64) -> bool {
        let mut dir = self.shared.dir();
        let Some(entry) = dir.get_mut(id) else {
            return false;
        };
        entry.person.last_login_usec = Some(
            entry
                .person
                .last_login_usec
                .map_or(time_usec, |t| t.max(time_usec)),
        );
        dir.events.push(id.to_owned(), time_usec);
        true
    }

    /// Every recorded event, in recording order.
    pub fn events(&self) -> Vec<QuipEvent> {
        let dir = self.shared.dir();
        (1..=dir.events.last_seq())
            .filter_map(|seq| dir.events.get(seq))
            .collect()
    }

    /// The rate limits in force.
    pub fn limits(&self) -> QuipLimits {
        self.shared.limiter().limits
    }

    /// Changes the rate limits (budgets already used in the current windows stay used).
    pub fn set_limits(&self, limits: QuipLimits) {
        self.shared.limiter().limits = limits;
    }

    /// How throttled requests are answered.
    pub fn throttle_style(&self) -> ThrottleStyle {
        self.shared.limiter().style
    }

    /// Changes how throttled requests are answered.
    pub fn set_throttle_style(&self, style: ThrottleStyle) {
        self.shared.limiter().style = style;
    }

    /// Forgets every budget consumed so far.
    pub fn reset_rate_limits(&self) {
        self.shared.limiter().reset();
    }

    /// Serves (true) or hides with 404 (false) `GET /1/admin/company/admin-roles`.
    pub fn set_admin_roles_endpoint(&self, enabled: bool) {
        self.shared.dir().settings.admin_roles_endpoint = enabled;
    }

    /// Licenses the Events API, or takes it away (404 or 403 on every Events route).
    pub fn set_events_api(&self, events: EventsApi) {
        self.shared.dir().settings.events_api = events;
    }

    /// Requests received so far on routes starting with `prefix` (e.g.
    /// `"/1/admin/events/"`), any method and status.
    pub fn count_under(&self, prefix: &str) -> u64 {
        self.shared
            .counters
            .snapshot()
            .iter()
            .filter(|r| r.route.starts_with(prefix))
            .map(|r| r.count)
            .sum()
    }

    /// Adds a person even when one of their emails is already another person's (Quip can
    /// hold two accounts whose addresses differ only in case). Lookups by that email keep
    /// finding the first. False (and nothing changes) when the id is taken.
    pub fn add_person_sharing_email(&self, person: Person) -> bool {
        let now = self.shared.now_usec();
        self.shared.dir().insert_sharing_email(person, now)
    }

    /// Changes the cap on `count` of `POST /1/admin/users/list` (at least 1).
    pub fn set_admin_list_max_count(&self, max: usize) {
        self.shared.dir().settings.admin_list_max_count = max.max(1);
    }

    /// Changes the cap on `count` of SCIM `GET /2/Users` (at least 1).
    pub fn set_scim_max_count(&self, max: usize) {
        self.shared.dir().settings.scim_max_count = max.max(1);
    }

    /// Changes the Events API page size (at least 1).
    pub fn set_events_page_size(&self, size: usize) {
        self.shared.dir().settings.events_page_size = size.max(1);
    }

    /// The OAuth client id.
    pub fn oauth_client_id(&self) -> String {
        self.shared.dir().oauth.client_id.clone()
    }

    /// The OAuth client secret (a sandbox value).
    pub fn oauth_client_secret(&self) -> String {
        self.shared.dir().oauth.client_secret.clone()
    }

    /// The refresh token accepted by `POST /1/oauth/access_token`.
    pub fn refresh_token(&self) -> String {
        self.shared.dir().oauth.refresh_token.clone()
    }

    /// Issues an OAuth access token directly, as a refresh would (valid for the configured
    /// lifetime on the emulator's clock).
    pub fn issue_access_token(&self) -> String {
        let expires_at = self.shared.now() + self.token_lifetime();
        let company = self.shared.company_id.clone();
        self.shared.dir().issue_token(&company, expires_at)
    }

    pub(crate) fn token_lifetime(&self) -> Duration {
        Duration::from_secs(self.shared.dir().oauth.expires_in_secs)
    }

    /// Requests received so far, by `"METHOD /route/template"`, any status.
    pub fn counts_by_route(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for row in self.shared.counters.snapshot() {
            *out.entry(format!("{} {}", row.method, row.route))
                .or_default() += row.count;
        }
        out
    }

    /// Requests received so far for `method route` (e.g. `"GET", "/2/Users"`), any status.
    pub fn count(&self, method: &str, route: &str) -> u64 {
        self.shared.counters.count(method, route)
    }

    fn modify(&self, id: &str, change: impl FnOnce(&mut Person)) -> bool {
        let now = self.shared.now_usec();
        let mut dir = self.shared.dir();
        let Some(entry) = dir.get_mut(id) else {
            return false;
        };
        change(&mut entry.person);
        entry.updated_usec = now;
        true
    }
}
