//! The `saas_users` collection (seats of the SaaS application).
//!
//! Fields of a seat record: `user_external_id` (the Quip user id, also the sync key),
//! `role` (the role's label), `last_visit` (epoch seconds).

use std::collections::{BTreeMap, HashMap};

use compact_str::CompactString;
use futures::{StreamExt, TryStreamExt};
use sync_engine::{
    Change, Collection, CollectionSpec, ConnectorError, Fields, Operation, Outcome, Progress,
    ProgressEvent, Stage, TargetRecord, TargetSnapshot, Value,
};

use super::convert::{to_epoch, to_label};
use super::users::fail_all;
use super::{OomnitzaTarget, config_error};
use crate::models::{
    NewSaasApp, RoleAssignment, RoleOverwrite, RoleRef, SaasRole, SaasUser, SeatAssignment,
};
use sync_engine::seats::{AppSpend, Seat, SeatInventory};

/// The seat fields the target can read and write.
pub const SAAS_FIELDS: [&str; 3] = ["user_external_id", "role", "last_visit"];

/// The sync key of seats.
pub const SAAS_SYNC_KEY: &str = "user_external_id";

/// What to do with a seat's role.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RoleChange {
    /// Leave it.
    Keep,
    /// Remove every role.
    Clear,
    /// Set this role (by label).
    Set(String),
}

/// What one seat change still needs, and how it ended.
#[derive(Debug)]
struct Pending {
    key: CompactString,
    /// Seat id (known for updates; learnt from the assignment for creates).
    seat: Option<String>,
    /// Person `user_id`.
    user: Option<String>,
    /// The seat is created by this change (it has no role yet).
    new_seat: bool,
    assign: bool,
    last_visit: Option<i64>,
    external_id: Option<String>,
    role: RoleChange,
    deactivate: bool,
    activate: bool,
    error: Option<String>,
}

impl Pending {
    fn fail(&mut self, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(message.into());
        }
    }

    fn ok(&self) -> bool {
        self.error.is_none()
    }
}

impl OomnitzaTarget {
    pub(super) async fn validate_saas(&self, spec: &CollectionSpec) -> Result<(), ConnectorError> {
        if spec.sync_key.as_ref() != SAAS_SYNC_KEY {
            return Err(config_error(format!(
                "the saas_users sync key must be \"{SAAS_SYNC_KEY}\" (the source's user id stored on the seat), not {:?}",
                spec.sync_key
            )));
        }
        if !spec.fallback_keys.is_empty() {
            return Err(config_error(
                "saas_users have no fallback keys: seats are matched on user_external_id only",
            ));
        }
        let unknown: Vec<&str> = spec
            .fields
            .iter()
            .map(AsRef::as_ref)
            .filter(|f| !SAAS_FIELDS.contains(f))
            .collect();
        if !unknown.is_empty() {
            return Err(config_error(format!(
                "Oomnitza SaaS users have no field(s) {}: the fields are {}",
                unknown.join(", "),
                SAAS_FIELDS.join(", ")
            )));
        }
        if self.config.saas_name.trim().is_empty() {
            return Err(config_error(
                "the SaaS application name (saas_name) is empty",
            ));
        }
        // Seats find their person through the People sync key field.
        let key = self.config.users_sync_key_field.as_str();
        let meta = self.fresh_meta().await?;
        if meta.get(key).is_none() {
            return Err(config_error(format!(
                "Oomnitza has no Users field \"{key}\": create a Users field labelled '{}' with Unique checked (Configuration > Customization > Users), then run validate again",
                super::label_for(key)
            )));
        }
        if !meta.is_unique(key) {
            return Err(config_error(format!(
                "the Oomnitza Users field \"{key}\" is not unique: edit it and check Unique (Configuration > Customization > Users), then run validate again"
            )));
        }
        Ok(())
    }

    pub(super) async fn read_saas(
        &self,
        spec: &CollectionSpec,
        progress: &dyn Progress,
    ) -> Result<TargetSnapshot, ConnectorError> {
        let stage = Stage::ReadTarget(Collection::SaasUsers);
        // Read-only: a missing application is an empty collection, created on apply.
        let app = self
            .client
            .saas()
            .find_by_name(&self.config.saas_name)
            .await?;
        let Some(saas_id) = app.and_then(|a| a.saas_id) else {
            tracing::info!(saas = %self.config.saas_name, "the SaaS application does not exist yet");
            return Ok(TargetSnapshot::default());
        };
        let mut pages = self.client.saas_users().list(&saas_id).pages();
        let mut records = Vec::new();
        let mut owners = HashMap::new();
        while let Some(page) = pages.try_next().await? {
            progress.on_event(ProgressEvent::Advanced {
                stage,
                by: page.len() as u64,
            });
            for seat in page {
                if let Some(r) = seat_record(spec, &seat) {
                    if let (Some(s), Some(u)) = (&seat.saas_user_id, &seat.user_id) {
                        owners.insert(s.clone(), u.clone());
                    }
                    records.push(r);
                }
            }
        }
        let mut saas = self.saas.lock().await;
        saas.saas_id = Some(saas_id);
        saas.seat_owner = owners;
        Ok(TargetSnapshot { records })
    }

    /// The application's seats with their last activity, and its spend per licence, read
    /// only (`seats`): the application found by name (never created), then its seats page
    /// after page.
    pub(super) async fn seat_inventory(
        &self,
        progress: &dyn Progress,
    ) -> Result<SeatInventory, ConnectorError> {
        let name = self.config.saas_name.clone();
        let app = self.client.saas().find_by_name(&name).await?;
        let Some((app, saas_id)) = app.and_then(|a| a.saas_id.clone().map(|id| (a, id))) else {
            return Ok(SeatInventory {
                app: name,
                ..SeatInventory::default()
            });
        };
        let number = |field: &str| app.other.get(field).and_then(json_number);
        let spend = AppSpend {
            annual_spend: number("annual_spend"),
            total_licenses: number("total_licenses"),
        };
        progress.on_event(ProgressEvent::Started {
            stage: Stage::ReadTarget(Collection::SaasUsers),
            total: None,
        });
        let mut pages = self.client.saas_users().list(&saas_id).pages();
        let mut seats = Vec::new();
        while let Some(page) = pages.try_next().await? {
            progress.on_event(ProgressEvent::Advanced {
                stage: Stage::ReadTarget(Collection::SaasUsers),
                by: page.len() as u64,
            });
            seats.extend(page.into_iter().map(|seat| {
                Seat {
                    role: seat.role_label().map(str::to_owned),
                    last_activity: seat
                        .last_visit
                        .and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
                    active: seat.is_active(),
                    person: seat.full_name.or(seat.username),
                    email: seat.email,
                }
            }));
        }
        progress.on_event(ProgressEvent::Finished {
            stage: Stage::ReadTarget(Collection::SaasUsers),
        });
        Ok(SeatInventory {
            app: name,
            found: true,
            spend: Some(spend),
            seats,
        })
    }

    /// The application's id, found or created (the "Software SaaS Selection").
    async fn ensure_app(&self) -> Result<String, crate::Error> {
        let mut saas = self.saas.lock().await;
        if let Some(id) = &saas.saas_id {
            return Ok(id.clone());
        }
        let (id, created) = self
            .client
            .saas()
            .find_or_create(&NewSaasApp::new(
                &self.config.saas_name,
                &self.config.connector_name,
            ))
            .await?;
        if created {
            tracing::info!(saas = %self.config.saas_name, saas_id = %id, "created the SaaS application");
        }
        saas.saas_id = Some(id.clone());
        Ok(id)
    }

    pub(super) async fn apply_saas(
        &self,
        _spec: &CollectionSpec,
        batch: Vec<Change>,
    ) -> Vec<Outcome> {
        let saas_id = match self.ensure_app().await {
            Ok(id) => id,
            Err(e) => {
                return fail_all(
                    &batch,
                    &format!(
                        "the SaaS application {:?} could not be found or created: {}",
                        self.config.saas_name,
                        e.report()
                    ),
                );
            }
        };

        let mut pending: Vec<Pending> = batch.into_iter().map(plan_change).collect();
        self.resolve_people(&mut pending).await;
        self.assign_seats(&saas_id, &mut pending).await;
        self.store_external_ids(&saas_id, &mut pending).await;
        self.set_roles(&saas_id, &mut pending).await;
        self.set_status(&mut pending, false).await;
        self.set_status(&mut pending, true).await;

        pending
            .into_iter()
            .map(|p| match p.error {
                Some(message) => Outcome::failed(p.key, message),
                None => Outcome::done(p.key, p.seat.unwrap_or_default()),
            })
            .collect()
    }

    /// Finds the person of every change that needs one.
    async fn resolve_people(&self, pending: &mut [Pending]) {
        let needs = |p: &Pending| p.assign || p.external_id.is_some() || p.role != RoleChange::Keep;
        let keys: Vec<&str> = pending
            .iter()
            .filter(|p| needs(p))
            .map(|p| p.key.as_str())
            .collect();
        if keys.is_empty() {
            return;
        }
        let found = match self.people_for(&keys).await {
            Ok(found) => found,
            Err(e) => {
                let msg = format!("could not read Oomnitza people: {}", e.report());
                for p in pending.iter_mut().filter(|p| needs(p)) {
                    p.fail(&msg);
                }
                return;
            }
        };
        let owners = self.saas.lock().await.seat_owner.clone();
        let key_field = &self.config.users_sync_key_field;
        for p in pending.iter_mut().filter(|p| needs(p)) {
            p.user = found
                .get(p.key.as_str())
                .cloned()
                .or_else(|| p.seat.as_ref().and_then(|s| owners.get(s).cloned()));
            if p.user.is_none() {
                p.fail(format!(
                    "no Oomnitza person has {key_field} = {}; the person must be synced before the seat",
                    p.key
                ));
            }
        }
    }

    /// One assignment request per batch: new seats and last-activity refreshes.
    async fn assign_seats(&self, saas_id: &str, pending: &mut [Pending]) {
        let idx: Vec<usize> = (0..pending.len())
            .filter(|&i| pending[i].ok() && pending[i].assign)
            .collect();
        for chunk in idx.chunks(self.config.seat_batch_size) {
            let seats: Vec<SeatAssignment> = chunk
                .iter()
                .map(|&i| {
                    let p = &pending[i];
                    SeatAssignment::assign(p.user.clone().unwrap_or_default(), p.last_visit)
                })
                .collect();
            match self.client.saas_users().assign(saas_id, &seats).await {
                Ok(results) => {
                    let by_user: HashMap<String, _> = results
                        .iter()
                        .filter_map(|r| r.user_id.clone().map(|u| (u, r)))
                        .collect();
                    for (pos, &i) in chunk.iter().enumerate() {
                        let p = &mut pending[i];
                        let user = p.user.clone().unwrap_or_default();
                        // Match results by user id, falling back to position.
                        let result = by_user.get(&user).copied().or_else(|| results.get(pos));
                        match result {
                            Some(r) => match &r.error {
                                Some(err) => p.fail(format!("seat assignment rejected: {err}")),
                                None => {
                                    if let Some(s) = &r.saas_user_id {
                                        p.seat = Some(s.clone());
                                    }
                                }
                            },
                            None => p.fail("Oomnitza sent no result for this seat assignment"),
                        }
                    }
                }
                Err(e) => {
                    let msg = format!("seat assignment failed: {}", e.report());
                    for &i in chunk {
                        pending[i].fail(&msg);
                    }
                }
            }
        }
    }

    /// Stores the Quip id on each seat that needs it (one request per seat: the API has no
    /// batch form).
    async fn store_external_ids(&self, saas_id: &str, pending: &mut [Pending]) {
        let work: Vec<(usize, String, String)> = pending
            .iter()
            .enumerate()
            .filter(|(_, p)| p.ok())
            .filter_map(|(i, p)| Some((i, p.user.clone()?, p.external_id.clone()?)))
            .collect();
        let handler = self.client.saas_users();
        let results: Vec<(usize, Result<(), crate::Error>)> = futures::stream::iter(work)
            .map(|(i, user, ext)| {
                let handler = handler.clone();
                async move { (i, handler.set_external_id(saas_id, &user, &ext).await) }
            })
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
        for (i, r) in results {
            if let Err(e) = r {
                pending[i].fail(format!("could not store the external id: {}", e.report()));
            }
        }
    }

    /// Sets the roles that changed: a new seat's role is added with one `POST` per batch
    /// of seats sharing it (the document's `users` and `roles` arrays); an existing seat
    /// whose role changed or was cleared gets one `PATCH` of its own (the document's
    /// `users` is a single id there). Missing roles are created once per label.
    async fn set_roles(&self, saas_id: &str, pending: &mut [Pending]) {
        let mut added: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut replaced: Vec<(usize, Option<String>)> = Vec::new();
        for (i, p) in pending.iter().enumerate() {
            if !p.ok() || p.user.is_none() {
                continue;
            }
            match &p.role {
                RoleChange::Keep => {}
                RoleChange::Set(label) if p.new_seat => {
                    added.entry(label.clone()).or_default().push(i);
                }
                RoleChange::Set(label) => replaced.push((i, Some(label.clone()))),
                RoleChange::Clear => replaced.push((i, None)),
            }
        }
        let mut roles: HashMap<String, SaasRole> = HashMap::new();
        let labels: Vec<String> = added
            .keys()
            .cloned()
            .chain(replaced.iter().filter_map(|(_, l)| l.clone()))
            .collect();
        for label in labels {
            if roles.contains_key(&label) {
                continue;
            }
            match self.role(saas_id, &label).await {
                Ok(role) => {
                    roles.insert(label, role);
                }
                Err(e) => {
                    let msg = format!("could not create the role {label:?}: {}", e.report());
                    for p in pending.iter_mut() {
                        if matches!(&p.role, RoleChange::Set(l) if *l == label) {
                            p.fail(&msg);
                        }
                    }
                }
            }
        }

        let handler = self.client.roles(saas_id);
        for (label, members) in added {
            let Some(role) = roles.get(&label) else {
                continue;
            };
            let Some(role_id) = role.role_id.clone() else {
                // Without Oomnitza's id the POST cannot name the role; PATCH can.
                replaced.extend(members.into_iter().map(|i| (i, Some(label.clone()))));
                continue;
            };
            for chunk in members.chunks(self.config.seat_batch_size) {
                let users: Vec<String> = chunk
                    .iter()
                    .filter_map(|&i| pending[i].user.clone())
                    .collect();
                let result = handler
                    .assign(&RoleAssignment::new(users, vec![role_id.clone()]))
                    .await;
                record_role_results(pending, chunk, result);
            }
        }

        let work: Vec<(usize, RoleOverwrite)> = replaced
            .into_iter()
            .filter(|(i, _)| pending[*i].ok())
            .filter_map(|(i, label)| {
                let refs = match label {
                    None => Vec::new(),
                    Some(label) => vec![RoleRef::of(roles.get(&label)?)?],
                };
                Some((i, RoleOverwrite::new(pending[i].user.clone()?, refs)))
            })
            .collect();
        let results: Vec<(usize, Result<_, crate::Error>)> = futures::stream::iter(work)
            .map(|(i, body)| {
                let handler = handler.clone();
                async move { (i, handler.overwrite(&body).await) }
            })
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
        for (i, result) in results {
            record_role_results(pending, &[i], result);
        }
    }

    /// The role labelled `label`, listing roles once per run and creating it when missing.
    async fn role(&self, saas_id: &str, label: &str) -> Result<SaasRole, crate::Error> {
        let mut saas = self.saas.lock().await;
        if saas.roles.is_none() {
            let listed = self.client.roles(saas_id).list().await?;
            saas.roles = Some(
                listed
                    .into_iter()
                    .filter_map(|r| Some((r.role_external_label.clone()?, r)))
                    .collect(),
            );
        }
        if let Some(r) = saas.roles.as_ref().and_then(|m| m.get(label)) {
            return Ok(reference(r));
        }
        let created = self
            .client
            .roles(saas_id)
            .create_or_find(label, None)
            .await?;
        tracing::info!(role = label, "created a SaaS role");
        let r = reference(&created);
        if let Some(m) = saas.roles.as_mut() {
            m.insert(label.to_owned(), created);
        }
        Ok(r)
    }

    /// Deactivates (`activate == false`) or activates seats in batches; a seat that no
    /// longer exists counts as deactivated.
    async fn set_status(&self, pending: &mut [Pending], activate: bool) {
        let idx: Vec<usize> = (0..pending.len())
            .filter(|&i| {
                let p = &pending[i];
                p.ok() && p.seat.is_some() && if activate { p.activate } else { p.deactivate }
            })
            .collect();
        let handler = self.client.saas_users();
        for chunk in idx.chunks(self.config.seat_batch_size) {
            let ids: Vec<String> = chunk
                .iter()
                .filter_map(|&i| pending[i].seat.clone())
                .collect();
            let result = if activate {
                handler.activate(&ids).await
            } else {
                handler.deactivate(&ids).await
            };
            let verb = if activate { "activate" } else { "deactivate" };
            match result {
                Ok(items) => {
                    let by_id: HashMap<String, Option<String>> = items
                        .into_iter()
                        .filter_map(|r| Some((r.saas_user_id?, r.error)))
                        .collect();
                    for &i in chunk {
                        let p = &mut pending[i];
                        let seat = p.seat.clone().unwrap_or_default();
                        match by_id.get(&seat) {
                            Some(None) => {}
                            Some(Some(err)) if !activate && is_not_found(err) => {
                                tracing::info!(seat = %seat, "seat to deactivate is already gone; counting it as done");
                            }
                            Some(Some(err)) => p.fail(format!("could not {verb} the seat: {err}")),
                            None => {
                                p.fail(format!("Oomnitza sent no result to {verb} seat {seat}"));
                            }
                        }
                    }
                }
                Err(e) if !activate && e.is_not_found() => {
                    tracing::info!("seats to deactivate are already gone; counting them as done");
                }
                Err(e) => {
                    let msg = format!("could not {verb} seats: {}", e.report());
                    for &i in chunk {
                        pending[i].fail(&msg);
                    }
                }
            }
        }
    }
}

fn is_not_found(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("not found") || m.contains("does not exist") || m.contains("404")
}

/// Marks the seats `chunk` of a role change failed by the per-user errors in `result`, or
/// all of them when the request failed.
fn record_role_results(
    pending: &mut [Pending],
    chunk: &[usize],
    result: Result<Vec<crate::models::RoleUserResult>, crate::Error>,
) {
    match result {
        Ok(results) => {
            let errors: HashMap<String, String> = results
                .into_iter()
                .filter_map(|r| Some((r.user_id?, r.error?)))
                .collect();
            for &i in chunk {
                let p = &mut pending[i];
                if let Some(err) = p.user.as_ref().and_then(|u| errors.get(u)) {
                    p.fail(format!("could not set the role: {err}"));
                }
            }
        }
        Err(e) => {
            let msg = format!("could not set the role: {}", e.report());
            for &i in chunk {
                pending[i].fail(&msg);
            }
        }
    }
}

/// A role reference for assignments (ids and label, without the other fields).
fn reference(role: &SaasRole) -> SaasRole {
    let mut r = SaasRole::reference(
        role.role_external_label.clone().unwrap_or_default(),
        role.role_external_id.clone(),
    );
    r.role_id.clone_from(&role.role_id);
    r
}

/// What a change needs done.
fn plan_change(change: Change) -> Pending {
    let mut p = Pending {
        key: change.key,
        seat: None,
        user: None,
        new_seat: false,
        assign: false,
        last_visit: None,
        external_id: None,
        role: RoleChange::Keep,
        deactivate: false,
        activate: false,
        error: None,
    };
    let take_fields = |p: &mut Pending, fields: &Fields, create: bool| {
        if let Some(v) = fields.get("last_visit") {
            p.last_visit = to_epoch(v);
            p.assign = true;
        }
        if let Some(v) = fields.get("user_external_id") {
            p.external_id = v.as_str().map(str::to_owned).filter(|s| !s.is_empty());
        }
        if create && p.external_id.is_none() {
            p.external_id = Some(p.key.to_string());
        }
        if let Some(v) = fields.get("role") {
            p.role = match to_label(v) {
                Some(label) => RoleChange::Set(label),
                // A new seat has no role: nothing to clear.
                None if create => RoleChange::Keep,
                None => RoleChange::Clear,
            };
        }
    };
    match change.op {
        Operation::Create { fields } => {
            p.assign = true;
            p.new_seat = true;
            take_fields(&mut p, &fields, true);
        }
        Operation::Update { id, set, .. } => {
            p.seat = Some(id.to_string());
            take_fields(&mut p, &set, false);
        }
        Operation::Reactivate { id, set } => {
            p.seat = Some(id.to_string());
            p.activate = true;
            take_fields(&mut p, &set, false);
        }
        Operation::Deactivate { id } => {
            p.seat = Some(id.to_string());
            p.deactivate = true;
        }
    }
    p
}

/// A seat as an engine record; `None` for a seat without an id.
fn seat_record(spec: &CollectionSpec, seat: &SaasUser) -> Option<TargetRecord> {
    let id = seat.saas_user_id.clone()?;
    let key = seat
        .user_external_id
        .clone()
        .filter(|k| !k.trim().is_empty());
    let mut fields = Fields::new();
    for name in &spec.fields {
        let value = match name.as_ref() {
            "user_external_id" => Value::from(key.clone()),
            "role" => Value::from(seat.role_label().map(str::to_owned)),
            "last_visit" => seat.last_visit.map_or(Value::Null, Value::Int),
            _ => continue,
        };
        fields.insert(name.clone(), value);
    }
    Some(TargetRecord {
        id: id.into(),
        owned: key.is_some(),
        key: key.map(CompactString::from),
        fields,
        active: seat.is_active(),
        deactivated_by_sync: false,
    })
}

/// A number field as Oomnitza may send it: a JSON number or a numeric string.
fn json_number(value: &serde_json::Value) -> Option<f64> {
    match value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
