//! Events API (paid add-on): realtime and batch cursors over `login` events.
//!
//! The actor and timestamp field names of events are unconfirmed; they live in [`fields`]
//! only, so a live tenant's names can replace them in one place.

use axum::Json;
use axum::extract::{Extension, RawQuery, State};
use serde_json::{Map, Value, json};
use std::ops::Bound;
use std::sync::Arc;

use crate::faults::PageFault;

use super::config::EventsApi;
use super::error::ApiError;
use super::params::Params;
use super::state::{EventLog, Shared, fnv1a};

/// JSON field names of an event (assumption except `event`, which is confirmed).
pub mod fields {
    /// Event id.
    pub const ID: &str = "id";
    /// Event type, e.g. `login` (confirmed: Quip's events sample).
    pub const EVENT: &str = "event";
    /// The acting user's id (assumption).
    pub const USER_ID: &str = "user_id";
    /// When it happened, microseconds since the epoch (assumption).
    pub const TIME_USEC: &str = "time_usec";
    /// Client IP address (assumption).
    pub const IP_ADDRESS: &str = "ip_address";
}

/// One event of the Events API.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuipEvent {
    /// Opaque event id.
    pub id: String,
    /// Event type (`login`).
    pub event: String,
    /// The user who logged in.
    pub user_id: String,
    /// When, microseconds since the epoch.
    pub time_usec: i64,
    /// From where (a TEST-NET-3 address).
    pub ip_address: String,
}

impl QuipEvent {
    pub(crate) fn login(seq: u64, user_id: &str, time_usec: i64) -> Self {
        QuipEvent {
            id: format!("E{seq:010}"),
            event: "login".to_owned(),
            user_id: user_id.to_owned(),
            time_usec,
            ip_address: format!("203.0.113.{}", 1 + fnv1a(&[user_id]) % 254),
        }
    }

    /// The event as the API sends it (field names from [`fields`]).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert(fields::ID.to_owned(), json!(self.id));
        m.insert(fields::EVENT.to_owned(), json!(self.event));
        m.insert(fields::USER_ID.to_owned(), json!(self.user_id));
        m.insert(fields::TIME_USEC.to_owned(), json!(self.time_usec));
        m.insert(fields::IP_ADDRESS.to_owned(), json!(self.ip_address));
        Value::Object(m)
    }
}

/// Where a cursor stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CursorPos {
    /// Events recorded after sequence number `after_seq`.
    Realtime { after_seq: u64 },
    /// Events with `since <= time_usec < until`, after the (time, seq) key `after`.
    Batch {
        since: i64,
        until: i64,
        after: Option<(i64, u64)>,
    },
}

/// One page read at a position: event sequence numbers, the position after them, and
/// whether more events follow.
fn page(log: &EventLog, pos: CursorPos, size: usize) -> (Vec<u64>, CursorPos, bool) {
    match pos {
        CursorPos::Realtime { after_seq } => {
            let last = log.last_seq();
            let end = after_seq.saturating_add(size as u64).min(last);
            let seqs: Vec<u64> = (after_seq + 1..=end).collect();
            let next = CursorPos::Realtime {
                after_seq: end.max(after_seq),
            };
            (seqs, next, end < last)
        }
        CursorPos::Batch {
            since,
            until,
            after,
        } => {
            let start = after.unwrap_or((since, 0));
            let end = (until, 0);
            if start >= end {
                return (Vec::new(), pos, false);
            }
            let lower = after.map_or(Bound::Included(start), Bound::Excluded);
            let mut keys: Vec<(i64, u64)> = log
                .by_time
                .range((lower, Bound::Excluded(end)))
                .take(size + 1)
                .copied()
                .collect();
            let more = keys.len() > size;
            keys.truncate(size);
            let next = CursorPos::Batch {
                since,
                until,
                after: keys.last().copied().or(after),
            };
            (keys.into_iter().map(|(_, seq)| seq).collect(), next, more)
        }
    }
}

/// The answer of every Events route on a tenant without the add-on.
fn licensed(app: &Shared) -> Result<(), ApiError> {
    match app.dir().settings.events_api {
        EventsApi::Available => Ok(()),
        EventsApi::NotFound => Err(super::no_such_endpoint()),
        EventsApi::Forbidden => Err(ApiError::forbidden(
            "The Events API is not enabled for this company",
        )),
    }
}

/// `GET /1/admin/events/1/cursor/realtime/create?company_id=`
pub(crate) async fn realtime_create(
    State(app): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    licensed(&app)?;
    let params = Params::query(query.as_deref())?;
    params.company(&app)?;
    let mut dir = app.dir();
    let after_seq = dir.events.last_seq();
    let cursor = dir.new_cursor(CursorPos::Realtime { after_seq }, None);
    Ok(Json(json!({ "next_cursor": cursor })))
}

/// `GET /1/admin/events/1/cursor/create?company_id=&since_usec=&until_usec=`
pub(crate) async fn batch_create(
    State(app): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    licensed(&app)?;
    let params = Params::query(query.as_deref())?;
    params.company(&app)?;
    let since = params.int("since_usec")?.unwrap_or(0);
    let until = match params.int("until_usec")? {
        Some(u) => u,
        None => app.now_usec(),
    };
    if until < since {
        return Err(ApiError::bad_request("until_usec is before since_usec"));
    }
    let cursor = app.dir().new_cursor(
        CursorPos::Batch {
            since,
            until,
            after: None,
        },
        None,
    );
    Ok(Json(json!({ "next_cursor": cursor })))
}

/// `GET /1/admin/events/1/events/realtime/get?company_id=&cursor=`
pub(crate) async fn realtime_get(
    State(app): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    fault: Option<Extension<PageFault>>,
) -> Result<Json<Value>, ApiError> {
    read(&app, query.as_deref(), fault.map(|Extension(f)| f), true)
}

/// `GET /1/admin/events/1/events/get?company_id=&cursor=`
pub(crate) async fn batch_get(
    State(app): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    fault: Option<Extension<PageFault>>,
) -> Result<Json<Value>, ApiError> {
    read(&app, query.as_deref(), fault.map(|Extension(f)| f), false)
}

fn read(
    app: &Shared,
    query: Option<&str>,
    fault: Option<PageFault>,
    realtime: bool,
) -> Result<Json<Value>, ApiError> {
    licensed(app)?;
    let params = Params::query(query)?;
    params.company(app)?;
    let cursor_id = params.required("cursor")?;
    let mut dir = app.dir();
    let cursor = dir
        .cursors
        .get(cursor_id)
        .cloned()
        .filter(|c| matches!(c.pos, CursorPos::Realtime { .. }) == realtime)
        .ok_or_else(|| ApiError::bad_request("Invalid cursor"))?;
    let size = dir.settings.events_page_size;
    let (mut seqs, mut next, mut more) = page(&dir.events, cursor.pos, size);
    match fault {
        Some(PageFault::Skip) => {
            // This page is lost: the client gets the one after it.
            let (skipped_to, after, more_after) = page(&dir.events, next, size);
            seqs = skipped_to;
            next = after;
            more = more_after;
        }
        Some(PageFault::Repeat) => {
            // The previous page again, while the cursor moves past the requested one.
            if let Some(prev) = cursor.prev {
                seqs = page(&dir.events, prev, size).0;
            }
        }
        None => {}
    }
    let events: Vec<Value> = seqs
        .iter()
        .filter_map(|&seq| dir.events.get(seq))
        .map(|e| e.to_json())
        .collect();
    let next_cursor = dir.new_cursor(next, Some(cursor.pos));
    Ok(Json(json!({
        "events": events,
        "next_cursor": next_cursor,
        "more_to_read": more,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_pages_cover_the_range_once_in_time_order() {
        let mut log = EventLog::default();
        for t in [50, 10, 30, 30, 70, 90] {
            log.push(format!("U{t}"), t);
        }
        let mut pos = CursorPos::Batch {
            since: 10,
            until: 90,
            after: None,
        };
        let mut times = Vec::new();
        loop {
            let (seqs, next, more) = page(&log, pos, 2);
            times.extend(seqs.iter().map(|&s| log.get(s).expect("exists").time_usec));
            pos = next;
            if !more {
                break;
            }
        }
        assert_eq!(times, vec![10, 30, 30, 50, 70]);
        let (seqs, _, more) = page(&log, pos, 2);
        assert!(seqs.is_empty() && !more);
    }

    #[test]
    fn realtime_sees_only_later_events() {
        let mut log = EventLog::default();
        log.push("U1".into(), 1);
        let pos = CursorPos::Realtime {
            after_seq: log.last_seq(),
        };
        assert_eq!(page(&log, pos, 10).0, Vec::<u64>::new());
        log.push("U2".into(), 0);
        let (seqs, next, more) = page(&log, pos, 10);
        assert_eq!(seqs, vec![2]);
        assert!(!more);
        assert_eq!(next, CursorPos::Realtime { after_seq: 2 });
    }
}
