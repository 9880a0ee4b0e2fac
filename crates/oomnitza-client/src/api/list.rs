//! One builder for every v3 listing: optional filter and sort, `limit`/`skip` paging.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::filter::{Filter, is_valid_field_name};
use crate::models::{RunLog, SaasApp, SaasUser, User};
use crate::transport::{Request, Transport, items, pages};

/// A record of a listing, as far as paging needs to know it: its id, so that a page
/// repeating records already received (a server ignoring `skip`) stops the listing with an
/// error instead of looping.
pub trait ListItem {
    /// The record's id, when it has one (records without one are not checked).
    fn listing_id(&self) -> Option<&str>;
}

impl ListItem for User {
    fn listing_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }
}

impl ListItem for SaasApp {
    fn listing_id(&self) -> Option<&str> {
        self.saas_id.as_deref()
    }
}

impl ListItem for SaasUser {
    fn listing_id(&self) -> Option<&str> {
        // The seat's id; a person's id repeats across applications.
        self.saas_user_id.as_deref()
    }
}

impl ListItem for RunLog {
    fn listing_id(&self) -> Option<&str> {
        self.portion_id.as_deref()
    }
}

/// A paged listing of `T` (people, applications, seats, run logs); see the handlers'
/// `list` methods. Nothing is sent until [`List::pages`], [`List::stream`] or
/// [`List::collect`].
#[must_use]
pub struct List<T> {
    t: Arc<Transport>,
    segments: Vec<String>,
    filter: Filter,
    sort_by: Option<String>,
    page_size: u32,
    item: PhantomData<fn() -> T>,
}

impl<T> Clone for List<T> {
    fn clone(&self) -> Self {
        List {
            t: Arc::clone(&self.t),
            segments: self.segments.clone(),
            filter: self.filter.clone(),
            sort_by: self.sort_by.clone(),
            page_size: self.page_size,
            item: PhantomData,
        }
    }
}

impl<T> fmt::Debug for List<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("List")
            .field("path", &self.segments.join("/"))
            .field("filter", &self.filter)
            .field("sort_by", &self.sort_by)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + ListItem + Send + 'static> List<T> {
    /// A listing of the endpoint at `segments`, with the client's page size.
    pub(crate) fn new(t: &Arc<Transport>, segments: &[&str]) -> Self {
        List {
            t: Arc::clone(t),
            segments: segments.iter().map(|s| (*s).to_owned()).collect(),
            filter: Filter::new(),
            sort_by: None,
            page_size: t.page_size(),
            item: PhantomData,
        }
    }

    /// Only records matching `filter`.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Sorted by `field`, ascending or descending.
    pub fn sort_by(mut self, field: &str, ascending: bool) -> Self {
        let dir = if ascending { "asc" } else { "desc" };
        self.sort_by = Some(format!("{field} {dir}"));
        self
    }

    /// Records per page (clamped to `1..=1000`).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n.clamp(1, crate::config::MAX_PAGE_SIZE);
        self
    }

    fn request(&self) -> Result<Request, Error> {
        let mut req = Request::get(&self.segments);
        let expr = self.filter.expression()?;
        if !expr.is_empty() {
            req = req.query("filter", expr);
        }
        if let Some(s) = &self.sort_by {
            let field = s.split(' ').next().unwrap_or_default();
            if !is_valid_field_name(field) {
                return Err(Error::config(format!("cannot sort by {field:?}")));
            }
            req = req.query("sortby", s.clone());
        }
        Ok(req)
    }

    /// The pages, one request each; ends after a short or empty page. Ends with an
    /// [`ErrorKind::Paging`] error when the server does not end the listing (see
    /// [`ListItem`], `X-Total-Count`, [`crate::ClientConfig::max_pages`]).
    pub fn pages(self) -> BoxStream<'static, Result<Vec<T>, Error>> {
        match self.request() {
            Ok(req) => pages(self.t, req, self.page_size),
            Err(e) => futures::stream::once(async { Err(e) }).boxed(),
        }
    }

    /// The records, one by one.
    pub fn stream(self) -> BoxStream<'static, Result<T, Error>> {
        items(self.pages())
    }

    /// Every record, collected.
    pub async fn collect(self) -> Result<Vec<T>, Error> {
        self.stream().try_collect().await
    }
}
