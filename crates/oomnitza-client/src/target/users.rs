//! The `users` collection (People).

use std::collections::{BTreeSet, HashMap};

use compact_str::CompactString;
use futures::{StreamExt, TryStreamExt};
use serde_json::{Map, Value as Json};
use sync_engine::{
    Change, Collection, CollectionSpec, ConnectorError, Fields, Operation, Outcome, Progress,
    ProgressEvent, Stage, TargetRecord, TargetSnapshot,
};

use super::convert::{fields_to_map, from_json, json_key, same_value};
use super::{BulkRunSummary, OomnitzaTarget, Portion, config_error, label_for};
use crate::api::WriteOptions;
use crate::error::Error;
use crate::filter::{Filter, is_valid_field_name};
use crate::models::{BulkUpload, User, UsersMeta};

const CUSTOMIZATION: &str = "(Configuration > Customization > Users)";

impl OomnitzaTarget {
    pub(super) async fn validate_users(&self, spec: &CollectionSpec) -> Result<(), ConnectorError> {
        let key = spec.sync_key.as_ref();
        if key != self.config.users_sync_key_field {
            return Err(config_error(format!(
                "the users sync key is {key:?} but the Oomnitza target's users_sync_key_field is {:?}; set both to the same People field",
                self.config.users_sync_key_field
            )));
        }
        for f in std::iter::once(&spec.sync_key).chain(&spec.fallback_keys) {
            if !is_valid_field_name(f) {
                return Err(config_error(format!(
                    "{f:?} cannot be a key field: Oomnitza field ids use only a-z, 0-9 and _"
                )));
            }
        }
        let meta = self.fresh_meta().await?;
        let mut problems = Vec::new();
        if meta.get(key).is_none() {
            problems.push(format!(
                "Oomnitza has no Users field \"{key}\": create a Users field labelled '{}' with Unique checked {CUSTOMIZATION}, then run validate again",
                label_for(key)
            ));
        } else if !meta.is_unique(key) {
            let label = meta
                .get(key)
                .and_then(|m| m.label.clone())
                .unwrap_or_else(|| label_for(key));
            problems.push(format!(
                "the Oomnitza Users field \"{key}\" ('{label}') is not unique: edit it and check Unique {CUSTOMIZATION}, then run validate again"
            ));
        }
        let mut others: BTreeSet<&str> = spec.fields.iter().map(AsRef::as_ref).collect();
        others.extend(spec.fallback_keys.iter().map(AsRef::as_ref));
        others.insert(self.config.people_deactivation.field.as_str());
        others.remove(key);
        for field in others {
            if meta.get(field).is_none() {
                problems.push(format!(
                    "Oomnitza has no Users field \"{field}\": create a Users field labelled '{}' {CUSTOMIZATION} or remove it from the mapping, then run validate again",
                    label_for(field)
                ));
            }
        }
        // A mandatory (`optional: 0`), writable field the mapping leaves out: every create
        // would be refused, so it is a configuration problem before anything is sent.
        for (field, m) in &meta.fields {
            let mapped = field == key || spec.fields.iter().any(|f| f.as_ref() == field.as_str());
            if m.optional == Some(false) && m.editable != Some(false) && !mapped {
                let label = m.label.clone().unwrap_or_else(|| label_for(field));
                problems.push(format!(
                    "the Oomnitza Users field \"{field}\" ('{label}') is mandatory, but the mapping does not set it: add it to [mapping.users.fields]"
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(config_error(problems.join("\n")))
        }
    }

    pub(super) async fn read_users(
        &self,
        spec: &CollectionSpec,
        progress: &dyn Progress,
    ) -> Result<TargetSnapshot, ConnectorError> {
        let key_field = spec.sync_key.as_ref();
        let deact = &self.config.people_deactivation;
        let mut wanted: BTreeSet<&str> = spec.fields.iter().map(AsRef::as_ref).collect();
        wanted.extend(spec.fallback_keys.iter().map(AsRef::as_ref));
        let wanted: Vec<&str> = wanted.into_iter().collect();

        let owned_only = spec.fallback_keys.is_empty();
        let people = self.read_people(key_field, owned_only, progress).await?;

        let mut records = Vec::with_capacity(people.len());
        let mut index = HashMap::new();
        for user in people {
            let Some(id) = user.user_id.clone() else {
                tracing::warn!("skipping an Oomnitza person without user_id");
                continue;
            };
            let key = user.get(key_field).as_ref().and_then(json_key);
            if owned_only && key.is_none() {
                continue;
            }
            let mut fields = Fields::new();
            for name in &wanted {
                if let Some(v) = user.get(name) {
                    fields.insert(*name, from_json(&v));
                }
            }
            let active = !user
                .get(&deact.field)
                .is_some_and(|v| same_value(&v, &deact.inactive_value));
            if let Some(k) = &key {
                index.insert(k.clone(), id.clone());
            }
            records.push(TargetRecord {
                id: id.into(),
                owned: key.is_some(),
                key: key.map(CompactString::from),
                fields,
                active,
                deactivated_by_sync: false,
            });
        }
        {
            // Every owned person was read: the Quip id → person index is complete.
            let mut people = self.people.lock().await;
            people.by_key = index;
            people.loaded = true;
        }
        Ok(TargetSnapshot { records })
    }

    /// Reads People: those carrying `key_field` (filter `key_field ne ''`) when
    /// `owned_only`, else everyone. Falls back to reading everyone when the tenant rejects
    /// the filter with 400 (the `ne` operator is unconfirmed).
    pub(super) async fn read_people(
        &self,
        key_field: &str,
        owned_only: bool,
        progress: &dyn Progress,
    ) -> Result<Vec<User>, Error> {
        let stage = Stage::ReadTarget(Collection::Users);
        let collect = |filter: Option<Filter>| async move {
            let mut list = self.client.users().list();
            if let Some(f) = filter {
                list = list.filter(f);
            }
            let mut pages = list.pages();
            let mut all = Vec::new();
            while let Some(page) = pages.try_next().await? {
                progress.on_event(ProgressEvent::Advanced {
                    stage,
                    by: page.len() as u64,
                });
                all.extend(page);
            }
            Ok::<_, Error>(all)
        };
        if !owned_only {
            return collect(None).await;
        }
        match collect(Some(Filter::new().ne(key_field, ""))).await {
            Err(e) if e.status() == Some(http::StatusCode::BAD_REQUEST) => {
                tracing::warn!(error = %e, "the tenant rejected the sync key filter; reading every person instead");
                collect(None).await
            }
            other => other,
        }
    }

    /// Write options for a body: the meta-restriction header when it holds a read-only field.
    fn write_options(meta: &UsersMeta, body: &Map<String, Json>) -> WriteOptions {
        if body.keys().any(|k| meta.is_read_only(k)) {
            WriteOptions::ignore_meta_restriction()
        } else {
            WriteOptions::default()
        }
    }

    pub(super) async fn apply_users_rest(
        &self,
        spec: &CollectionSpec,
        meta: &UsersMeta,
        batch: Vec<Change>,
    ) -> Vec<Outcome> {
        let outcomes: Vec<Outcome> = futures::stream::iter(batch)
            .map(|change| {
                let meta = &meta;
                async move { self.apply_user_rest(spec, meta, change).await }
            })
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
        // Keep the Quip id → person index current for the saas_users collection.
        let mut people = self.people.lock().await;
        for o in &outcomes {
            if let sync_engine::OutcomeResult::Done { id } = &o.result
                && !id.is_empty()
            {
                people.by_key.insert(o.key.to_string(), id.to_string());
            }
        }
        outcomes
    }

    async fn apply_user_rest(
        &self,
        spec: &CollectionSpec,
        meta: &UsersMeta,
        change: Change,
    ) -> Outcome {
        let users = self.client.users();
        let key = change.key;
        let deact = &self.config.people_deactivation;
        match change.op {
            Operation::Create { fields } => {
                let mut body = fields_to_map(&fields);
                body.entry(spec.sync_key.to_string())
                    .or_insert_with(|| Json::String(key.to_string()));
                let opts = Self::write_options(meta, &body);
                match users
                    .create_or_find(&body, opts, &spec.sync_key, &key)
                    .await
                {
                    Ok(user) => done_user(&key, &user),
                    Err(e) if e.is_conflict() => {
                        self.adopt_after_conflict(spec, &key, &body, opts, &e).await
                    }
                    Err(e) => Outcome::failed(key, e.report()),
                }
            }
            Operation::Update { id, set, adopt } => {
                if set.is_empty() {
                    return Outcome::done(key, id);
                }
                let body = fields_to_map(&set);
                let opts = Self::write_options(meta, &body);
                match users.patch(&id, &body, opts).await {
                    Ok(_) => {
                        if adopt {
                            tracing::info!(key = %key, id = %id, "adopted an existing person");
                        }
                        Outcome::done(key, id)
                    }
                    Err(e) if e.is_not_found() => Outcome::failed(
                        key,
                        format!("person {id} no longer exists in Oomnitza ({e})"),
                    ),
                    Err(e) => Outcome::failed(key, e.report()),
                }
            }
            Operation::Reactivate { id, set } => {
                let mut body = fields_to_map(&set);
                body.insert(deact.field.clone(), deact.active_value.clone());
                let opts = Self::write_options(meta, &body);
                match users.patch(&id, &body, opts).await {
                    Ok(_) => Outcome::done(key, id),
                    Err(e) if e.is_not_found() => Outcome::failed(
                        key,
                        format!("person {id} no longer exists in Oomnitza ({e})"),
                    ),
                    Err(e) => Outcome::failed(key, e.report()),
                }
            }
            Operation::Deactivate { id } => {
                let mut body = Map::new();
                body.insert(deact.field.clone(), deact.inactive_value.clone());
                let opts = Self::write_options(meta, &body);
                match users.patch(&id, &body, opts).await {
                    Ok(_) => Outcome::done(key, id),
                    Err(e) if e.is_not_found() => {
                        tracing::info!(key = %key, id = %id, "person to deactivate is already gone; counting it as done");
                        Outcome::done(key, id)
                    }
                    Err(e) => Outcome::failed(key, e.report()),
                }
            }
        }
    }

    /// A create answered 409: when a person with the same sync key exists (an earlier
    /// attempt or run created it), adopt it by patching the fields; otherwise the conflict
    /// is on another unique field and the record fails with Oomnitza's message.
    async fn adopt_after_conflict(
        &self,
        spec: &CollectionSpec,
        key: &str,
        body: &Map<String, Json>,
        opts: WriteOptions,
        conflict: &Error,
    ) -> Outcome {
        let users = self.client.users();
        match users.find_by(&spec.sync_key, key).await {
            Ok(found) => match found.as_slice() {
                [one] => match &one.user_id {
                    Some(id) => match users.patch(id, body, opts).await {
                        Ok(_) => {
                            tracing::info!(key, id = %id, "create conflicted with a person carrying the same sync key; adopted it");
                            Outcome::done(key, id.as_str())
                        }
                        Err(e) => Outcome::failed(key, e.report()),
                    },
                    None => Outcome::failed(key, conflict.report()),
                },
                [] => Outcome::failed(key, conflict.report()),
                many => Outcome::failed(
                    key,
                    format!(
                        "{} Oomnitza people carry {} = {key}; fix the duplicates ({})",
                        many.len(),
                        spec.sync_key,
                        conflict.report()
                    ),
                ),
            },
            Err(e) => Outcome::failed(
                key,
                format!(
                    "{}; looking the person up failed: {}",
                    conflict.report(),
                    e.report()
                ),
            ),
        }
    }

    pub(super) async fn apply_users_bulk(
        &self,
        spec: &CollectionSpec,
        meta: &UsersMeta,
        batch: Vec<Change>,
    ) -> Vec<Outcome> {
        let deact = &self.config.people_deactivation;
        let key_field = spec.sync_key.as_ref();
        let sync_id = meta.bulk_id(key_field);
        let to_bulk = |fields: &Fields, key: &str| {
            let mut rec = Map::new();
            for (name, value) in fields.iter() {
                rec.insert(meta.bulk_id(name), super::convert::to_json(value));
            }
            rec.insert(sync_id.clone(), Json::String(key.to_owned()));
            rec
        };

        let mut inserts: Vec<(CompactString, Map<String, Json>)> = Vec::new();
        let mut updates: Vec<(CompactString, CompactString, Map<String, Json>)> = Vec::new();
        let mut adoptions = Vec::new();
        let mut outcomes = Vec::with_capacity(batch.len());
        for change in batch {
            match change.op {
                Operation::Create { fields } => {
                    let rec = to_bulk(&fields, &change.key);
                    inserts.push((change.key, rec));
                }
                // An adopted person has no sync key yet, so a bulk record could not be
                // matched to it: adoptions go through REST PATCH by id.
                Operation::Update { adopt: true, .. } => adoptions.push(change),
                Operation::Update { id, set, .. } => {
                    if set.is_empty() {
                        outcomes.push(Outcome::done(change.key, id));
                    } else {
                        let rec = to_bulk(&set, &change.key);
                        updates.push((change.key, id, rec));
                    }
                }
                Operation::Reactivate { id, set } => {
                    let mut rec = to_bulk(&set, &change.key);
                    rec.insert(meta.bulk_id(&deact.field), deact.active_value.clone());
                    updates.push((change.key, id, rec));
                }
                Operation::Deactivate { id } => {
                    let mut rec = Map::new();
                    rec.insert(sync_id.clone(), Json::String(change.key.to_string()));
                    rec.insert(meta.bulk_id(&deact.field), deact.inactive_value.clone());
                    updates.push((change.key, id, rec));
                }
            }
        }

        if !adoptions.is_empty() {
            let adopted: Vec<Outcome> = futures::stream::iter(adoptions)
                .map(|c| {
                    let meta = &meta;
                    async move { self.apply_user_rest(spec, meta, c).await }
                })
                .buffer_unordered(self.config.concurrency)
                .collect()
                .await;
            outcomes.extend(adopted);
        }
        if inserts.is_empty() && updates.is_empty() {
            return outcomes;
        }

        // Bulk creates carry no ids back: the Quip id → person index must be re-read
        // before seats are written.
        if !inserts.is_empty() {
            let mut people = self.people.lock().await;
            people.loaded = false;
        }

        let mut portion = self.portion.lock().await;
        let portion = portion.get_or_insert_with(|| Portion {
            id: uuid::Uuid::new_v4().to_string(),
            ..Portion::default()
        });
        let sync_field = vec![sync_id.clone()];
        let size = self.config.bulk_batch_size;
        for chunk in inserts.chunks(size) {
            let upload = BulkUpload::users(
                &self.config.connector_name,
                &portion.id,
                sync_field.clone(),
                chunk.iter().map(|(_, r)| r.clone()).collect(),
            )
            .insert_only();
            match self.client.bulk().upload(&upload).await {
                Ok(()) => {
                    portion.uploads += 1;
                    portion.creates += chunk.len() as u64;
                    // Bulk creates return no ids; the id is known once Oomnitza processed
                    // the portion (the next read sees it).
                    outcomes.extend(chunk.iter().map(|(k, _)| Outcome::done(k.clone(), "")));
                }
                Err(e) => {
                    portion.failed += chunk.len() as u64;
                    let msg = format!("bulk upload failed: {}", e.report());
                    outcomes.extend(chunk.iter().map(|(k, _)| Outcome::failed(k.clone(), &msg)));
                }
            }
        }
        for chunk in updates.chunks(size) {
            let upload = BulkUpload::users(
                &self.config.connector_name,
                &portion.id,
                sync_field.clone(),
                chunk.iter().map(|(_, _, r)| r.clone()).collect(),
            )
            .update_only();
            match self.client.bulk().upload(&upload).await {
                Ok(()) => {
                    portion.uploads += 1;
                    portion.updates += chunk.len() as u64;
                    outcomes.extend(
                        chunk
                            .iter()
                            .map(|(k, id, _)| Outcome::done(k.clone(), id.clone())),
                    );
                }
                Err(e) => {
                    portion.failed += chunk.len() as u64;
                    let msg = format!("bulk upload failed: {}", e.report());
                    outcomes.extend(
                        chunk
                            .iter()
                            .map(|(k, _, _)| Outcome::failed(k.clone(), &msg)),
                    );
                }
            }
        }
        outcomes
    }

    /// Finalizes the open portion (one request) and compares Oomnitza's run log with what
    /// was uploaded. Differences are logged and kept in [`OomnitzaTarget::last_bulk_run`].
    pub(super) async fn finish_bulk(&self) -> Result<(), ConnectorError> {
        let Some(portion) = self.portion.lock().await.take() else {
            return Ok(());
        };
        self.client
            .bulk()
            .finalize(&portion.id)
            .await
            .map_err(ConnectorError::from)?;
        let mut summary = BulkRunSummary {
            portion: portion.id.clone(),
            uploads: portion.uploads,
            uploaded_creates: portion.creates,
            uploaded_updates: portion.updates,
            failed_records: portion.failed,
            run_log: None,
            differences: Vec::new(),
        };
        let found = self
            .client
            .bulk()
            .run_logs(&self.config.connector_name)
            .stream()
            .try_filter(|log| {
                futures::future::ready(log.portion_id.as_deref() == Some(portion.id.as_str()))
            })
            .boxed()
            .try_next()
            .await;
        match found {
            Ok(Some(log)) => {
                let added = log.added_records_count.unwrap_or(0);
                let updated = log.updated_records_count.unwrap_or(0);
                let errors = log.error_logs_count.unwrap_or(0);
                if added != portion.creates {
                    summary.differences.push(format!(
                        "uploaded {} new people, Oomnitza added {added}",
                        portion.creates
                    ));
                }
                if updated > portion.updates {
                    summary.differences.push(format!(
                        "uploaded {} changed people, Oomnitza updated {updated}",
                        portion.updates
                    ));
                }
                if errors > 0 {
                    summary
                        .differences
                        .push(format!("Oomnitza logged {errors} record errors"));
                }
                for d in &summary.differences {
                    tracing::warn!(portion = %portion.id, "bulk run differs: {d}");
                }
                summary.run_log = Some(log);
            }
            Ok(None) => {
                tracing::warn!(portion = %portion.id, "no run log found for the bulk portion");
                summary
                    .differences
                    .push("no run log found for the portion".to_owned());
            }
            Err(e) => {
                tracing::warn!(portion = %portion.id, error = %e, "could not read the bulk run log");
                summary
                    .differences
                    .push(format!("could not read the run log: {e}"));
            }
        }
        *self
            .last_bulk
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(summary);
        Ok(())
    }

    /// The person `user_id` of each Quip id in `keys` (missing keys are absent from the
    /// answer). Reads the owned People once per run (one filtered listing), and at most once
    /// more when some keys are missing.
    pub(super) async fn people_for(&self, keys: &[&str]) -> Result<HashMap<String, String>, Error> {
        let key_field = self.config.users_sync_key_field.as_str();
        let mut people = self.people.lock().await;
        let mut loaded_now = false;
        if !people.loaded {
            people.by_key = self.load_people_index(key_field).await?;
            people.loaded = true;
            loaded_now = true;
        }
        let missing = keys.iter().any(|k| !people.by_key.contains_key(*k));
        if missing && !loaded_now && !people.reloaded {
            people.by_key = self.load_people_index(key_field).await?;
            people.reloaded = true;
        }
        Ok(keys
            .iter()
            .filter_map(|k| {
                people
                    .by_key
                    .get(*k)
                    .map(|id| ((*k).to_owned(), id.clone()))
            })
            .collect())
    }

    async fn load_people_index(&self, key_field: &str) -> Result<HashMap<String, String>, Error> {
        let people = self
            .read_people(key_field, true, &sync_engine::NoProgress)
            .await?;
        Ok(people
            .into_iter()
            .filter_map(|u| {
                let key = u.get(key_field).as_ref().and_then(json_key)?;
                Some((key, u.user_id?))
            })
            .collect())
    }
}

fn done_user(key: &str, user: &User) -> Outcome {
    match &user.user_id {
        Some(id) => Outcome::done(key, id.as_str()),
        None => Outcome::failed(key, "Oomnitza created the person but sent no user_id back"),
    }
}

pub(super) fn fail_all(batch: &[Change], message: &str) -> Vec<Outcome> {
    batch
        .iter()
        .map(|c| Outcome::failed(c.key.clone(), message))
        .collect()
}
