//! SCIM 2.0 users (quip-api.md §4.8, §11).

use std::collections::HashSet;

use connector_http::{Page, PageGuard, RedactedUrl, paginate};
use futures::stream::{self, Stream, StreamExt, TryStreamExt};
use http::Method;

use crate::client::QuipClient;
use crate::error::{ErrorKind, QuipError};
use crate::models::{ScimListResponse, ScimUser};
use crate::ratelimit::ApiClass;
use crate::transport::get;

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
            page_size: 100,
            filter: None,
        }
    }

    /// `GET /2/Users?filter=emails eq "<email>"`: the user with this email, if any.
    pub async fn find_by_email(&self, email: &str) -> Result<Option<ScimUser>, QuipError> {
        let filter = format!("emails eq \"{}\"", email.replace('"', "\\\""));
        let page = self
            .list_users()
            .filter(filter)
            .page_size(1)
            .page(1)
            .await?;
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
    page_size: u32,
    filter: Option<String>,
}

impl ScimListUsers {
    /// Users per page to ask for (SCIM `count`; servers may serve fewer). Default 100.
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// A SCIM filter, e.g. `emails eq "a@b.c"` (supported filters are unconfirmed).
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.filter = Some(filter.into());
        self
    }

    fn url(&self, start_index: u64) -> RedactedUrl {
        let start = start_index.to_string();
        let count = self.page_size.to_string();
        let mut query = vec![("startIndex", start.as_str()), ("count", count.as_str())];
        if let Some(f) = &self.filter {
            query.push(("filter", f.as_str()));
        }
        RedactedUrl::join(&self.client.transport.scim_url, &["2", "Users"], &query)
    }

    /// One request from `start_index` (1-based).
    pub async fn page(&self, start_index: u64) -> Result<ScimListResponse, QuipError> {
        self.client
            .transport
            .send(get(ApiClass::Scim, self.url(start_index)))
            .await?
            .json()
    }

    /// Every page, as served. An error ends the stream, and so does a server that does not
    /// end the listing ([`crate::ErrorKind::Paging`]): a page repeating a user already
    /// received (a server ignoring `startIndex`), more users than `totalResults` plus one
    /// page, or more pages than the client's `max_pages`.
    pub fn pages(self) -> impl Stream<Item = Result<ScimListResponse, QuipError>> + Send + 'static {
        let guard = PageGuard::new(self.client.transport.max_pages);
        paginate((self, guard, 1), |(this, mut guard, start)| async move {
            let page = this.page(start).await?;
            let stop = |reason: String| {
                let url = this.url(start);
                tracing::warn!(url = %url, %reason, "Quip SCIM listing stopped");
                Err(QuipError::new(ErrorKind::Paging { reason }).at(Method::GET, url, 1))
            };
            let received = page.resources.len() as u64;
            let ids = page.resources.iter().map(|u| Some(u.id.as_str()));
            if let Some(repeats) = guard.page(ids, page.total_results) {
                return stop(format!(
                    "the page at startIndex={start} repeats {} user(s) already \
                     received: the server seems to ignore startIndex, or users moved while \
                     they were paged",
                    repeats.count
                ));
            }
            let page_size = u64::from(this.page_size).max(received);
            if let Some(total) = guard.over_total(page_size) {
                return stop(format!(
                    "{} users received in {} page(s), more than totalResults ({total}) plus one \
                     page",
                    guard.received(),
                    guard.pages()
                ));
            }
            let next = start + received;
            let done = received == 0 || page.total_results.is_some_and(|total| next > total);
            if done {
                return Ok(Page::last(page));
            }
            if guard.at_page_limit() {
                return stop(guard.limit_message("users", "[quip] max_pages"));
            }
            Ok(Page::then(page, (this, guard, next)))
        })
    }

    /// Every user once (a page repeating users ends the stream with an error, see
    /// [`ScimListUsers::pages`]; the de-duplication is a second line of defence).
    pub fn stream(self) -> impl Stream<Item = Result<ScimUser, QuipError>> + Send + 'static {
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

    /// Every user, collected.
    pub async fn collect(self) -> Result<Vec<ScimUser>, QuipError> {
        self.stream().try_collect().await
    }
}
