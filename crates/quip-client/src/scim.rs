//! SCIM 2.0 users (quip-api.md §4.8, §11).

use std::collections::HashSet;

use futures::stream::{self, Stream, StreamExt, TryStreamExt};

use crate::client::QuipClient;
use crate::error::QuipError;
use crate::models::{ScimListResponse, ScimUser};
use crate::ratelimit::ApiClass;
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

#[derive(Debug)]
struct Cursor {
    next_index: u64,
    done: bool,
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

    /// One request from `start_index` (1-based).
    pub async fn page(&self, start_index: u64) -> Result<ScimListResponse, QuipError> {
        let start = start_index.to_string();
        let count = self.count.to_string();
        let mut query = vec![("startIndex", start.as_str()), ("count", count.as_str())];
        if let Some(f) = &self.filter {
            query.push(("filter", f.as_str()));
        }
        let url = Transport::url(&self.client.transport.scim_url, &["2", "Users"], &query);
        self.client
            .transport
            .send(Request::get(ApiClass::Scim, url))
            .await?
            .json()
    }

    /// Every page, as served (duplicates across pages are possible; see
    /// [`ScimListUsers::users`]). An error ends the stream.
    pub fn pages(self) -> impl Stream<Item = Result<ScimListResponse, QuipError>> + Send + 'static {
        let cursor = Cursor {
            next_index: 1,
            done: false,
        };
        stream::try_unfold((self, cursor), |(this, mut cursor)| async move {
            if cursor.done {
                return Ok(None);
            }
            let page = this.page(cursor.next_index).await?;
            let received = page.resources.len() as u64;
            cursor.next_index += received;
            cursor.done = received == 0
                || page
                    .total_results
                    .is_some_and(|total| cursor.next_index > total);
            Ok(Some((page, (this, cursor))))
        })
    }

    /// Every user once (de-duplicated by id: a page served twice does not double users).
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
