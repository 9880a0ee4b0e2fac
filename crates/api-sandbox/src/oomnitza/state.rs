//! The emulator's state: People, SaaS applications, seats, roles, portions and run logs,
//! and the [`OomnitzaState`] handle that tests, the demo and benchmarks use.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Map, Value, json};

use super::bulk::{Portion, RunLog};
use super::fields::{
    self, CustomField, FieldDef, Schema, coerce, is_empty, people_builtins, people_slot,
    saas_builtins, unique_key, user_id_for,
};
use super::filter::{self, Expr};
use super::saas::{Role, SaasRole, SaasSeat, Seat};
use crate::clock::{Clock, epoch_secs};
use crate::datagen::Person;

/// An error from a state change, through the REST API or the [`OomnitzaState`] handle.
///
/// [`StateError::status`] and [`StateError::body`] give the HTTP answer the emulator sends
/// for it (working assumptions of `oomnitza-api.md` §13).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Field-level problems (unknown field, wrong type, not editable, required): 400
    /// `{"errors":{"field":["message"]}}`.
    #[error("invalid fields: {}", describe_fields(.0))]
    Invalid(BTreeMap<String, Vec<String>>),
    /// A value already used in a unique field: 409 `{"errors":{"field":["… already exists"]}}`.
    #[error("{field}: '{value}' already exists")]
    Conflict {
        /// The unique field.
        field: String,
        /// The value that collided.
        value: String,
    },
    /// No such object: 404 `{"errors":["not found"]}`.
    #[error("not found: {0}")]
    NotFound(String),
    /// A request that makes no sense as a whole: 400 `{"errors":["message"]}`.
    #[error("{0}")]
    Rejected(String),
}

fn describe_fields(errors: &BTreeMap<String, Vec<String>>) -> String {
    errors
        .iter()
        .map(|(field, messages)| format!("{field}: {}", messages.join("; ")))
        .collect::<Vec<_>>()
        .join(", ")
}

impl StateError {
    /// One field-level error.
    pub(crate) fn field(field: &str, message: impl Into<String>) -> Self {
        StateError::Invalid(BTreeMap::from([(field.to_owned(), vec![message.into()])]))
    }

    /// The HTTP status the emulator answers with.
    pub fn status(&self) -> u16 {
        match self {
            StateError::Invalid(_) | StateError::Rejected(_) => 400,
            StateError::Conflict { .. } => 409,
            StateError::NotFound(_) => 404,
        }
    }

    /// The JSON error body the emulator answers with.
    pub fn body(&self) -> Value {
        match self {
            StateError::Invalid(errors) => json!({ "errors": errors }),
            StateError::Conflict { field, value } => {
                json!({ "errors": { field.clone(): [format!("'{value}' already exists")] } })
            }
            StateError::NotFound(_) => json!({ "errors": ["not found"] }),
            StateError::Rejected(message) => json!({ "errors": [message] }),
        }
    }
}

/// How a write is checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteRules {
    /// Refuse fields whose metadata says `editable: "0"` (REST without the
    /// `Oomnitza-Ignore-Meta-Restriction: 1` header).
    pub check_editable: bool,
    /// Allow server-managed fields (the state handle only).
    pub allow_system: bool,
}

impl WriteRules {
    pub(crate) const REST: WriteRules = WriteRules {
        check_editable: true,
        allow_system: false,
    };
    pub(crate) const REST_IGNORE_META: WriteRules = WriteRules {
        check_editable: false,
        allow_system: false,
    };
    pub(crate) const CONNECTOR: WriteRules = WriteRules {
        check_editable: false,
        allow_system: false,
    };
    pub(crate) const HANDLE: WriteRules = WriteRules {
        check_editable: false,
        allow_system: true,
    };
}

static NULL: Value = Value::Null;

/// Rows with a fixed schema and unique indexes. Ids are assigned in insertion order from 1
/// and never reused; a row is found by position, so lookups stay cheap at any size.
#[derive(Debug)]
pub(crate) struct Table {
    pub schema: Schema,
    rows: Vec<Option<Vec<Value>>>,
    live: usize,
    unique: HashMap<usize, HashMap<String, u64>>,
}

fn position(id: u64) -> Option<usize> {
    usize::try_from(id).ok()?.checked_sub(1)
}

impl Table {
    pub(crate) fn new(schema: Schema) -> Self {
        let unique = schema
            .active()
            .filter(|(_, f)| f.unique)
            .map(|(slot, _)| (slot, HashMap::new()))
            .collect();
        Table {
            schema,
            rows: Vec::new(),
            live: 0,
            unique,
        }
    }

    fn row(&self, id: u64) -> Option<&Vec<Value>> {
        self.rows.get(position(id)?)?.as_ref()
    }

    /// True if a row with this id exists.
    pub(crate) fn contains(&self, id: u64) -> bool {
        self.row(id).is_some()
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Rows with their ids, in insertion order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &Vec<Value>)> {
        self.rows
            .iter()
            .zip(1u64..)
            .filter_map(|(row, id)| row.as_ref().map(|r| (id, r)))
    }

    /// Ids in insertion order.
    pub(crate) fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.iter().map(|(id, _)| id)
    }

    /// The id the next inserted row gets.
    pub(crate) fn next_id(&self) -> u64 {
        self.rows.len() as u64 + 1
    }

    pub(crate) fn get(&self, id: u64, slot: usize) -> &Value {
        self.row(id).and_then(|row| row.get(slot)).unwrap_or(&NULL)
    }

    /// Rows whose `slot` holds exactly `value` (after coercion to the field's type).
    pub(crate) fn find(&self, slot: usize, value: &Value) -> Vec<u64> {
        if let Some(index) = self.unique.get(&slot) {
            return unique_key(value)
                .and_then(|k| index.get(&k).copied())
                .into_iter()
                .collect();
        }
        if is_empty(value) {
            return Vec::new();
        }
        self.iter()
            .filter(|(_, row)| row.get(slot) == Some(value))
            .map(|(id, _)| id)
            .collect()
    }

    /// Checks a write of `body` to row `target` (`None` = a new row). `key_slot` maps body
    /// keys to slots. Returns the coerced changes.
    pub(crate) fn validate(
        &self,
        target: Option<u64>,
        body: &Map<String, Value>,
        key_slot: &dyn Fn(&str) -> Option<usize>,
        rules: WriteRules,
    ) -> Result<Vec<(usize, Value)>, StateError> {
        let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut changes = Vec::with_capacity(body.len());
        for (key, raw) in body {
            let Some(slot) = key_slot(key) else {
                errors
                    .entry(key.clone())
                    .or_default()
                    .push("unknown field".to_owned());
                continue;
            };
            let def = self.schema.def(slot);
            let value = match coerce(def, raw) {
                Ok(v) => v,
                Err(message) => {
                    errors.entry(key.clone()).or_default().push(message);
                    continue;
                }
            };
            // Sending back a value the row already has (or null on create) writes nothing,
            // so clients may send whole fetched records.
            let unchanged = match target {
                Some(id) => self.get(id, slot) == &value,
                None => value.is_null(),
            };
            if def.system && !rules.allow_system {
                if !unchanged {
                    errors
                        .entry(key.clone())
                        .or_default()
                        .push("read-only field, managed by the server".to_owned());
                }
                continue;
            }
            if !def.editable && rules.check_editable && !unchanged {
                errors.entry(key.clone()).or_default().push(
                    "field is not editable; send Oomnitza-Ignore-Meta-Restriction: 1 to write it"
                        .to_owned(),
                );
                continue;
            }
            changes.push((slot, value));
        }
        for (slot, def) in self.schema.active().filter(|(_, f)| !f.optional) {
            let new = changes.iter().find(|(s, _)| *s == slot).map(|(_, v)| v);
            let missing = match (target, new) {
                (_, Some(v)) => is_empty(v),
                (None, None) => true,
                (Some(_), None) => false,
            };
            if missing {
                errors
                    .entry(def.external_id.clone())
                    .or_default()
                    .push("required field".to_owned());
            }
        }
        if !errors.is_empty() {
            return Err(StateError::Invalid(errors));
        }
        self.check_unique(target, &changes)?;
        Ok(changes)
    }

    fn check_unique(
        &self,
        target: Option<u64>,
        changes: &[(usize, Value)],
    ) -> Result<(), StateError> {
        for (slot, value) in changes {
            let (Some(index), Some(key)) = (self.unique.get(slot), unique_key(value)) else {
                continue;
            };
            if let Some(&owner) = index.get(&key)
                && Some(owner) != target
            {
                return Err(StateError::Conflict {
                    field: self.schema.def(*slot).external_id.clone(),
                    value: key,
                });
            }
        }
        Ok(())
    }

    /// Writes a value, keeping unique indexes current. Callers validated it.
    pub(crate) fn set(&mut self, id: u64, slot: usize, value: Value) {
        let Some(row) = position(id)
            .and_then(|p| self.rows.get_mut(p))
            .and_then(Option::as_mut)
        else {
            return;
        };
        if row.len() <= slot {
            row.resize(slot + 1, Value::Null);
        }
        let old = std::mem::replace(&mut row[slot], value);
        if let Some(index) = self.unique.get_mut(&slot) {
            if let Some(k) = unique_key(&old)
                && index.get(&k) == Some(&id)
            {
                index.remove(&k);
            }
            if let Some(k) = unique_key(&row[slot]) {
                index.insert(k, id);
            }
        }
    }

    /// Appends a row (callers validated it; unique values must be free). Returns its id.
    pub(crate) fn insert(&mut self, mut row: Vec<Value>) -> u64 {
        let id = self.next_id();
        row.resize(self.schema.len(), Value::Null);
        for (slot, index) in &mut self.unique {
            if let Some(k) = row.get(*slot).and_then(unique_key) {
                index.insert(k, id);
            }
        }
        self.rows.push(Some(row));
        self.live += 1;
        id
    }

    pub(crate) fn remove(&mut self, id: u64) -> Option<Vec<Value>> {
        let row = self.rows.get_mut(position(id)?)?.take()?;
        self.live -= 1;
        for (slot, index) in &mut self.unique {
            if let Some(k) = row.get(*slot).and_then(unique_key)
                && index.get(&k) == Some(&id)
            {
                index.remove(&k);
            }
        }
        Some(row)
    }

    /// Re-reads the schema's unique flags and rebuilds the indexes. Fails (changing nothing)
    /// when existing rows already share a value in a field that became unique.
    pub(crate) fn reindex(&mut self) -> Result<(), StateError> {
        let mut unique = HashMap::new();
        for (slot, def) in self.schema.active().filter(|(_, f)| f.unique) {
            let mut index = HashMap::new();
            for (id, row) in self.iter() {
                if let Some(k) = row.get(slot).and_then(unique_key)
                    && index.insert(k.clone(), id).is_some()
                {
                    return Err(StateError::Conflict {
                        field: def.external_id.clone(),
                        value: k,
                    });
                }
            }
            unique.insert(slot, index);
        }
        self.unique = unique;
        Ok(())
    }

    /// Empties a slot in every row (a removed or re-added field).
    pub(crate) fn clear_slot(&mut self, slot: usize) {
        for row in self.rows.iter_mut().flatten() {
            if let Some(v) = row.get_mut(slot) {
                *v = Value::Null;
            }
        }
    }

    /// A row as a JSON object: every active field (null when unset), or only `fields`.
    pub(crate) fn render(&self, id: u64, fields: Option<&[usize]>) -> Value {
        let mut out = Map::new();
        match fields {
            Some(slots) => {
                for &slot in slots {
                    out.insert(
                        self.schema.def(slot).external_id.clone(),
                        self.get(id, slot).clone(),
                    );
                }
            }
            None => {
                for (slot, def) in self.schema.active() {
                    out.insert(def.external_id.clone(), self.get(id, slot).clone());
                }
            }
        }
        Value::Object(out)
    }

    /// Ids matching `filter`, sorted by `sort` (ties in insertion order).
    pub(crate) fn query(&self, filter: Option<&Expr>, sort: &[(usize, bool)]) -> Vec<u64> {
        let mut ids: Vec<u64> = match filter {
            None => self.ids().collect(),
            Some(f) => self
                .iter()
                .filter(|(_, row)| f.matches(&|slot| row.get(slot).cloned().unwrap_or(Value::Null)))
                .map(|(id, _)| id)
                .collect(),
        };
        if !sort.is_empty() {
            ids.sort_by(|a, b| {
                filter::compare_rows(sort, &|slot| self.get(*a, slot).clone(), &|slot| {
                    self.get(*b, slot).clone()
                })
            });
        }
        ids
    }

    /// Parses `filter` against this table's fields.
    pub(crate) fn parse_filter(&self, input: &str) -> Result<Expr, StateError> {
        let lookup = |name: &str| self.schema.slot(name).map(|s| (s, self.schema.def(s)));
        filter::parse_filter(input, &lookup)
            .map_err(|e| StateError::Rejected(format!("filter: {e}")))
    }

    /// Parses `sortby` against this table's fields.
    pub(crate) fn parse_sort(&self, input: &str) -> Result<Vec<(usize, bool)>, StateError> {
        filter::parse_sort(input, &|name| self.schema.slot(name))
            .map_err(|e| StateError::Rejected(format!("sortby: {e}")))
    }
}

/// Everything the emulator knows. Lives behind one mutex; no lock is held across an await.
#[derive(Debug)]
pub(crate) struct Inner {
    pub clock: Arc<dyn Clock>,
    pub people: Table,
    user_ids: HashMap<String, u64>,
    pub apps: Table,
    pub seats: BTreeMap<u64, Seat>,
    pub seat_by_person: HashMap<(u64, u64), u64>,
    pub next_seat_id: u64,
    pub roles: BTreeMap<u64, Role>,
    pub next_role_id: u64,
    pub portions: Vec<Portion>,
    pub portion_index: HashMap<String, usize>,
    pub run_logs: Vec<RunLog>,
    /// Contracts by lower-cased application name.
    pub spend: HashMap<String, super::SaasSpend>,
}

impl Inner {
    pub(crate) fn new(
        clock: Arc<dyn Clock>,
        custom_fields: &[CustomField],
        spend: &[super::SaasSpend],
        saas_apps: &[String],
    ) -> Self {
        let mut schema = Schema::new("users", people_builtins());
        for field in custom_fields {
            schema.upsert(FieldDef::from_custom(field));
        }
        let mut inner = Inner {
            clock,
            people: Table::new(schema),
            user_ids: HashMap::new(),
            apps: Table::new(Schema::new("saas", saas_builtins())),
            seats: BTreeMap::new(),
            seat_by_person: HashMap::new(),
            next_seat_id: 1,
            roles: BTreeMap::new(),
            next_role_id: 1,
            portions: Vec::new(),
            portion_index: HashMap::new(),
            run_logs: Vec::new(),
            spend: spend
                .iter()
                .map(|s| (s.saas_name.to_lowercase(), s.clone()))
                .collect(),
        };
        for name in saas_apps {
            inner.create_saas_app_named(name, "sandbox");
        }
        inner
    }

    pub(crate) fn now(&self) -> i64 {
        i64::try_from(epoch_secs(self.clock.now())).unwrap_or(i64::MAX)
    }

    /// A person by `user_id` or `username`.
    pub(crate) fn resolve_person(&self, ident: &str) -> Option<u64> {
        if let Some(&uid) = self.user_ids.get(ident) {
            return Some(uid);
        }
        self.people
            .find(people_slot::USERNAME, &Value::String(ident.to_owned()))
            .first()
            .copied()
    }

    pub(crate) fn person_user_id(&self, uid: u64) -> String {
        self.people
            .get(uid, people_slot::USER_ID)
            .as_str()
            .map_or_else(|| user_id_for(uid), str::to_owned)
    }

    pub(crate) fn person_by_user_id(&self, user_id: &str) -> Option<u64> {
        self.user_ids.get(user_id).copied()
    }

    /// Creates a person from REST-keyed `body`.
    pub(crate) fn create_person(
        &mut self,
        body: &Map<String, Value>,
        rules: WriteRules,
        actor: &str,
    ) -> Result<u64, StateError> {
        let changes = self
            .people
            .validate(None, body, &|k| self.people.schema.slot(k), rules)?;
        Ok(self.apply_person(None, changes, actor).0)
    }

    /// Updates a person from REST-keyed `body`; returns whether anything changed.
    pub(crate) fn update_person(
        &mut self,
        uid: u64,
        body: &Map<String, Value>,
        rules: WriteRules,
        actor: &str,
    ) -> Result<bool, StateError> {
        let changes =
            self.people
                .validate(Some(uid), body, &|k| self.people.schema.slot(k), rules)?;
        Ok(self.apply_person(Some(uid), changes, actor).1)
    }

    /// Applies validated changes: creates when `target` is `None`. Sets the audit fields,
    /// derives `full_name` from the names unless given, bumps `version` on real changes.
    /// Returns (uid, changed).
    pub(crate) fn apply_person(
        &mut self,
        target: Option<u64>,
        mut changes: Vec<(usize, Value)>,
        actor: &str,
    ) -> (u64, bool) {
        use people_slot::{
            CHANGE_DATE, CHANGED_BY, CREATED_BY, CREATION_DATE, FIRST_NAME, FULL_NAME, LAST_NAME,
            SUSPENDED, UID, USER_ID, VERSION,
        };
        let now = self.now();
        let touches = |changes: &[(usize, Value)], slot| changes.iter().any(|(s, _)| *s == slot);
        if !touches(&changes, FULL_NAME)
            && (target.is_none() || touches(&changes, FIRST_NAME) || touches(&changes, LAST_NAME))
        {
            let name = |slot| {
                changes
                    .iter()
                    .rev()
                    .find(|(s, _)| *s == slot)
                    .map(|(_, v)| v.clone())
                    .or_else(|| target.map(|id| self.people.get(id, slot).clone()))
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            };
            let full = format!("{} {}", name(FIRST_NAME), name(LAST_NAME))
                .trim()
                .to_owned();
            if !full.is_empty() {
                changes.push((FULL_NAME, Value::String(full)));
            }
        }
        let (uid, changed) = if let Some(uid) = target {
            let effective: Vec<(usize, Value)> = changes
                .into_iter()
                .filter(|(slot, v)| self.people.get(uid, *slot) != v)
                .collect();
            if effective.is_empty() {
                return (uid, false);
            }
            for (slot, value) in effective {
                self.people.set(uid, slot, value);
            }
            let version = self.people.get(uid, VERSION).as_i64().unwrap_or(0) + 1;
            self.people.set(uid, VERSION, json!(version));
            (uid, true)
        } else {
            let uid = self.people.next_id();
            let user_id = user_id_for(uid);
            let mut row = vec![Value::Null; self.people.schema.len()];
            row[UID] = json!(uid);
            row[USER_ID] = json!(user_id);
            row[SUSPENDED] = json!(false);
            row[CREATION_DATE] = json!(now);
            row[CREATED_BY] = json!(actor);
            row[CHANGE_DATE] = json!(now);
            row[VERSION] = json!(1);
            for (slot, value) in changes {
                row[slot] = value;
            }
            row[CHANGED_BY] = json!(actor);
            // The handle may give a `user_id` of its own.
            let user_id = row[USER_ID].as_str().map_or(user_id, str::to_owned);
            self.user_ids.insert(user_id, uid);
            let inserted = self.people.insert(row);
            debug_assert_eq!(inserted, uid);
            return (uid, true);
        };
        // The handle may set `user_id` explicitly; keep the lookup current.
        if let Some(given) = self.people.get(uid, USER_ID).as_str()
            && self.user_ids.get(given) != Some(&uid)
        {
            let given = given.to_owned();
            self.user_ids.retain(|_, v| *v != uid);
            self.user_ids.insert(given, uid);
        }
        self.people.set(uid, CHANGE_DATE, json!(now));
        self.people.set(uid, CHANGED_BY, json!(actor));
        (uid, changed)
    }

    /// Removes a person and their SaaS seats; returns the removed record.
    pub(crate) fn delete_person(&mut self, uid: u64) -> Option<Value> {
        let record = self.people.render(uid, None);
        let row = self.people.remove(uid)?;
        if let Some(user_id) = row.get(people_slot::USER_ID).and_then(Value::as_str) {
            self.user_ids.remove(user_id);
        }
        let seats: Vec<u64> = self
            .seats
            .values()
            .filter(|s| s.uid == uid)
            .map(|s| s.id)
            .collect();
        for id in seats {
            if let Some(seat) = self.seats.remove(&id) {
                self.seat_by_person.remove(&(seat.saas_id, uid));
            }
        }
        Some(record)
    }

    pub(crate) fn add_field(&mut self, field: &CustomField) -> Result<(), StateError> {
        if field.external_id.is_empty() {
            return Err(StateError::field("external_id", "required field"));
        }
        if let Some(slot) = self.people.schema.slot(&field.external_id)
            && !self.people.schema.def(slot).custom
        {
            return Err(StateError::field(
                &field.external_id,
                "a built-in field cannot be replaced",
            ));
        }
        let previous = self.people.schema.clone();
        let slot = self.people.schema.upsert(FieldDef::from_custom(field));
        let reactivated = previous.slot(&field.external_id).is_none();
        if let Err(e) = self.people.reindex() {
            self.people.schema = previous;
            self.people.reindex()?;
            return Err(e);
        }
        if reactivated {
            self.people.clear_slot(slot);
        }
        Ok(())
    }

    pub(crate) fn remove_field(&mut self, external_id: &str) -> bool {
        let Some(slot) = self.people.schema.remove(external_id) else {
            return false;
        };
        self.people.clear_slot(slot);
        // Cannot fail: removing a field only drops an index.
        let _ = self.people.reindex();
        true
    }

    /// The public view of a seat, joined with its person and role.
    pub(crate) fn seat_view(&self, seat: &Seat) -> SaasSeat {
        let text = |slot| self.people.get(seat.uid, slot).as_str().map(str::to_owned);
        SaasSeat {
            saas_user_id: seat.id,
            saas_id: seat.saas_id,
            user_id: self.person_user_id(seat.uid),
            username: text(people_slot::USERNAME),
            email: text(people_slot::EMAIL),
            full_name: text(people_slot::FULL_NAME),
            last_visit: seat.last_visit,
            old_usage: false,
            media_url: None,
            contract_id: None,
            roles: seat
                .role_id
                .and_then(|id| self.roles.get(&id))
                .map(|r| r.role.clone()),
            user_external_id: seat.user_external_id.clone(),
            status: seat.status,
        }
    }
}

/// A cheap-to-clone handle on the emulator's state, for tests, the CLI demo and
/// benchmarks. Reads see every change made through the API and vice versa.
///
/// People are JSON objects keyed by REST field (`external_id`), exactly as
/// `GET /api/v3/users/{ident}` returns them.
#[derive(Debug, Clone)]
pub struct OomnitzaState {
    pub(crate) inner: Arc<Mutex<Inner>>,
}

impl OomnitzaState {
    pub(crate) fn new(inner: Inner) -> Self {
        OomnitzaState {
            inner: Arc::new(Mutex::new(inner)),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every person, in creation order.
    pub fn people(&self) -> Vec<Value> {
        let inner = self.lock();
        inner
            .people
            .ids()
            .map(|uid| inner.people.render(uid, None))
            .collect()
    }

    /// How many People exist.
    pub fn people_count(&self) -> usize {
        self.lock().people.len()
    }

    /// One person by `user_id` or `username`.
    pub fn person(&self, ident: &str) -> Option<Value> {
        let inner = self.lock();
        let uid = inner.resolve_person(ident)?;
        Some(inner.people.render(uid, None))
    }

    /// People whose `field` equals `value` (converted to the field's type).
    pub fn find_people(&self, field: &str, value: &Value) -> Result<Vec<Value>, StateError> {
        let inner = self.lock();
        let slot = inner
            .people
            .schema
            .slot(field)
            .ok_or_else(|| StateError::field(field, "unknown field"))?;
        let value = coerce(inner.people.schema.def(slot), value)
            .map_err(|m| StateError::field(field, m))?;
        Ok(inner
            .people
            .find(slot, &value)
            .into_iter()
            .map(|uid| inner.people.render(uid, None))
            .collect())
    }

    /// Creates a person from a JSON object of REST fields, bypassing authentication and the
    /// editable restriction; server-managed fields (`creation_date`, ...) may be given.
    /// Unknown fields, types, required fields and unique fields are still enforced.
    pub fn add_person(&self, person: Value) -> Result<Value, StateError> {
        let Value::Object(body) = person else {
            return Err(StateError::Rejected("a person is a JSON object".to_owned()));
        };
        let mut inner = self.lock();
        let uid = inner.create_person(&body, WriteRules::HANDLE, "sandbox")?;
        Ok(inner.people.render(uid, None))
    }

    /// Sets one field of a person (any field, even server-managed ones; unique still
    /// enforced). Returns the updated record.
    pub fn set_field(&self, ident: &str, field: &str, value: Value) -> Result<Value, StateError> {
        let mut inner = self.lock();
        let uid = inner
            .resolve_person(ident)
            .ok_or_else(|| StateError::NotFound(ident.to_owned()))?;
        let body = Map::from_iter([(field.to_owned(), value)]);
        inner.update_person(uid, &body, WriteRules::HANDLE, "sandbox")?;
        Ok(inner.people.render(uid, None))
    }

    /// Removes a person (and their seats); returns the removed record.
    pub fn remove_person(&self, ident: &str) -> Option<Value> {
        let mut inner = self.lock();
        let uid = inner.resolve_person(ident)?;
        inner.delete_person(uid)
    }

    /// The `GET /api/v3/users/meta` document.
    pub fn field_meta(&self) -> Value {
        self.lock().people.schema.meta()
    }

    /// Adds a custom People field, or changes the flags of an existing custom field. Fails
    /// when the field is made unique while People already share a value.
    pub fn add_field(&self, field: &CustomField) -> Result<(), StateError> {
        self.lock().add_field(field)
    }

    /// Removes a custom People field and its values; false if there is no such custom field.
    pub fn remove_field(&self, external_id: &str) -> bool {
        self.lock().remove_field(external_id)
    }

    /// Every SaaS application, as `GET /api/v3/saas` returns them.
    pub fn saas_apps(&self) -> Vec<Value> {
        let inner = self.lock();
        inner
            .apps
            .ids()
            .map(|id| inner.apps.render(id, None))
            .collect()
    }

    /// Creates a SaaS application; returns its `saas_id`.
    pub fn add_saas_app(&self, name: &str) -> u64 {
        self.lock().create_saas_app_named(name, "sandbox")
    }

    /// Sets fields of an application (`annual_spend`, `total_licenses`, ...), as an admin
    /// would in the UI. Unknown fields are refused.
    pub fn set_saas_app_fields(
        &self,
        saas_id: u64,
        fields: &[(&str, Value)],
    ) -> Result<(), StateError> {
        let mut inner = self.lock();
        if !inner.apps.contains(saas_id) {
            return Err(StateError::NotFound(format!("saas {saas_id}")));
        }
        for (field, value) in fields {
            let slot = inner
                .apps
                .schema
                .slot(field)
                .ok_or_else(|| StateError::NotFound(format!("saas field {field}")))?;
            inner.apps.set(saas_id, slot, value.clone());
        }
        Ok(())
    }

    /// The `saas_id` of the first application named `name`.
    pub fn saas_app_id(&self, name: &str) -> Option<u64> {
        let inner = self.lock();
        inner
            .apps
            .find(
                fields::saas_slot::SAAS_NAME,
                &Value::String(name.to_owned()),
            )
            .first()
            .copied()
    }

    /// The seats (SaaS users) of one application, in creation order.
    pub fn saas_users(&self, saas_id: u64) -> Vec<SaasSeat> {
        let inner = self.lock();
        inner
            .seats
            .values()
            .filter(|s| s.saas_id == saas_id)
            .map(|s| inner.seat_view(s))
            .collect()
    }

    /// Every seat of every application.
    pub fn all_saas_users(&self) -> Vec<SaasSeat> {
        let inner = self.lock();
        inner.seats.values().map(|s| inner.seat_view(s)).collect()
    }

    /// Assigns a person (by `user_id` or `username`) to an application, or updates the
    /// `last_visit` of an existing seat. Returns the seat.
    pub fn assign_seat(
        &self,
        saas_id: u64,
        ident: &str,
        last_visit: Option<i64>,
    ) -> Result<SaasSeat, StateError> {
        let mut inner = self.lock();
        if !inner.apps.contains(saas_id) {
            return Err(StateError::NotFound(format!("saas {saas_id}")));
        }
        let uid = inner
            .resolve_person(ident)
            .ok_or_else(|| StateError::NotFound(ident.to_owned()))?;
        let id = inner.assign(saas_id, uid, last_visit);
        let seat = inner.seats.get(&id).cloned();
        seat.map(|s| inner.seat_view(&s))
            .ok_or_else(|| StateError::NotFound(format!("seat {id}")))
    }

    /// Sets a seat's status by hand (as an admin would in the UI). False when unknown.
    pub fn set_seat_status(&self, saas_user_id: u64, status: super::saas::SeatStatus) -> bool {
        let mut inner = self.lock();
        let Some(seat) = inner.seats.get_mut(&saas_user_id) else {
            return false;
        };
        seat.status = status;
        true
    }

    /// Sets a seat's last activity (`None` clears it). False when unknown.
    pub fn set_seat_last_visit(&self, saas_user_id: u64, last_visit: Option<i64>) -> bool {
        let mut inner = self.lock();
        let Some(seat) = inner.seats.get_mut(&saas_user_id) else {
            return false;
        };
        seat.last_visit = last_visit;
        true
    }

    /// The roles defined in one application.
    pub fn roles(&self, saas_id: u64) -> Vec<SaasRole> {
        self.lock()
            .roles
            .values()
            .filter(|r| r.saas_id == saas_id)
            .map(|r| r.role.clone())
            .collect()
    }

    /// Every bulk portion, in the order they were opened.
    pub fn portions(&self) -> Vec<Portion> {
        self.lock().portions.clone()
    }

    /// One bulk portion.
    pub fn portion(&self, portion_id: &str) -> Option<Portion> {
        let inner = self.lock();
        inner
            .portion_index
            .get(portion_id)
            .and_then(|&i| inner.portions.get(i))
            .cloned()
    }

    /// Marks a portion canceled (as an Oomnitza user could in the UI): `GET
    /// /api/v3/bulk/{portion}` then answers `"canceled": true` and uploads are refused.
    pub fn cancel_portion(&self, portion_id: &str) {
        let mut inner = self.lock();
        let now = inner.now();
        inner.portion_mut(portion_id, now).canceled = true;
    }

    /// Every connector run log, oldest first.
    pub fn run_logs(&self) -> Vec<RunLog> {
        self.lock().run_logs.clone()
    }

    /// Creates pre-existing People for a deterministic, evenly spread `share` (0.0–1.0) of
    /// `persons`, as if an administrator had entered them by hand: `username` and `email`
    /// are the primary email, names copied, `position` "Employee", and no `quip_user_id`
    /// (they belong to no integration). Persons already present (same username) are
    /// skipped. Returns the usernames created, in order.
    pub fn seed_people_from(&self, persons: &[Person], share: f64) -> Vec<String> {
        let share = share.clamp(0.0, 1.0);
        let mut inner = self.lock();
        let mut created = Vec::new();
        for (i, person) in persons.iter().enumerate() {
            // Pick person i when the running quota crosses an integer: evenly spread.
            let picked = ((i + 1) as f64 * share).floor() > (i as f64 * share).floor();
            if !picked || person.email().is_empty() {
                continue;
            }
            let body = Map::from_iter([
                ("username".to_owned(), json!(person.email())),
                ("email".to_owned(), json!(person.email())),
                ("first_name".to_owned(), json!(person.first_name)),
                ("last_name".to_owned(), json!(person.last_name)),
                ("full_name".to_owned(), json!(person.name)),
                ("position".to_owned(), json!("Employee")),
            ]);
            match inner.create_person(&body, WriteRules::HANDLE, "sandbox") {
                Ok(_) => created.push(person.email().to_owned()),
                Err(error) => tracing::debug!(%error, "seed person skipped"),
            }
        }
        created
    }
}
