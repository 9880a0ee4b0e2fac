//! The connector portion API (`/api/v3/bulk`) and connector run logs.

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::fields::{DataType, coerce, is_empty, view_schema};
use super::filter;
use super::http::{Actor, ApiResult, AppState, ListParams, json_response, list_response};
use super::state::{Inner, StateError, WriteRules};
use crate::faults::PageFault;

/// What happened to one uploaded record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A new person was created.
    Added,
    /// An existing person was changed.
    Updated,
    /// An existing person already had these values.
    Unchanged,
    /// Not written: `insert_only` and the person exists, or `update_only` and it does not.
    Skipped,
    /// Not written because of an error (unknown field, bad value, unique conflict, ...).
    Failed,
}

/// The outcome of one uploaded record, kept in its portion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RecordOutcome {
    /// Position of the record in the portion (all uploads, 0-based).
    pub index: usize,
    /// The value of the first sync field in the record, if any.
    pub key: Option<String>,
    /// What happened.
    pub outcome: Outcome,
    /// The person written or matched.
    pub user_id: Option<String>,
    /// Why it was skipped or failed.
    pub message: Option<String>,
}

/// A failure reported by the connector itself (`"error"` in an upload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PortionError {
    /// `error_type`, e.g. `Fatal Error`.
    pub error_type: Option<String>,
    /// The reported error (often a traceback).
    pub error: String,
}

/// One sync session of a connector: every upload with the same `portion` id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Portion {
    /// The client-generated portion id (a UUID).
    pub portion_id: String,
    /// `connector_name`, or `connector_id` as text.
    pub connector: Option<String>,
    /// `data_type` (always `users` here).
    pub data_type: String,
    /// The ordered `sync_field` list of the last upload.
    pub sync_field: Vec<String>,
    /// A test run: outcomes are computed, nothing is written.
    pub test_run: bool,
    /// `POST /api/v3/bulk` calls received.
    pub uploads: u32,
    /// Unix seconds of the first request for this portion.
    pub start_time: i64,
    /// Unix seconds of the finalize.
    pub end_time: Option<i64>,
    /// Closed by `finalize`.
    pub finalized: bool,
    /// Canceled (see [`super::OomnitzaState::cancel_portion`]).
    pub canceled: bool,
    /// Per-record outcomes.
    pub records: Vec<RecordOutcome>,
    /// Errors reported by the connector.
    pub errors: Vec<PortionError>,
}

impl Portion {
    fn count(&self, outcome: Outcome) -> usize {
        self.records.iter().filter(|r| r.outcome == outcome).count()
    }

    fn status(&self) -> &'static str {
        if self.canceled {
            "canceled"
        } else if !self.errors.is_empty() {
            "failed"
        } else if self.count(Outcome::Failed) > 0 {
            "finished_with_errors"
        } else {
            "finished"
        }
    }
}

/// A connector run log, as `GET /api/v3/connector_run_logs/{connector}` serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RunLog {
    /// The portion.
    pub portion_id: String,
    /// Same as `portion_id` here.
    pub portion_correlation_id: String,
    /// Unix seconds of the first request of the portion.
    pub start_time: i64,
    /// Unix seconds of the finalize.
    pub end_time: i64,
    /// The connector name or id.
    pub connector: String,
    /// `finished`, `finished_with_errors`, `failed` or `canceled`.
    pub status: String,
    /// A test run.
    pub test_run: bool,
    /// Always `sandbox`.
    pub deployment: String,
    /// Always `127.0.0.1`.
    pub ipv4_address: String,
    /// People created.
    pub added_records_count: usize,
    /// People changed.
    pub updated_records_count: usize,
    /// Records skipped by `insert_only`/`update_only`.
    pub skipped_records_count: usize,
    /// Records that matched a person with the same values (an addition of the sandbox).
    pub unchanged_records_count: usize,
    /// Failed records plus errors reported by the connector.
    pub error_logs_count: usize,
    /// Always false.
    pub is_media_storage_service: bool,
}

/// Filterable fields of a run log.
const RUN_LOG_FIELDS: &[(&str, DataType)] = &[
    ("portion_id", DataType::String),
    ("portion_correlation_id", DataType::String),
    ("start_time", DataType::Timestamp),
    ("end_time", DataType::Timestamp),
    ("connector", DataType::String),
    ("status", DataType::String),
    ("test_run", DataType::Boolean),
    ("added_records_count", DataType::Integer),
    ("updated_records_count", DataType::Integer),
    ("skipped_records_count", DataType::Integer),
    ("unchanged_records_count", DataType::Integer),
    ("error_logs_count", DataType::Integer),
];

/// `true`, `false`, `"true"`, `"false"` (cloud configs send strings) or absent.
fn flag(payload: &Map<String, Value>, key: &str) -> Result<bool, StateError> {
    match payload.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" | "" => Ok(false),
            _ => Err(StateError::field(key, "expected true or false")),
        },
        Some(_) => Err(StateError::field(key, "expected true or false")),
    }
}

fn connector_of(payload: &Map<String, Value>) -> Option<String> {
    let text = |v: &Value| match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    payload
        .get("connector_name")
        .and_then(text)
        .or_else(|| payload.get("connector_id").and_then(text))
}

struct UploadRules {
    sync_slots: Vec<(String, usize)>,
    insert_only: bool,
    update_only: bool,
    test_run: bool,
}

/// A `POST /api/v3/bulk` payload, checked as far as it can be without the schema.
struct Upload<'a> {
    portion_id: String,
    /// What the upload tells its portion.
    header: UploadHeader,
    insert_only: bool,
    update_only: bool,
    /// The records, empty ones left out.
    records: Vec<&'a Map<String, Value>>,
}

/// What an upload records in its portion.
struct UploadHeader {
    connector: String,
    sync_field: Vec<String>,
    test_run: bool,
    /// A failure the connector reports.
    error: Option<PortionError>,
}

/// Checks an upload's payload apart from the schema, in the order its errors are reported.
fn parse_upload(payload: &Map<String, Value>) -> Result<Upload<'_>, StateError> {
    let portion_id = match payload.get("portion") {
        Some(Value::String(p)) if !p.trim().is_empty() => p.clone(),
        _ => return Err(StateError::field("portion", "required: the portion id")),
    };
    let connector = connector_of(payload).ok_or_else(|| {
        StateError::field("connector_name", "required: connector_name or connector_id")
    })?;
    check_data_type(payload)?;
    let insert_only = flag(payload, "insert_only")?;
    let update_only = flag(payload, "update_only")?;
    if insert_only && update_only {
        return Err(StateError::Rejected(
            "insert_only and update_only are mutually exclusive".to_owned(),
        ));
    }
    let test_run = flag(payload, "test_run")?;
    let records = upload_records(payload)?;
    let sync_field = upload_sync_field(payload)?;
    if sync_field.is_empty() && !records.is_empty() {
        return Err(StateError::field(
            "sync_field",
            "required: at least one field id",
        ));
    }
    let error = match payload.get("error") {
        None | Some(Value::Null) => None,
        Some(Value::String(e)) => Some(e.clone()),
        Some(other) => Some(other.to_string()),
    };
    let error_type = payload
        .get("error_type")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Upload {
        portion_id,
        header: UploadHeader {
            connector,
            sync_field,
            test_run,
            error: error.map(|error| PortionError { error_type, error }),
        },
        insert_only,
        update_only,
        records,
    })
}

/// Refuses a `data_type` other than `users` (absent means `users`).
fn check_data_type(payload: &Map<String, Value>) -> Result<(), StateError> {
    match payload.get("data_type") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(t)) if t == "users" => Ok(()),
        Some(other) => Err(StateError::field(
            "data_type",
            format!("{other} is not emulated; the sandbox knows users"),
        )),
    }
}

/// The upload's `records`: an array of objects, of which the empty ones are left out.
fn upload_records(payload: &Map<String, Value>) -> Result<Vec<&Map<String, Value>>, StateError> {
    let records: Vec<&Map<String, Value>> = match payload.get("records") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|r| {
                r.as_object().ok_or_else(|| {
                    StateError::field("records", "each record must be a JSON object")
                })
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(StateError::field(
                "records",
                "required: an array of records",
            ));
        }
    };
    Ok(records.into_iter().filter(|r| !r.is_empty()).collect())
}

/// The upload's `sync_field`: an array of field ids, one id, or nothing.
fn upload_sync_field(payload: &Map<String, Value>) -> Result<Vec<String>, StateError> {
    match payload.get("sync_field") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    StateError::field("sync_field", "expected an array of field ids")
                })
            })
            .collect(),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(_) => Err(StateError::field(
            "sync_field",
            "expected an array of field ids",
        )),
    }
}

/// Why a located record is skipped: `insert_only` and it exists, or `update_only` and it
/// does not.
fn skip_reason(target: Option<u64>, rules: &UploadRules) -> Option<&'static str> {
    match (target, rules.insert_only, rules.update_only) {
        (Some(_), true, _) => Some("exists (insert_only)"),
        (None, _, true) => Some("no match (update_only)"),
        _ => None,
    }
}

impl Inner {
    /// The portion with this id, created (empty, open) if needed.
    pub(crate) fn portion_mut(&mut self, portion_id: &str, now: i64) -> &mut Portion {
        let index = if let Some(&i) = self.portion_index.get(portion_id) {
            i
        } else {
            self.portions.push(Portion {
                portion_id: portion_id.to_owned(),
                connector: None,
                data_type: "users".to_owned(),
                sync_field: Vec::new(),
                test_run: false,
                uploads: 0,
                start_time: now,
                end_time: None,
                finalized: false,
                canceled: false,
                records: Vec::new(),
                errors: Vec::new(),
            });
            self.portion_index
                .insert(portion_id.to_owned(), self.portions.len() - 1);
            self.portions.len() - 1
        };
        &mut self.portions[index]
    }

    fn portion(&self, portion_id: &str) -> Option<&Portion> {
        self.portion_index
            .get(portion_id)
            .and_then(|&i| self.portions.get(i))
    }

    /// `POST /api/v3/bulk`: validates the payload, upserts its records, keeps outcomes.
    pub(crate) fn bulk_upload(
        &mut self,
        payload: &Map<String, Value>,
        actor: &str,
    ) -> Result<Value, StateError> {
        let Upload {
            portion_id,
            header,
            insert_only,
            update_only,
            records,
        } = parse_upload(payload)?;
        let rules = UploadRules {
            sync_slots: self.sync_slots(&header.sync_field)?,
            insert_only,
            update_only,
            test_run: header.test_run,
        };
        let now = self.now();
        self.join_portion(&portion_id, header, now)?;
        let outcomes: Vec<RecordOutcome> = records
            .into_iter()
            .map(|record| self.bulk_record(record, &rules, actor))
            .collect();
        let summary = |o: Outcome| outcomes.iter().filter(|r| r.outcome == o).count();
        let response = json!({
            "portion": portion_id,
            "records": outcomes.len(),
            "added": summary(Outcome::Added),
            "updated": summary(Outcome::Updated),
            "unchanged": summary(Outcome::Unchanged),
            "skipped": summary(Outcome::Skipped),
            "failed": summary(Outcome::Failed),
        });
        let portion = self.portion_mut(&portion_id, now);
        let base = portion.records.len();
        portion
            .records
            .extend(outcomes.into_iter().enumerate().map(|(i, mut o)| {
                o.index = base + i;
                o
            }));
        Ok(response)
    }

    /// The schema slot of each `sync_field` id; an unknown id is refused.
    fn sync_slots(&self, sync_field: &[String]) -> Result<Vec<(String, usize)>, StateError> {
        sync_field
            .iter()
            .map(|f| {
                self.people
                    .schema
                    .bulk_slot(f)
                    .map(|slot| (f.clone(), slot))
                    .ok_or_else(|| StateError::field("sync_field", format!("unknown field '{f}'")))
            })
            .collect()
    }

    /// Adds an upload to its portion (opened if needed); refused when the portion is
    /// canceled, finalized or belongs to another connector.
    fn join_portion(
        &mut self,
        portion_id: &str,
        header: UploadHeader,
        now: i64,
    ) -> Result<(), StateError> {
        let portion = self.portion_mut(portion_id, now);
        if portion.canceled {
            return Err(StateError::Rejected(format!(
                "portion {portion_id} was canceled"
            )));
        }
        if portion.finalized {
            return Err(StateError::Rejected(format!(
                "portion {portion_id} is finalized"
            )));
        }
        if let Some(existing) = &portion.connector
            && *existing != header.connector
        {
            return Err(StateError::Rejected(format!(
                "portion {portion_id} belongs to connector {existing}"
            )));
        }
        portion.connector = Some(header.connector);
        portion.sync_field = header.sync_field;
        portion.test_run |= header.test_run;
        portion.uploads += 1;
        if let Some(error) = header.error {
            portion.errors.push(error);
        }
        Ok(())
    }

    /// Upserts one bulk record.
    fn bulk_record(
        &mut self,
        record: &Map<String, Value>,
        rules: &UploadRules,
        actor: &str,
    ) -> RecordOutcome {
        let saas = record.get("SAAS").cloned();
        let fields: Map<String, Value> = record
            .iter()
            .filter(|(k, _)| k.as_str() != "SAAS")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let key = rules
            .sync_slots
            .first()
            .and_then(|(_, slot)| self.bulk_value(&fields, *slot))
            .filter(|v| !is_empty(v))
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
        let mut outcome = RecordOutcome {
            index: 0,
            key,
            outcome: Outcome::Failed,
            user_id: None,
            message: None,
        };
        let fail = |mut o: RecordOutcome, message: String| {
            o.outcome = Outcome::Failed;
            o.message = Some(message);
            o
        };
        let target = match self.locate(&fields, rules) {
            Ok(target) => target,
            Err(message) => return fail(outcome, message),
        };
        if let Some(uid) = target {
            outcome.user_id = Some(self.person_user_id(uid));
        }
        if let Some(message) = skip_reason(target, rules) {
            outcome.outcome = Outcome::Skipped;
            outcome.message = Some(message.to_owned());
            return outcome;
        }
        let (uid, changed) = match self.bulk_write(target, &fields, rules, actor) {
            Ok(written) => written,
            Err(message) => return fail(outcome, message),
        };
        outcome.outcome = match (target, changed) {
            (None, _) => Outcome::Added,
            (Some(_), true) => Outcome::Updated,
            (Some(_), false) => Outcome::Unchanged,
        };
        if let Some(uid) = uid {
            outcome.user_id = Some(self.person_user_id(uid));
            if let Some(saas) = saas
                && !rules.test_run
            {
                outcome.message = self.bulk_saas(uid, &saas, &fields);
            }
        }
        outcome
    }

    /// The value a bulk record gives the field in `slot` (the last key naming it wins).
    fn bulk_value(&self, fields: &Map<String, Value>, slot: usize) -> Option<Value> {
        fields
            .iter()
            .rev()
            .find(|(k, _)| self.people.schema.bulk_slot(k) == Some(slot))
            .map(|(_, v)| v.clone())
    }

    /// The person a bulk record's sync fields find: the first sync field with a value that
    /// matches a person wins. Fails on an invalid value, a value several people hold, or a
    /// record without a value for any sync field.
    fn locate(
        &self,
        fields: &Map<String, Value>,
        rules: &UploadRules,
    ) -> Result<Option<u64>, String> {
        let mut any_key = false;
        for (name, slot) in &rules.sync_slots {
            let Some(raw) = self.bulk_value(fields, *slot) else {
                continue;
            };
            let value = match coerce(self.people.schema.def(*slot), &raw) {
                Ok(v) => v,
                Err(message) => return Err(format!("{name}: {message}")),
            };
            if is_empty(&value) {
                continue;
            }
            any_key = true;
            match self.people.find(*slot, &value).as_slice() {
                [] => {}
                [uid] => return Ok(Some(*uid)),
                many => {
                    return Err(format!(
                        "{name} matches {} people; it must be unique",
                        many.len()
                    ));
                }
            }
        }
        if any_key {
            Ok(None)
        } else {
            Err("the record has no value for any sync_field".to_owned())
        }
    }

    /// Validates and writes a bulk record's fields to `target` (a new person when `None`);
    /// a test run writes nothing. Returns the person and whether anything changed.
    fn bulk_write(
        &mut self,
        target: Option<u64>,
        fields: &Map<String, Value>,
        rules: &UploadRules,
        actor: &str,
    ) -> Result<(Option<u64>, bool), String> {
        let changes = self
            .people
            .validate(
                target,
                fields,
                &|k| self.people.schema.bulk_slot(k),
                WriteRules::CONNECTOR,
            )
            .map_err(|error| error.to_string())?;
        if rules.test_run {
            let changed = target.is_none_or(|uid| {
                changes
                    .iter()
                    .any(|(slot, v)| self.people.get(uid, *slot) != v)
            });
            Ok((target, changed))
        } else {
            let (uid, changed) = self.apply_person(target, changes, actor);
            Ok((Some(uid), changed))
        }
    }

    /// "User plus SaaS user" mode: a record's `SAAS` object assigns the person to the
    /// application `selected_saas_id`; the record's `sync_key` field becomes the seat's
    /// external id. Returns a problem, if any.
    fn bulk_saas(&mut self, uid: u64, saas: &Value, fields: &Map<String, Value>) -> Option<String> {
        let saas_id = match saas.get("selected_saas_id") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let Some(saas_id) = saas_id.filter(|&id| self.apps.contains(id)) else {
            return Some(format!("SAAS: application {saas} not found"));
        };
        let seat = self.assign(saas_id, uid, None);
        let external = saas
            .get("sync_key")
            .and_then(Value::as_str)
            .and_then(|k| fields.get(k))
            .and_then(|v| v.as_str().map(str::to_owned));
        if let (Some(external), Some(seat)) = (external, self.seats.get_mut(&seat)) {
            seat.user_external_id = Some(external);
        }
        None
    }

    /// `POST /api/v3/bulk/{portion}/finalize`: closes the portion and writes its run log.
    /// Finalizing again returns the same run log.
    pub(crate) fn finalize(&mut self, portion_id: &str, body: &Map<String, Value>) -> RunLog {
        if let Some(log) = self.run_logs.iter().find(|l| l.portion_id == portion_id) {
            return log.clone();
        }
        let now = self.now();
        let portion = self.portion_mut(portion_id, now);
        if portion.connector.is_none() {
            portion.connector = connector_of(body);
        }
        portion.finalized = true;
        portion.end_time = Some(now);
        let log = RunLog {
            portion_id: portion.portion_id.clone(),
            portion_correlation_id: portion.portion_id.clone(),
            start_time: portion.start_time,
            end_time: now,
            connector: portion
                .connector
                .clone()
                .unwrap_or_else(|| "unknown".to_owned()),
            status: portion.status().to_owned(),
            test_run: portion.test_run,
            deployment: "sandbox".to_owned(),
            ipv4_address: "127.0.0.1".to_owned(),
            added_records_count: portion.count(Outcome::Added),
            updated_records_count: portion.count(Outcome::Updated),
            skipped_records_count: portion.count(Outcome::Skipped),
            unchanged_records_count: portion.count(Outcome::Unchanged),
            error_logs_count: portion.count(Outcome::Failed) + portion.errors.len(),
            is_media_storage_service: false,
        };
        self.run_logs.push(log.clone());
        log
    }
}

/// `POST /api/v3/bulk`
pub(crate) async fn upload(
    State(app): State<AppState>,
    Extension(Actor(actor)): Extension<Actor>,
    body: Bytes,
) -> ApiResult {
    let payload = super::http::object_body(&body)?;
    let summary = app.state.lock().bulk_upload(&payload, &actor)?;
    Ok(json_response(StatusCode::OK, summary))
}

/// `GET /api/v3/bulk/{portion}`: 200 even before the first upload.
pub(crate) async fn portion_info(
    State(app): State<AppState>,
    Path(portion_id): Path<String>,
) -> ApiResult {
    let inner = app.state.lock();
    let body = match inner.portion(&portion_id) {
        Some(p) => json!({
            "portion_id": p.portion_id,
            "canceled": p.canceled,
            "finalized": p.finalized,
            "connector": p.connector,
            "uploads": p.uploads,
            "records_count": p.records.len(),
        }),
        None => json!({ "portion_id": portion_id, "canceled": false, "finalized": false }),
    };
    Ok(json_response(StatusCode::OK, body))
}

/// `POST /api/v3/bulk/{portion}/finalize`
pub(crate) async fn finalize(
    State(app): State<AppState>,
    Path(portion_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    // The connector sends `{}`; an empty or non-object body is tolerated.
    let body = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let log = app.state.lock().finalize(&portion_id, &body);
    Ok(json_response(
        StatusCode::OK,
        serde_json::to_value(log).unwrap_or(Value::Null),
    ))
}

/// `GET /api/v3/connector_run_logs/{connector}`
pub(crate) async fn run_logs(
    State(app): State<AppState>,
    Path(connector): Path<String>,
    RawQuery(query): RawQuery,
    page_fault: Option<Extension<PageFault>>,
) -> ApiResult {
    let params = ListParams::parse(query.as_deref(), app.limits)?;
    let schema = view_schema("connector_run_logs", RUN_LOG_FIELDS);
    let lookup = |name: &str| schema.slot(name).map(|s| (s, schema.def(s)));
    let expr = params
        .filter
        .as_deref()
        .map(|f| filter::parse_filter(f, &lookup))
        .transpose()
        .map_err(|e| StateError::Rejected(format!("filter: {e}")))?;
    let sort = params
        .sortby
        .as_deref()
        .map(|s| filter::parse_sort(s, &|n| schema.slot(n)))
        .transpose()
        .map_err(|e| StateError::Rejected(format!("sortby: {e}")))?
        .unwrap_or_default();
    let logs: Vec<Value> = app
        .state
        .lock()
        .run_logs
        .iter()
        .filter(|l| l.connector == connector)
        .map(|l| serde_json::to_value(l).unwrap_or(Value::Null))
        .collect();
    let field = |log: &Value, slot: usize| {
        log.get(&schema.def(slot).external_id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let mut logs: Vec<Value> = logs
        .into_iter()
        .filter(|l| expr.as_ref().is_none_or(|e| e.matches(&|s| field(l, s))))
        .collect();
    if !sort.is_empty() {
        logs.sort_by(|a, b| filter::compare_rows(&sort, &|s| field(a, s), &|s| field(b, s)));
    }
    let total = logs.len();
    let page = logs[params.window(total, page_fault.map(|Extension(f)| f))].to_vec();
    Ok(list_response(page, total))
}

/// `GET /api/v3/connector_run_logs/connectors/{ident}`: details of one portion.
pub(crate) async fn run_log_details(
    State(app): State<AppState>,
    Path(portion_id): Path<String>,
) -> ApiResult {
    let inner = app.state.lock();
    let portion = inner
        .portion(&portion_id)
        .ok_or_else(|| StateError::NotFound(portion_id.clone()))?;
    let logs_of = |o: Outcome| -> Vec<Value> {
        portion
            .records
            .iter()
            .filter(|r| r.outcome == o)
            .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
            .collect()
    };
    let fatal: Vec<&str> = portion.errors.iter().map(|e| e.error.as_str()).collect();
    let body = json!({
        "objects": {
            "added": portion.count(Outcome::Added),
            "updated": portion.count(Outcome::Updated),
            "failed": portion.count(Outcome::Failed),
            "skipped": portion.count(Outcome::Skipped),
            "unchanged": portion.count(Outcome::Unchanged),
            "canceled": usize::from(portion.canceled),
            "processing": usize::from(!portion.finalized),
        },
        "logs": {
            "Fatal Error": fatal,
            "added": logs_of(Outcome::Added),
            "updated": logs_of(Outcome::Updated),
            "failed": logs_of(Outcome::Failed),
            "skipped": logs_of(Outcome::Skipped),
            "unchanged": logs_of(Outcome::Unchanged),
        },
        "file_attachment": Value::Null,
        "test_run_payload": Value::Null,
    });
    Ok(json_response(StatusCode::OK, body))
}
