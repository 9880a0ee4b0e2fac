//! Paged listings as streams, and the guards that stop a listing a server never ends.

use std::collections::HashSet;
use std::future::Future;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};

/// One page of a listing and where the next one starts (`None`: this was the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, C> {
    /// What the page holds.
    pub items: T,
    /// The cursor of the next page.
    pub next: Option<C>,
}

impl<T, C> Page<T, C> {
    /// The last page.
    pub fn last(items: T) -> Self {
        Page { items, next: None }
    }

    /// A page followed by the one at `next`.
    pub fn then(items: T, next: C) -> Self {
        Page {
            items,
            next: Some(next),
        }
    }
}

/// The pages of a listing as a stream: `fetch` reads the page at a cursor, starting at
/// `first`, until a page has no next cursor or `fetch` fails (the error ends the stream).
/// Callers never write paging loops.
pub fn paginate<T, C, E, F, Fut>(first: C, mut fetch: F) -> BoxStream<'static, Result<T, E>>
where
    T: Send + 'static,
    C: Send + 'static,
    E: Send + 'static,
    F: FnMut(C) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page<T, C>, E>> + Send + 'static,
{
    stream::try_unfold(Some(first), move |cursor| {
        let next = cursor.map(&mut fetch);
        async move {
            match next {
                None => Ok(None),
                Some(page) => page.await.map(|p| Some((p.items, p.next))),
            }
        }
    })
    .boxed()
}

/// Flattens a stream of pages into a stream of items.
pub fn items<T: Send + 'static, E: Send + 'static>(
    pages: BoxStream<'static, Result<Vec<T>, E>>,
) -> BoxStream<'static, Result<T, E>> {
    pages
        .map_ok(|page| stream::iter(page.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
}

/// What a listing has received so far, to notice a server that never ends it: a page
/// repeating records already received (a server ignoring the offset), more records than
/// the server's own total plus a page, more pages than allowed.
#[derive(Debug, Clone, Default)]
pub struct PageGuard {
    seen: HashSet<String>,
    pages: u64,
    received: u64,
    total_hint: Option<u64>,
    max_pages: u64,
}

/// Records of a page that were already received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeats {
    /// How many.
    pub count: usize,
    /// The first one's id.
    pub example: String,
}

impl PageGuard {
    /// A guard allowing `max_pages` pages (at least 1).
    pub fn new(max_pages: u64) -> Self {
        PageGuard {
            max_pages: max_pages.max(1),
            ..PageGuard::default()
        }
    }

    /// Records a page holding records with these ids (`None`: a record without one, counted
    /// but not checked) and `total`, when the server said how many there are; the repeated
    /// ones, if any.
    pub fn page<'a>(
        &mut self,
        ids: impl IntoIterator<Item = Option<&'a str>>,
        total: Option<u64>,
    ) -> Option<Repeats> {
        self.pages += 1;
        if let Some(total) = total {
            self.total_hint = Some(self.total_hint.map_or(total, |t| t.min(total)));
        }
        let mut repeats: Option<Repeats> = None;
        for id in ids {
            self.received += 1;
            let Some(id) = id else { continue };
            if !self.seen.insert(id.to_owned()) {
                match &mut repeats {
                    Some(r) => r.count += 1,
                    None => {
                        repeats = Some(Repeats {
                            count: 1,
                            example: id.to_owned(),
                        });
                    }
                }
            }
        }
        repeats
    }

    /// The smallest total the server reported, when more records than that plus one page
    /// of `page_size` were received.
    pub fn over_total(&self, page_size: u64) -> Option<u64> {
        self.total_hint
            .filter(|total| self.received > total.saturating_add(page_size))
    }

    /// True when the page limit is reached (another page would be one too many).
    pub fn at_page_limit(&self) -> bool {
        self.pages >= self.max_pages
    }

    /// True when a record (or cursor) with this id was received already.
    pub fn is_seen(&self, id: &str) -> bool {
        self.seen.contains(id)
    }

    /// Pages recorded.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Records received.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The page limit.
    pub fn max_pages(&self) -> u64 {
        self.max_pages
    }

    /// Why a listing stops at the page limit: how far it got, in `records` (e.g. `users`),
    /// and the `setting` that raises the limit (e.g. ``[quip] max_pages``).
    pub fn limit_message(&self, records: &str, setting: &str) -> String {
        format!(
            "{} pages ({} {records}) and still no last page: over the limit of {} pages per \
             listing (`{setting}`)",
            self.pages, self.received, self.max_pages
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn paginate_follows_cursors_until_the_last_page() {
        let pages: Vec<Vec<u32>> = paginate(0u32, |at| async move {
            Ok::<_, String>(if at < 2 {
                Page::then(vec![at, at + 10], at + 1)
            } else {
                Page::last(vec![at])
            })
        })
        .try_collect()
        .await
        .unwrap();
        assert_eq!(pages, vec![vec![0, 10], vec![1, 11], vec![2]]);
        let all: Vec<u32> = items(paginate(0u32, |at| async move {
            Ok::<_, String>(if at == 0 {
                Page::then(vec![1, 2], 1)
            } else {
                Page::last(vec![3])
            })
        }))
        .try_collect()
        .await
        .unwrap();
        assert_eq!(all, vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn an_error_ends_the_stream() {
        let got: Vec<Result<Vec<u32>, String>> = paginate(0u32, |at| async move {
            if at == 1 {
                Err("boom".to_owned())
            } else {
                Ok(Page::then(vec![at], at + 1))
            }
        })
        .collect()
        .await;
        assert_eq!(got, vec![Ok(vec![0]), Err("boom".to_owned())]);
    }

    #[test]
    fn guard_sees_repeats_totals_and_the_page_limit() {
        let mut g = PageGuard::new(3);
        assert_eq!(g.page([Some("a"), Some("b")], Some(3)), None);
        assert_eq!(g.over_total(2), None);
        assert!(!g.at_page_limit());
        assert_eq!(
            g.page([Some("c"), Some("a"), Some("b")], Some(5)),
            Some(Repeats {
                count: 2,
                example: "a".into()
            })
        );
        // The smallest total counts: 5 received, more than 3 + 1.
        assert_eq!(g.over_total(1), Some(3));
        assert_eq!(g.over_total(2), None);
        g.page([Some("d"), None], None);
        assert!(g.at_page_limit());
        assert_eq!((g.pages(), g.received(), g.max_pages()), (3, 7, 3));
        assert!(g.is_seen("d") && !g.is_seen("e"));
    }
}
