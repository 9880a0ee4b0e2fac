//! Admin API (quip-api.md §4.5–4.7, §11).

use connector_http::{Page, PageGuard, RedactedUrl, paginate};
use futures::stream::{self, Stream, TryStreamExt};
use http::Method;

use crate::client::QuipClient;
use crate::error::{ErrorKind, QuipError};
use crate::models::{AdminRoles, AdminUserInfo, AdminUserPage, User};
use crate::ratelimit::ApiClass;
use crate::transport::{get, post_form};

/// Admin API. Get one with [`QuipClient::admin`]. Needs an admin's token (`ADMIN_READ`).
#[derive(Debug, Clone)]
pub struct AdminHandler {
    client: QuipClient,
}

impl AdminHandler {
    pub(crate) fn new(client: QuipClient) -> Self {
        AdminHandler { client }
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> RedactedUrl {
        RedactedUrl::join(&self.client.transport.base_url, segments, query)
    }

    /// `POST /1/admin/users/list`: the users of `company_id`, page by page.
    pub fn list_users(&self, company_id: impl Into<String>) -> AdminListUsers {
        AdminListUsers {
            client: self.client.clone(),
            company_id: company_id.into(),
            page_size: 100,
            first_page: 0,
        }
    }

    /// `GET /1/admin/users/{id}?company_id=`. With `threads_meta` the answer leaves out
    /// contacts and companies and keeps thread data small.
    pub async fn user_info(
        &self,
        company_id: &str,
        user_id: &str,
        threads_meta: bool,
    ) -> Result<AdminUserInfo, QuipError> {
        let mut query = vec![("company_id", company_id)];
        if threads_meta {
            query.push(("threads_meta", "true"));
        }
        let url = self.url(&["1", "admin", "users", user_id], &query);
        self.client
            .transport
            .send(get(ApiClass::Admin, url))
            .await?
            .json()
    }

    /// `GET /1/admin/company/admin-roles?company_id=`: every admin with their role.
    ///
    /// This endpoint is **unconfirmed** (quip-api.md §4.7): a 404 is reported as
    /// [`crate::ErrorKind::NotAvailable`] so callers can fall back to configuration.
    pub async fn admin_roles(&self, company_id: &str) -> Result<AdminRoles, QuipError> {
        let url = self.url(
            &["1", "admin", "company", "admin-roles"],
            &[("company_id", company_id)],
        );
        self.client
            .transport
            .send_unconfirmed(get(ApiClass::Admin, url))
            .await?
            .json()
    }
}

/// A paged `POST /1/admin/users/list` (paging per quip-api.md §11: form fields
/// `company_id`, `page` (0-based), `count`; stops when `next_page` is null).
#[derive(Debug, Clone)]
#[must_use = "streams do nothing until polled"]
pub struct AdminListUsers {
    client: QuipClient,
    company_id: String,
    page_size: u32,
    first_page: u64,
}

impl AdminListUsers {
    /// Users per page to ask for (servers may serve fewer). Default 100.
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Page to start from (0-based). Default 0.
    pub fn first_page(mut self, page: u64) -> Self {
        self.first_page = page;
        self
    }

    fn url(&self) -> RedactedUrl {
        RedactedUrl::join(
            &self.client.transport.base_url,
            &["1", "admin", "users", "list"],
            &[],
        )
    }

    /// One request.
    pub async fn page(&self, page: u64) -> Result<AdminUserPage, QuipError> {
        let form = vec![
            ("company_id", self.company_id.clone()),
            ("page", page.to_string()),
            ("count", self.page_size.to_string()),
        ];
        self.client
            .transport
            .send(post_form(ApiClass::Admin, self.url(), form))
            .await?
            .json()
    }

    /// Every page in order. Ends after the page whose `next_page` is null, or after an
    /// empty page; an error ends the stream. A server that does not end the listing ends
    /// it with [`crate::ErrorKind::Paging`]: a `next_page` that does not move forward, a
    /// page repeating a user already received, more users than `total_count` plus one page,
    /// or more pages than the client's `max_pages`.
    pub fn pages(self) -> impl Stream<Item = Result<AdminUserPage, QuipError>> + Send + 'static {
        let guard = PageGuard::new(self.client.transport.max_pages);
        let first = self.first_page;
        paginate(
            (self, guard, first),
            |(this, mut guard, page_no)| async move {
                let page = this.page(page_no).await?;
                let stop = |reason: String| {
                    let url = this.url();
                    tracing::warn!(url = %url, %reason, "Quip admin listing stopped");
                    Err(QuipError::new(ErrorKind::Paging { reason }).at(Method::POST, url, 1))
                };
                let ids = page.users.iter().map(|u| Some(u.id.as_str()));
                if let Some(repeats) = guard.page(ids, page.total_count) {
                    return stop(format!(
                        "page {page_no} repeats {} user(s) already received: the server \
                     seems to ignore `page`, or users moved while they were paged",
                        repeats.count
                    ));
                }
                let page_size = u64::from(this.page_size).max(page.users.len() as u64);
                if let Some(total) = guard.over_total(page_size) {
                    return stop(format!(
                        "{} users received in {} page(s), more than total_count ({total}) plus one \
                     page",
                        guard.received(),
                        guard.pages()
                    ));
                }
                let next = match page.next_page {
                    Some(_) if page.users.is_empty() => None,
                    Some(n) if n <= page_no => {
                        return stop(format!(
                            "page {page_no} names next_page {n}, which does not move forward"
                        ));
                    }
                    other => other,
                };
                let Some(next) = next else {
                    return Ok(Page::last(page));
                };
                if guard.at_page_limit() {
                    return stop(guard.limit_message("users", "[quip] max_pages"));
                }
                Ok(Page::then(page, (this, guard, next)))
            },
        )
    }

    /// Every user, page after page.
    pub fn stream(self) -> impl Stream<Item = Result<User, QuipError>> + Send + 'static {
        self.pages()
            .map_ok(|p| stream::iter(p.users.into_iter().map(Ok)))
            .try_flatten()
    }

    /// Every user, collected.
    pub async fn collect(self) -> Result<Vec<User>, QuipError> {
        self.stream().try_collect().await
    }
}
