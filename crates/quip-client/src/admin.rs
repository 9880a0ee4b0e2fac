//! Admin API (quip-api.md §4.5–4.7, §11).

use futures::stream::{self, Stream, TryStreamExt};

use crate::client::QuipClient;
use crate::error::QuipError;
use crate::models::{AdminRoles, AdminUserInfo, AdminUserPage, User};
use crate::ratelimit::ApiClass;
use crate::redact::RedactedUrl;
use crate::transport::{Request, Transport};

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
        Transport::url(&self.client.transport.base_url, segments, query)
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
            .send(Request::get(ApiClass::Admin, url))
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
        let mut req = Request::get(ApiClass::Admin, url);
        req.unconfirmed = true;
        self.client.transport.send(req).await?.json()
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

    /// One request.
    pub async fn page(&self, page: u64) -> Result<AdminUserPage, QuipError> {
        let url = Transport::url(
            &self.client.transport.base_url,
            &["1", "admin", "users", "list"],
            &[],
        );
        let form = vec![
            ("company_id", self.company_id.clone()),
            ("page", page.to_string()),
            ("count", self.page_size.to_string()),
        ];
        self.client
            .transport
            .send(Request::post_form(ApiClass::Admin, url, form))
            .await?
            .json()
    }

    /// Every page in order. Ends after the page whose `next_page` is null, or after an
    /// empty page; an error ends the stream. A `next_page` that does not move forward
    /// ends it too (a server bug must not loop forever).
    pub fn pages(self) -> impl Stream<Item = Result<AdminUserPage, QuipError>> + Send + 'static {
        let start = Some(self.first_page);
        stream::try_unfold((self, start), |(this, next)| async move {
            let Some(page_no) = next else {
                return Ok(None);
            };
            let page = this.page(page_no).await?;
            let next = match page.next_page {
                Some(n) if n > page_no && !page.users.is_empty() => Some(n),
                _ => None,
            };
            Ok(Some((page, (this, next))))
        })
    }

    /// Every user, page after page.
    pub fn users(self) -> impl Stream<Item = Result<User, QuipError>> + Send + 'static {
        self.pages()
            .map_ok(|p| stream::iter(p.users.into_iter().map(Ok)))
            .try_flatten()
    }
}
