//! SCIM 2.0 users (quip-api.md §4.8, §11).

use std::collections::HashSet;

use futures::stream::{self, Stream, StreamExt, TryStreamExt};

use http::Method;

use crate::client::QuipClient;
use crate::error::{Endpoint, ErrorKind, QuipError};
use crate::models::{ScimListResponse, ScimUser};
use crate::ratelimit::ApiClass;
use crate::redact::RedactedUrl;
use crate::transport::{Request, Transport};

/// SCIM API. Get one with [`QuipClient::scim`]. Uses the SCIM token when configured.
#[derive(Debug, Clone)]
pub struct ScimHandler {
    client: QuipClient,
}

impl ScimHandler {
    pub(crate) fn new(client: QuipClient) -> Self {
        ScimHandler { client }
    }

    /// `GET /2/Users` with `startIndex`/`count` paging.
    pub fn list_users(&self) -> ScimListUsers {
        ScimListUsers {
            client: self.client.clone(),
            count: 100,
            filter: None,
        }
    }

    /// `GET /2/Users?filter=emails eq "<email>"`: the user with this email, if any.
    pub async fn find_by_email(&self, email: &str) -> Result<Option<ScimUser>, QuipError> {
        let filter = format!("emails eq \"{}\"", email.replace('"', "\\\""));
        let page = self.list_users().filter(filter).count(1).page(1).await?;
        Ok(page.resources.into_iter().next())
    }
}

/// A paged SCIM list.
///
/// Paging follows quip-api.md §11: a server may return fewer items than `count` asked
/// for, so `startIndex` advances by the number of resources actually received, and the
/// listing stops at `totalResults` (or at an empty page).
#[derive(Debug, Clone)]
#[must_use = "streams do nothing until polled"]
pub struct ScimListUsers {
    client: QuipClient,
    count: u32,
    filter: Option<String>,
}

#[derive(Debug, Default)]
struct Cursor {
    next_index: u64,
    done: bool,
    pages: u64,
    received: u64,
    /// The smallest `totalResults` served (a hint: it may change while paging).
    total_hint: Option<u64>,
    /// Ids received so far.
    seen: HashSet<String>,
}

impl ScimListUsers {
    /// Users per page to ask for. Default 100.
    pub fn count(mut self, n: u32) -> Self {
        self.count = n.max(1);
        self
    }

    /// A SCIM filter, e.g. `emails eq "a@b.c"` (supported filters are unconfirmed).
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.filter = Some(filter.into());
        self
    }

    fn url(&self, start_index: u64) -> RedactedUrl {
        let start = start_index.to_string();
        let count = self.count.to_string();
        let mut query = vec![("startIndex", start.as_str()), ("count", count.as_str())];
        if let Some(f) = &self.filter {
            query.push(("filter", f.as_str()));
        }
        Transport::url(&self.client.transport.scim_url, &["2", "Users"], &query)
    }

    /// One request from `start_index` (1-based).
    pub async fn page(&self, start_index: u64) -> Result<ScimListResponse, QuipError> {
        self.client
            .transport
            .send(Request::get(ApiClass::Scim, self.url(start_index)))
            .await?
            .json()
    }

    /// Every page, as served. An error ends the stream, and so does a server that does not
    /// end the listing ([`crate::ErrorKind::Paging`]): a page repeating a user already
    /// received (a server ignoring `startIndex`), more users than `totalResults` plus one
    /// page, or more pages than the client's `max_pages`.
    pub fn pages(self) -> impl Stream<Item = Result<ScimListResponse, QuipError>> + Send + 'static {
        let cursor = Cursor {
            next_index: 1,
            ..Cursor::default()
        };
        stream::try_unfold((self, cursor), |(this, mut cursor)| async move {
            if cursor.done {
                return Ok(None);
            }
            let start = cursor.next_index;
            let page = this.page(start).await?;
            cursor.pages += 1;
            let stop = |reason: String| {
                let endpoint = Endpoint {
                    method: Method::GET,
                    url: this.url(start),
                };
                tracing::warn!(endpoint = %endpoint, %reason, "Quip SCIM listing stopped");
                Err(QuipError::new(ErrorKind::Paging { endpoint, reason }))
            };
            let received = page.resources.len() as u64;
            let mut repeated = 0usize;
            for u in &page.resources {
                if !cursor.seen.insert(u.id.clone()) {
                    repeated += 1;
                }
            }
            if repeated > 0 {
                return stop(format!(
                    "the page at startIndex={start} repeats {repeated} user(s) already \
                     received: the server seems to ignore startIndex, or users moved while \
                     they were paged"
                ));
            }
            cursor.received += received;
            if let Some(total) = page.total_results {
                cursor.total_hint = Some(cursor.total_hint.map_or(total, |t| t.min(total)));
            }
            let page_size = u64::from(this.count).max(received);
            if let Some(total) = cursor.total_hint
                && cursor.received > total.saturating_add(page_size)
            {
                return stop(format!(
                    "{} users received in {} page(s), more than totalResults ({total}) plus one \
                     page",
                    cursor.received, cursor.pages
                ));
            }
            cursor.next_index += received;
            cursor.done = received == 0
                || page
                    .total_results
                    .is_some_and(|total| cursor.next_index > total);
            let max_pages = this.client.transport.max_pages;
            if !cursor.done && cursor.pages >= max_pages {
                return stop(format!(
                    "{} pages ({} users) and still no last page: over the limit of {max_pages} \
                     pages per listing (`[quip] max_pages`)",
                    cursor.pages, cursor.received
                ));
            }
            Ok(Some((page, (this, cursor))))
        })
    }

    /// Every user once (a page repeating users ends the stream with an error, see
    /// [`ScimListUsers::pages`]; the de-duplication is a second line of defence).
    pub fn users(self) -> impl Stream<Item = Result<ScimUser, QuipError>> + Send + 'static {
        let mut seen = HashSet::new();
        self.pages()
            .map_ok(|p| stream::iter(p.resources.into_iter().map(Ok)))
            .try_flatten()
            .filter(move |u| {
                let keep = match u {
                    Ok(u) => seen.insert(u.id.clone()),
                    Err(_) => true,
                };
                futures::future::ready(keep)
            })
    }
}
