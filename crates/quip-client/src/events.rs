//! Events API (paid add-on; quip-api.md §4.9).
//!
//! Cursor routes are confirmed; the batch cursor's parameters (`since_usec`,
//! `until_usec`), `more_to_read`, and the actor/timestamp field names of events are this
//! project's assumptions (shared with the emulator), isolated in [`EventFieldNames`] and
//! [`CursorKind`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use connector_http::{Page, PageGuard, RedactedUrl, paginate};
use futures::stream::{self, Stream, TryStreamExt};
use http::Method;

use crate::client::QuipClient;
use crate::error::{ErrorKind, QuipError};
use crate::models::{Event, EventCursor, EventPage, from_usec};
use crate::ratelimit::ApiClass;
use crate::transport::get;

/// Names of the fields of an event that carry the actor and the time. Unconfirmed by
/// Quip; the defaults match the emulator's documented assumption.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventFieldNames {
    /// The acting user's id. Default `user_id`.
    pub user_id: String,
    /// When it happened, microseconds since the epoch. Default `time_usec`.
    pub time_usec: String,
}

impl Default for EventFieldNames {
    fn default() -> Self {
        EventFieldNames {
            user_id: "user_id".to_owned(),
            time_usec: "time_usec".to_owned(),
        }
    }
}

impl EventFieldNames {
    /// Field names for a tenant that uses other names.
    pub fn new(user_id: impl Into<String>, time_usec: impl Into<String>) -> Self {
        EventFieldNames {
            user_id: user_id.into(),
            time_usec: time_usec.into(),
        }
    }
}

impl Event {
    /// The actor's id, read from the configured field.
    pub fn user_id(&self, names: &EventFieldNames) -> Option<&str> {
        self.fields.get(&names.user_id)?.as_str()
    }

    /// The event time in microseconds, read from the configured field (a number or a
    /// numeric string).
    pub fn time_usec(&self, names: &EventFieldNames) -> Option<i64> {
        match self.fields.get(&names.time_usec)? {
            serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// True for a `login` event.
    pub fn is_login(&self) -> bool {
        self.event.as_deref() == Some("login")
    }
}

/// Which cursor to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CursorKind {
    /// `GET /1/admin/events/1/cursor/realtime/create`: events from now on.
    Realtime,
    /// `GET /1/admin/events/1/cursor/create?since_usec=&until_usec=`: past events in a
    /// time range (parameters are an assumption).
    Batch {
        /// Start, microseconds since the epoch (inclusive).
        since_usec: i64,
        /// End (exclusive); the server's "now" when absent.
        until_usec: Option<i64>,
    },
}

/// An open cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCursor {
    /// The cursor value.
    pub cursor: String,
    /// Realtime or batch (they are read from different routes).
    pub realtime: bool,
}

/// Events API. Get one with [`QuipClient::events`]. Needs an admin token and the add-on.
#[derive(Debug, Clone)]
pub struct EventsHandler {
    client: QuipClient,
}

impl EventsHandler {
    pub(crate) fn new(client: QuipClient) -> Self {
        EventsHandler { client }
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> RedactedUrl {
        RedactedUrl::join(&self.client.transport.base_url, segments, query)
    }

    /// Opens a cursor.
    pub async fn create_cursor(
        &self,
        company_id: &str,
        kind: CursorKind,
    ) -> Result<OpenCursor, QuipError> {
        let (url, realtime) = match kind {
            CursorKind::Realtime => (
                self.url(
                    &["1", "admin", "events", "1", "cursor", "realtime", "create"],
                    &[("company_id", company_id)],
                ),
                true,
            ),
            CursorKind::Batch {
                since_usec,
                until_usec,
            } => {
                let since = since_usec.to_string();
                let until = until_usec.map(|u| u.to_string());
                let mut query = vec![("company_id", company_id), ("since_usec", since.as_str())];
                if let Some(u) = &until {
                    query.push(("until_usec", u.as_str()));
                }
                (
                    self.url(&["1", "admin", "events", "1", "cursor", "create"], &query),
                    false,
                )
            }
        };
        let response = self
            .client
            .transport
            .send(get(ApiClass::Admin, url))
            .await?;
        let cursor: EventCursor = response.json()?;
        let cursor = cursor.next_cursor.ok_or_else(|| {
            let r = response.context();
            QuipError::config(format!(
                "{} {} answered without a next_cursor (is the Events API enabled?)",
                r.method, r.url
            ))
        })?;
        Ok(OpenCursor { cursor, realtime })
    }

    fn page_url(&self, company_id: &str, cursor: &OpenCursor) -> RedactedUrl {
        let path: &[&str] = if cursor.realtime {
            &["1", "admin", "events", "1", "events", "realtime", "get"]
        } else {
            &["1", "admin", "events", "1", "events", "get"]
        };
        self.url(
            path,
            &[
                ("company_id", company_id),
                ("cursor", cursor.cursor.as_str()),
            ],
        )
    }

    /// One page from `cursor`.
    pub async fn read_page(
        &self,
        company_id: &str,
        cursor: &OpenCursor,
    ) -> Result<EventPage, QuipError> {
        let url = self.page_url(company_id, cursor);
        self.client
            .transport
            .send(get(ApiClass::Admin, url))
            .await?
            .json()
    }

    /// Pages from `cursor` until the server says nothing more is waiting
    /// (`more_to_read: false`, or an empty page or no `next_cursor` when it does not say).
    /// A server that never says so ends the stream with [`crate::ErrorKind::Paging`]: a
    /// `next_cursor` already read, or more pages than the client's `max_pages`.
    pub fn pages(
        &self,
        company_id: impl Into<String>,
        cursor: OpenCursor,
    ) -> impl Stream<Item = Result<EventPage, QuipError>> + Send + 'static {
        let this = self.clone();
        let company_id = company_id.into();
        let guard = PageGuard::new(this.client.transport.max_pages);
        paginate(
            (this, company_id, cursor, guard),
            |(this, company_id, cursor, mut guard)| async move {
                let page = this.read_page(&company_id, &cursor).await?;
                guard.page([Some(cursor.cursor.as_str())], None);
                let pages = guard.pages();
                let stop = |reason: String| {
                    let url = this.page_url(&company_id, &cursor);
                    tracing::warn!(url = %url, %reason, "Quip Events paging stopped");
                    Err(QuipError::new(ErrorKind::Paging { reason }).at(Method::GET, url, 1))
                };
                let more = page.more_to_read.unwrap_or(!page.events.is_empty());
                let next = match (&page.next_cursor, more) {
                    (Some(c), true) => {
                        if guard.is_seen(c) {
                            return stop(format!(
                                "page {pages} hands back a cursor already read: the server \
                                 would serve the same events again"
                            ));
                        }
                        OpenCursor {
                            cursor: c.clone(),
                            realtime: cursor.realtime,
                        }
                    }
                    _ => return Ok(Page::last(page)),
                };
                if guard.at_page_limit() {
                    return stop(format!(
                        "{pages} pages and the server still has more: over the limit of \
                         {} pages per cursor (`[quip] max_pages`)",
                        guard.max_pages()
                    ));
                }
                Ok(Page::then(page, (this, company_id, next, guard)))
            },
        )
    }

    /// Every `login` event from `cursor`, page after page.
    pub fn logins(
        &self,
        company_id: impl Into<String>,
        cursor: OpenCursor,
    ) -> impl Stream<Item = Result<Event, QuipError>> + Send + 'static {
        self.pages(company_id, cursor)
            .map_ok(|page| stream::iter(page.events.into_iter().filter(Event::is_login).map(Ok)))
            .try_flatten()
    }

    /// The newest `login` time per user id since `since`, from a batch cursor.
    pub async fn last_logins(
        &self,
        company_id: &str,
        since: DateTime<Utc>,
        names: &EventFieldNames,
    ) -> Result<HashMap<String, DateTime<Utc>>, QuipError> {
        let cursor = self
            .create_cursor(
                company_id,
                CursorKind::Batch {
                    since_usec: since.timestamp_micros(),
                    until_usec: None,
                },
            )
            .await?;
        self.pages(company_id, cursor)
            .try_fold(HashMap::new(), |mut acc, page| async move {
                fold_logins(&mut acc, &page.events, names);
                Ok(acc)
            })
            .await
    }
}

/// Keeps the newest `login` time per user (events may repeat or arrive out of order).
pub fn fold_logins<S: std::hash::BuildHasher>(
    acc: &mut HashMap<String, DateTime<Utc>, S>,
    events: &[Event],
    names: &EventFieldNames,
) {
    for e in events.iter().filter(|e| e.is_login()) {
        let (Some(user), Some(t)) = (e.user_id(names), e.time_usec(names).and_then(from_usec))
        else {
            continue;
        };
        acc.entry(user.to_owned())
            .and_modify(|cur| {
                if t > *cur {
                    *cur = t;
                }
            })
            .or_insert(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_keeps_newest_login_per_user_with_configurable_names() {
        let events: Vec<Event> = serde_json::from_str(
            r#"[{"event":"login","user_id":"A","time_usec":2000000},
                {"event":"login","user_id":"A","time_usec":1000000},
                {"event":"open-thread","user_id":"A","time_usec":9000000},
                {"event":"login","user_id":"B","time_usec":"3000000"},
                {"event":"login","actor":"C","ts":4000000}]"#,
        )
        .unwrap();
        let mut acc = HashMap::new();
        fold_logins(&mut acc, &events, &EventFieldNames::default());
        assert_eq!(acc.len(), 2);
        assert_eq!(acc["A"].timestamp(), 2);
        assert_eq!(acc["B"].timestamp(), 3);
        let mut acc = HashMap::new();
        fold_logins(&mut acc, &events, &EventFieldNames::new("actor", "ts"));
        assert_eq!(acc["C"].timestamp(), 4);
    }
}
