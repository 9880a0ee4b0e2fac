//! Listings with `startIndex`/`count` paging (RFC 7644 §3.4.2.4) that refuse to pass off an
//! incomplete roster as a complete one, and single-resource reads.

use std::marker::PhantomData;
use std::sync::Arc;

use connector_http::{Page, PageGuard, RedactedUrl, paginate};
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use http::Method;
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorKind};
use crate::filter::Filter;
use crate::models::{Group, ListResponse, User};
use crate::transport::Transport;

/// A SCIM resource type the client can list and read.
pub trait Resource: DeserializeOwned + Send + Sync + 'static {
    /// Its endpoint below the base, without the slash: `Users`.
    const ENDPOINT: &'static str;
    /// What messages call a few of them: `users`.
    const PLURAL: &'static str;
    /// The resource's id.
    fn id(&self) -> &str;
}

impl Resource for User {
    const ENDPOINT: &'static str = "Users";
    const PLURAL: &'static str = "users";
    fn id(&self) -> &str {
        &self.id
    }
}

impl Resource for Group {
    const ENDPOINT: &'static str = "Groups";
    const PLURAL: &'static str = "groups";
    fn id(&self) -> &str {
        &self.id
    }
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Selection {
    attributes: Vec<String>,
    excluded: Vec<String>,
}

impl Selection {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if !self.attributes.is_empty() {
            q.push(("attributes", self.attributes.join(",")));
        }
        if !self.excluded.is_empty() {
            q.push(("excludedAttributes", self.excluded.join(",")));
        }
        q
    }
}

fn names<I, S>(names: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    names
        .into_iter()
        .map(Into::into)
        .filter(|n: &String| !n.trim().is_empty())
        .collect()
}

/// Users or Groups. Get one with [`crate::ScimClient::users`] or
/// [`crate::ScimClient::groups`].
#[derive(Debug, Clone)]
pub struct Resources<T> {
    transport: Arc<Transport>,
    kind: PhantomData<fn() -> T>,
}

impl<T: Resource> Resources<T> {
    pub(crate) fn new(transport: Arc<Transport>) -> Self {
        Resources {
            transport,
            kind: PhantomData,
        }
    }

    /// `GET /{endpoint}` with paging; see [`ListRequest`].
    pub fn list(&self) -> ListRequest<T> {
        ListRequest {
            transport: Arc::clone(&self.transport),
            filter: None,
            selection: Selection::default(),
            count: self.transport.page_size,
            kind: PhantomData,
        }
    }

    /// `GET /{endpoint}/{id}`; see [`GetRequest`].
    pub fn get(&self, id: impl Into<String>) -> GetRequest<T> {
        GetRequest {
            transport: Arc::clone(&self.transport),
            id: id.into(),
            selection: Selection::default(),
            kind: PhantomData,
        }
    }
}

/// One resource by id.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until sent"]
pub struct GetRequest<T> {
    transport: Arc<Transport>,
    id: String,
    selection: Selection,
    kind: PhantomData<fn() -> T>,
}

impl<T: Resource> GetRequest<T> {
    /// Only these attributes (plus those always returned, such as `id`).
    pub fn attributes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, list: I) -> Self {
        self.selection.attributes = names(list);
        self
    }

    /// All default attributes but these.
    pub fn excluded_attributes<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        list: I,
    ) -> Self {
        self.selection.excluded = names(list);
        self
    }

    /// Sends it. An unknown id is a 404 ([`crate::FailureKind::NotFound`]).
    pub async fn send(self) -> Result<T, Error> {
        if self.id.trim().is_empty() {
            return Err(Error::config(format!(
                "an empty id: GET /{}/ would list every resource",
                T::ENDPOINT
            )));
        }
        let query = self.selection.query();
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let url = self.transport.url(&[T::ENDPOINT, &self.id], &query);
        self.transport.get_json(url).await
    }
}

/// A paged listing. `pages` and `items` are streams; `all` collects a complete listing.
///
/// The listing is an error ([`crate::FailureKind::Incomplete`], the stream ends) as soon as
/// it stops looking like a complete roster, since a sync must never mistake a partial
/// read for the whole directory:
///
/// - a page without `totalResults`, or whose `totalResults` differs from the first page's
///   (resources were added or removed while paging);
/// - a page whose `startIndex` is not the one asked for;
/// - a page repeating a resource already received (a server ignoring `startIndex`, or a
///   page served twice);
/// - more resources than `totalResults`, or an empty or short page before `totalResults`
///   is reached (a short page is ambiguous: whether the next `startIndex` should advance by
///   what was asked or what was received is unknowable, so either choice could skip or
///   repeat resources). The page size in effect is what the first page held when it was
///   not the last (a server may cap `count`); every later page but the last must hold as
///   many;
/// - more resources in a page than `count` asked for;
/// - more pages than `max_pages`.
#[derive(Debug, Clone)]
#[must_use = "a listing does nothing until polled"]
pub struct ListRequest<T> {
    transport: Arc<Transport>,
    filter: Option<Result<String, String>>,
    selection: Selection,
    count: u32,
    kind: PhantomData<fn() -> T>,
}

impl<T: Resource> ListRequest<T> {
    /// Only resources matching `filter` (checked before sending).
    pub fn filter(mut self, filter: &Filter) -> Self {
        self.filter = Some(filter.validate().map(|()| filter.to_string()));
        self
    }

    /// A filter written by hand, sent as given.
    pub fn filter_raw(mut self, filter: impl Into<String>) -> Self {
        self.filter = Some(Ok(filter.into()));
        self
    }

    /// Only these attributes (plus those always returned, such as `id`).
    pub fn attributes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, list: I) -> Self {
        self.selection.attributes = names(list);
        self
    }

    /// All default attributes but these.
    pub fn excluded_attributes<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        list: I,
    ) -> Self {
        self.selection.excluded = names(list);
        self
    }

    /// Resources asked for per page (`count`, at least 1; the client's `page_size` by
    /// default).
    pub fn count(mut self, n: u32) -> Self {
        self.count = n.max(1);
        self
    }

    fn url(&self, filter: Option<&str>, start_index: u64) -> RedactedUrl {
        let start = start_index.to_string();
        let count = self.count.to_string();
        let selection = self.selection.query();
        let mut query = vec![("startIndex", start.as_str()), ("count", count.as_str())];
        if let Some(f) = filter {
            query.push(("filter", f));
        }
        query.extend(selection.iter().map(|(k, v)| (*k, v.as_str())));
        self.transport.url(&[T::ENDPOINT], &query)
    }

    fn checked_filter(&self) -> Result<Option<String>, Error> {
        match &self.filter {
            None => Ok(None),
            Some(Ok(f)) => Ok(Some(f.clone())),
            Some(Err(why)) => Err(Error::config(format!("filter: {why}"))),
        }
    }

    /// One page from `start_index` (1-based), as served and unchecked.
    pub async fn page(&self, start_index: u64) -> Result<ListResponse<T>, Error> {
        let filter = self.checked_filter()?;
        let url = self.url(filter.as_deref(), start_index.max(1));
        self.transport.get_json(url).await
    }

    /// Every page, checked (see [`ListRequest`]); an error ends the stream.
    pub fn pages(self) -> BoxStream<'static, Result<ListResponse<T>, Error>> {
        let filter = match self.checked_filter() {
            Ok(f) => f,
            Err(e) => return futures::stream::once(async { Err(e) }).boxed(),
        };
        let check = PageCheck::new(u64::from(self.count), self.transport.max_pages);
        paginate(
            (self, filter, check, 1u64),
            |(this, filter, mut check, start)| async move {
                let url = this.url(filter.as_deref(), start);
                let page: ListResponse<T> = this.transport.get_json(url.clone()).await?;
                let ids: Vec<&str> = page.resources.iter().map(Resource::id).collect();
                let step = check.page(start, page.start_index, page.total_results, &ids);
                match step {
                    Ok(Step::Done) => Ok(Page::last(page)),
                    Ok(Step::Next(next)) => Ok(Page::then(page, (this, filter, check, next))),
                    Err(reason) => {
                        tracing::warn!(path = %url.path(), %reason, "SCIM listing stopped");
                        let reason = reason.replace("{records}", T::PLURAL);
                        Err(Error::new(ErrorKind::Paging { reason }).at(Method::GET, url, 1))
                    }
                }
            },
        )
    }

    /// Every resource, page by page; an error ends the stream.
    pub fn items(self) -> BoxStream<'static, Result<T, Error>> {
        self.pages()
            .map_ok(|p| futures::stream::iter(p.resources.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    /// The whole listing, or the error that made it incomplete.
    pub async fn all(self) -> Result<Vec<T>, Error> {
        self.items().try_collect().await
    }
}

/// What to do after a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Ask for the page at this `startIndex`.
    Next(u64),
    /// The listing is complete.
    Done,
}

/// The checks of one listing, page by page (see [`ListRequest`]). Reasons name the records
/// `{records}`, replaced by the caller.
#[derive(Debug, Clone)]
pub(crate) struct PageCheck {
    guard: PageGuard,
    asked: u64,
    page_size: Option<u64>,
    total: Option<u64>,
}

impl PageCheck {
    pub(crate) fn new(asked: u64, max_pages: u64) -> Self {
        PageCheck {
            guard: PageGuard::new(max_pages),
            asked: asked.max(1),
            page_size: None,
            total: None,
        }
    }

    /// Checks the page asked for at `start`, which says it starts at `served_start`, holds
    /// `ids`, and counts `total` in all.
    pub(crate) fn page(
        &mut self,
        start: u64,
        served_start: Option<u64>,
        total: Option<u64>,
        ids: &[&str],
    ) -> Result<Step, String> {
        let Some(total) = total else {
            return Err(format!(
                "the page at startIndex={start} has no totalResults (RFC 7644 §3.4.2 requires \
                 it), so the listing cannot be known to be complete"
            ));
        };
        if let Some(first) = self.total
            && first != total
        {
            return Err(format!(
                "totalResults changed from {first} to {total} at startIndex={start}: {{records}} \
                 were added or removed while the listing ran"
            ));
        }
        self.total = Some(total);
        if let Some(served) = served_start
            && served != start
        {
            return Err(format!(
                "asked for the page at startIndex={start} and got the one at {served}: a page \
                 is missing or misplaced"
            ));
        }
        let n = ids.len() as u64;
        if n > self.asked {
            return Err(format!(
                "the page at startIndex={start} holds {n} {{records}}, more than the {} asked \
                 for",
                self.asked
            ));
        }
        if let Some(repeats) = self.guard.page(ids.iter().map(|id| Some(*id)), Some(total)) {
            return Err(format!(
                "the page at startIndex={start} repeats {} {{records}} already received (e.g. \
                 id {}): the server ignores startIndex, served a page twice, or the {{records}} \
                 moved while they were paged",
                repeats.count, repeats.example
            ));
        }
        let received = self.guard.received();
        if received > total {
            return Err(format!(
                "{received} {{records}} received, more than totalResults ({total})"
            ));
        }
        if received == total {
            return Ok(Step::Done);
        }
        let missing = total - received;
        if n == 0 {
            return Err(format!(
                "the page at startIndex={start} is empty with {received} {{records}} received, \
                 fewer than totalResults ({total}): {missing} missing"
            ));
        }
        match self.page_size {
            // The first page sets the page size in effect (a server may cap `count`).
            None => self.page_size = Some(n),
            Some(size) if n != size => {
                return Err(format!(
                    "the page at startIndex={start} holds {n} {{records}} where earlier pages \
                     held {size}, and totalResults ({total}) says {missing} more follow: a \
                     short page before the end leaves it unknowable where the next page \
                     starts"
                ));
            }
            Some(_) => {}
        }
        if self.guard.at_page_limit() {
            return Err(self.guard.limit_message("{records}", "max_pages"));
        }
        Ok(Step::Next(start + n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(range: std::ops::Range<u32>) -> Vec<String> {
        range.map(|i| format!("u{i}")).collect()
    }

    /// One page as served: asked-for start, echoed start, total, ids.
    type Served = (u64, Option<u64>, Option<u64>, Vec<String>);

    /// Runs a listing of `pages` and returns the steps.
    fn run(asked: u64, max_pages: u64, pages: &[Served]) -> Vec<Result<Step, String>> {
        let mut check = PageCheck::new(asked, max_pages);
        pages
            .iter()
            .map(|(start, served, total, ids)| {
                let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                check.page(*start, *served, *total, &ids)
            })
            .collect()
    }

    #[test]
    fn complete_listings_end_on_the_total() {
        let steps = run(
            5,
            10,
            &[
                (1, Some(1), Some(12), ids(0..5)),
                (6, Some(6), Some(12), ids(5..10)),
                (11, Some(11), Some(12), ids(10..12)),
            ],
        );
        assert_eq!(
            steps,
            [Ok(Step::Next(6)), Ok(Step::Next(11)), Ok(Step::Done)]
        );
        // Empty directory; an exact multiple; a server capping count at 3; no startIndex
        // echoed.
        assert_eq!(
            run(5, 10, &[(1, Some(1), Some(0), vec![])]),
            [Ok(Step::Done)]
        );
        assert_eq!(
            run(5, 10, &[(1, None, Some(5), ids(0..5))]),
            [Ok(Step::Done)]
        );
        assert_eq!(
            run(
                5,
                10,
                &[
                    (1, None, Some(7), ids(0..3)),
                    (4, None, Some(7), ids(3..6)),
                    (7, None, Some(7), ids(6..7))
                ]
            ),
            [Ok(Step::Next(4)), Ok(Step::Next(7)), Ok(Step::Done)]
        );
    }

    fn err(steps: &[Result<Step, String>]) -> &str {
        steps
            .iter()
            .find_map(|s| s.as_ref().err())
            .map_or("(no error)", String::as_str)
    }

    #[test]
    fn every_sign_of_an_incomplete_listing_is_an_error() {
        let no_total = run(5, 10, &[(1, Some(1), None, ids(0..5))]);
        assert!(err(&no_total).contains("no totalResults"), "{no_total:?}");
        let grew = run(
            5,
            10,
            &[
                (1, None, Some(10), ids(0..5)),
                (6, None, Some(11), ids(5..10)),
            ],
        );
        assert!(err(&grew).contains("changed from 10 to 11"), "{grew:?}");
        let shrank = run(
            5,
            10,
            &[
                (1, None, Some(10), ids(0..5)),
                (6, None, Some(9), ids(5..9)),
            ],
        );
        assert!(err(&shrank).contains("changed from 10 to 9"), "{shrank:?}");
        let misplaced = run(
            5,
            10,
            &[
                (1, Some(1), Some(15), ids(0..5)),
                (6, Some(11), Some(15), ids(10..15)),
            ],
        );
        assert!(
            err(&misplaced).contains("missing or misplaced"),
            "{misplaced:?}"
        );
        let repeated = run(
            5,
            10,
            &[
                (1, None, Some(15), ids(0..5)),
                (6, None, Some(15), ids(0..5)),
            ],
        );
        assert!(err(&repeated).contains("repeats 5"), "{repeated:?}");
        let over = run(5, 10, &[(1, None, Some(4), ids(0..5))]);
        assert!(
            err(&over).contains("more than totalResults (4)"),
            "{over:?}"
        );
        let empty = run(
            5,
            10,
            &[(1, None, Some(7), ids(0..5)), (6, None, Some(7), vec![])],
        );
        assert!(err(&empty).contains("2 missing"), "{empty:?}");
        let short = run(
            5,
            10,
            &[
                (1, None, Some(12), ids(0..5)),
                (6, None, Some(12), ids(5..9)),
            ],
        );
        assert!(err(&short).contains("short page"), "{short:?}");
        // A short first page sets the size; a longer page after it is as suspicious.
        let grew_page = run(
            5,
            10,
            &[
                (1, None, Some(12), ids(0..4)),
                (5, None, Some(12), ids(4..9)),
            ],
        );
        assert!(
            err(&grew_page).contains("earlier pages held 4"),
            "{grew_page:?}"
        );
        // The last page short of the total: fewer than totalResults.
        let fewer = run(
            5,
            10,
            &[
                (1, None, Some(13), ids(0..5)),
                (6, None, Some(13), ids(5..10)),
                (11, None, Some(13), ids(10..12)),
            ],
        );
        assert!(err(&fewer).contains("1 more follow"), "{fewer:?}");
        let too_big = run(5, 10, &[(1, None, Some(20), ids(0..6))]);
        assert!(
            err(&too_big).contains("more than the 5 asked"),
            "{too_big:?}"
        );
        let limit = run(
            5,
            2,
            &[
                (1, None, Some(20), ids(0..5)),
                (6, None, Some(20), ids(5..10)),
            ],
        );
        assert!(
            err(&limit).contains("over the limit of 2 pages"),
            "{limit:?}"
        );
    }
}
