//! Quip's rate-limit headers, proactive pacing and throttle waits: the pure maths behind
//! Quip's hooks into the shared send path, kept free of I/O so it can be tested exactly.
//!
//! Quip reports three families of windows (quip-api.md §6): per user and API
//! (`X-Ratelimit-*`; Automation 50/min + 750/h, Admin 100/min + 1,500/h), per company
//! (`X-Company-RateLimit-*`, 600/min) and SCIM per company (`X-Scim-RateLimit-*`, 600/min).
//! The docs do not say which window (minute or hour) a response reports, so windows are
//! tracked by family *and* limit: a server alternating between its minute and hour window
//! keeps both in view.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use connector_http::{Wait, from_epoch_secs};
use http::HeaderMap;

use crate::config::RetryPolicy;

/// Which API a request belongs to; each has its own per-user window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiClass {
    /// Automation API (`/1/users/...`, OAuth).
    Automation,
    /// Admin API (`/1/admin/...`, Events).
    Admin,
    /// SCIM API (`/2/Users`).
    Scim,
}

/// One window as a response reported it (raw values; a reset of 0 is kept as 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// Allowance of the window.
    pub limit: Option<u64>,
    /// Requests left.
    pub remaining: Option<u64>,
    /// Reset, epoch seconds.
    pub reset: Option<u64>,
}

impl Window {
    fn is_empty(&self) -> bool {
        self.limit.is_none() && self.remaining.is_none() && self.reset.is_none()
    }

    /// The reset time if it lies after `now`.
    fn future_reset(&self, now: SystemTime) -> Option<SystemTime> {
        self.reset
            .filter(|&r| r > 0)
            .map(from_epoch_secs)
            .filter(|&t| t > now)
    }
}

/// The rate-limit headers of one response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// `X-Ratelimit-*`: per user, for the API of the request.
    pub user: Window,
    /// `X-Company-RateLimit-*`.
    pub company: Window,
    /// `X-Scim-RateLimit-*`.
    pub scim: Window,
    /// `X-Company-Retry-After`, seconds.
    pub company_retry_after: Option<u64>,
    /// `X-Scim-Retry-After`, seconds.
    pub scim_retry_after: Option<u64>,
    /// `Retry-After` (seconds form), undocumented but honoured.
    pub retry_after: Option<u64>,
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    let raw = headers.get(name)?.to_str().ok()?.trim();
    if let Ok(n) = raw.parse::<u64>() {
        return Some(n);
    }
    // Tolerate "12.0" or negative values from unusual proxies.
    raw.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(|f| f.max(0.0).floor() as u64)
}

fn window(headers: &HeaderMap, prefix: &str) -> Window {
    Window {
        limit: header_u64(headers, &format!("{prefix}-limit")),
        remaining: header_u64(headers, &format!("{prefix}-remaining")),
        reset: header_u64(headers, &format!("{prefix}-reset")),
    }
}

impl RateLimitHeaders {
    /// Reads every rate-limit header Quip documents (names are case-insensitive).
    pub fn parse(headers: &HeaderMap) -> Self {
        RateLimitHeaders {
            user: window(headers, "x-ratelimit"),
            company: window(headers, "x-company-ratelimit"),
            scim: window(headers, "x-scim-ratelimit"),
            company_retry_after: header_u64(headers, "x-company-retry-after"),
            scim_retry_after: header_u64(headers, "x-scim-retry-after"),
            retry_after: header_u64(headers, "retry-after"),
        }
    }

    /// True when no rate-limit header was present.
    pub fn is_empty(&self) -> bool {
        self.user.is_empty()
            && self.company.is_empty()
            && self.scim.is_empty()
            && self.company_retry_after.is_none()
            && self.scim_retry_after.is_none()
            && self.retry_after.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Family {
    User(ApiClass),
    Company,
    Scim,
}

impl Family {
    fn applies_to(self, class: ApiClass) -> bool {
        match self {
            Family::User(c) => c == class,
            Family::Company => true,
            Family::Scim => class == ApiClass::Scim,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Family::User(ApiClass::Automation) => "per-user Automation",
            Family::User(ApiClass::Admin) => "per-user Admin",
            Family::User(ApiClass::Scim) => "per-user SCIM",
            Family::Company => "per-company",
            Family::Scim => "SCIM",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    remaining: u64,
    reset: SystemTime,
}

/// What the client knows about Quip's windows, updated from every response.
#[derive(Debug, Default)]
pub struct Pacer {
    buckets: HashMap<(Family, Option<u64>), Bucket>,
    blocked_until: HashMap<Family, SystemTime>,
}

impl Pacer {
    /// Records the headers of a response to a request of `class`, received at `now`.
    pub fn observe(&mut self, class: ApiClass, h: &RateLimitHeaders, now: SystemTime) {
        let user_family = match class {
            ApiClass::Scim => Family::Scim,
            c => Family::User(c),
        };
        for (family, w) in [
            (Family::User(class), h.user),
            (Family::Company, h.company),
            (Family::Scim, h.scim),
        ] {
            let Some(remaining) = w.remaining else {
                continue;
            };
            let key = (family, w.limit);
            match w.future_reset(now) {
                Some(reset) => {
                    self.buckets.insert(key, Bucket { remaining, reset });
                }
                // Reset unknown (0, missing, past): nothing to pace by; throttling, if any,
                // is handled when it arrives.
                None => {
                    self.buckets.remove(&key);
                }
            }
        }
        for (family, secs) in [
            (Family::Company, h.company_retry_after),
            (Family::Scim, h.scim_retry_after),
            (user_family, h.retry_after),
        ] {
            if let Some(secs) = secs.filter(|&s| s > 0) {
                let until = now + Duration::from_secs(secs);
                let entry = self.blocked_until.entry(family).or_insert(until);
                *entry = (*entry).max(until);
            }
        }
    }

    /// How long a request of `class` must wait at `now` so it does not hit an exhausted
    /// window: the longest of the waits for windows with `reserve` or fewer requests left
    /// (until their reset, plus `slack`) and any pending retry-after.
    pub fn wait_before(
        &mut self,
        class: ApiClass,
        now: SystemTime,
        reserve: u64,
        slack: Duration,
    ) -> Option<Wait> {
        self.buckets.retain(|_, b| b.reset > now);
        self.blocked_until.retain(|_, t| *t > now);
        let mut best: Option<Wait> = None;
        let mut consider = |duration: Duration, reason: String| {
            if best.as_ref().is_none_or(|b| duration > b.duration) {
                best = Some(Wait { duration, reason });
            }
        };
        for ((family, limit), bucket) in &self.buckets {
            if family.applies_to(class) && bucket.remaining <= reserve {
                let until = bucket.reset.duration_since(now).unwrap_or_default() + slack;
                let limit = limit.map_or_else(String::new, |l| format!(" of {l}"));
                consider(
                    until,
                    format!(
                        "{} window{limit} has {} request(s) left until its reset",
                        family.name(),
                        bucket.remaining
                    ),
                );
            }
        }
        for (family, until) in &self.blocked_until {
            if family.applies_to(class) {
                consider(
                    until.duration_since(now).unwrap_or_default(),
                    format!("{} retry-after", family.name()),
                );
            }
        }
        best
    }
}

/// How long to wait after a throttled response (429, or 503 "Over Rate Limit").
///
/// The later of every reset in the future and every retry-after, plus `slack` for resets.
/// When the window of the request's own family reports no usable reset (0, missing or in
/// the past — Quip's 429 carries `X-Ratelimit-Reset: 0`) the wait is at least
/// `policy.throttle_fallback` (61 s by default).
pub fn throttle_wait(
    class: ApiClass,
    h: &RateLimitHeaders,
    now: SystemTime,
    policy: &RetryPolicy,
) -> Duration {
    let mut wait = Duration::ZERO;
    for w in [h.user, h.company, h.scim] {
        if let Some(reset) = w.future_reset(now) {
            wait = wait.max(reset.duration_since(now).unwrap_or_default() + policy.slack);
        }
    }
    for secs in [h.company_retry_after, h.scim_retry_after, h.retry_after]
        .into_iter()
        .flatten()
    {
        wait = wait.max(Duration::from_secs(secs));
    }
    let own = match class {
        ApiClass::Scim if !h.scim.is_empty() => h.scim,
        _ => h.user,
    };
    if own.future_reset(now).is_none() {
        wait = wait.max(policy.throttle_fallback);
    }
    wait
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const NOW: u64 = 1_700_000_000;

    fn now() -> SystemTime {
        from_epoch_secs(NOW)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn parses_every_family() {
        let h = RateLimitHeaders::parse(&headers(&[
            ("X-Ratelimit-Limit", "50"),
            ("X-Ratelimit-Remaining", "49"),
            ("X-Ratelimit-Reset", "1700000060"),
            ("X-Company-RateLimit-Limit", "600"),
            ("X-Company-RateLimit-Remaining", "599"),
            ("X-Company-RateLimit-Reset", "1700000030.0"),
            ("X-Company-Retry-After", "7"),
            ("X-Scim-RateLimit-Remaining", "3"),
            ("X-Scim-Retry-After", "2"),
            ("Retry-After", "9"),
        ]));
        assert_eq!(
            h.user,
            Window {
                limit: Some(50),
                remaining: Some(49),
                reset: Some(NOW + 60)
            }
        );
        assert_eq!(h.company.reset, Some(NOW + 30));
        assert_eq!(h.scim.remaining, Some(3));
        assert_eq!(h.company_retry_after, Some(7));
        assert_eq!(h.scim_retry_after, Some(2));
        assert_eq!(h.retry_after, Some(9));
        assert!(RateLimitHeaders::parse(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn paces_only_exhausted_windows_of_the_right_family() {
        let mut p = Pacer::default();
        let h = RateLimitHeaders {
            user: Window {
                limit: Some(100),
                remaining: Some(0),
                reset: Some(NOW + 20),
            },
            company: Window {
                limit: Some(600),
                remaining: Some(300),
                reset: Some(NOW + 40),
            },
            ..Default::default()
        };
        p.observe(ApiClass::Admin, &h, now());
        let slack = Duration::from_secs(1);
        let w = p.wait_before(ApiClass::Admin, now(), 0, slack).unwrap();
        assert_eq!(w.duration, Duration::from_secs(21));
        assert!(w.reason.contains("per-user Admin"), "{}", w.reason);
        // The Automation window is separate, SCIM too.
        assert_eq!(p.wait_before(ApiClass::Automation, now(), 0, slack), None);
        assert_eq!(p.wait_before(ApiClass::Scim, now(), 0, slack), None);
        // After the reset the window no longer applies.
        assert_eq!(
            p.wait_before(ApiClass::Admin, now() + Duration::from_secs(21), 0, slack),
            None
        );
        // A larger reserve paces earlier (company window has 300 left).
        let w = p
            .wait_before(ApiClass::Automation, now(), 300, slack)
            .unwrap();
        assert_eq!(w.duration, Duration::from_secs(41));
    }

    #[test]
    fn minute_and_hour_windows_are_kept_apart() {
        let mut p = Pacer::default();
        let minute = RateLimitHeaders {
            user: Window {
                limit: Some(50),
                remaining: Some(10),
                reset: Some(NOW + 30),
            },
            ..Default::default()
        };
        let hour = RateLimitHeaders {
            user: Window {
                limit: Some(750),
                remaining: Some(0),
                reset: Some(NOW + 1800),
            },
            ..Default::default()
        };
        p.observe(ApiClass::Automation, &hour, now());
        p.observe(ApiClass::Automation, &minute, now());
        let w = p
            .wait_before(ApiClass::Automation, now(), 0, Duration::ZERO)
            .unwrap();
        assert_eq!(w.duration, Duration::from_secs(1800));
    }

    #[test]
    fn zero_reset_clears_the_window_and_retry_after_blocks() {
        let mut p = Pacer::default();
        let exhausted = RateLimitHeaders {
            user: Window {
                limit: Some(50),
                remaining: Some(0),
                reset: Some(NOW + 30),
            },
            ..Default::default()
        };
        p.observe(ApiClass::Automation, &exhausted, now());
        let zero = RateLimitHeaders {
            user: Window {
                limit: Some(50),
                remaining: Some(0),
                reset: Some(0),
            },
            company_retry_after: Some(5),
            ..Default::default()
        };
        p.observe(ApiClass::Automation, &zero, now());
        let w = p
            .wait_before(ApiClass::Scim, now(), 0, Duration::ZERO)
            .unwrap();
        assert_eq!(w.duration, Duration::from_secs(5));
        assert_eq!(
            p.wait_before(ApiClass::Automation, now(), 0, Duration::ZERO)
                .unwrap()
                .duration,
            Duration::from_secs(5)
        );
    }

    #[test]
    fn throttle_waits() {
        let policy = RetryPolicy::default();
        // 503 with a correct reset: until the reset plus slack.
        let h = RateLimitHeaders {
            user: Window {
                limit: Some(50),
                remaining: Some(0),
                reset: Some(NOW + 12),
            },
            company: Window {
                limit: Some(600),
                remaining: Some(10),
                reset: Some(NOW + 3),
            },
            ..Default::default()
        };
        assert_eq!(
            throttle_wait(ApiClass::Automation, &h, now(), &policy),
            Duration::from_secs(13)
        );
        // 429 with reset 0: the 61 s fallback.
        let h = RateLimitHeaders {
            user: Window {
                limit: Some(50),
                remaining: Some(0),
                reset: Some(0),
            },
            ..Default::default()
        };
        assert_eq!(
            throttle_wait(ApiClass::Automation, &h, now(), &policy),
            Duration::from_secs(61)
        );
        // Nothing at all: fallback. Reset in the past: fallback.
        assert_eq!(
            throttle_wait(
                ApiClass::Admin,
                &RateLimitHeaders::default(),
                now(),
                &policy
            ),
            Duration::from_secs(61)
        );
        let past = RateLimitHeaders {
            user: Window {
                reset: Some(NOW - 5),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            throttle_wait(ApiClass::Admin, &past, now(), &policy),
            Duration::from_secs(61)
        );
        // A company retry-after longer than the fallback wins.
        let h = RateLimitHeaders {
            company_retry_after: Some(90),
            ..Default::default()
        };
        assert_eq!(
            throttle_wait(ApiClass::Admin, &h, now(), &policy),
            Duration::from_secs(90)
        );
        // SCIM uses its own family.
        let h = RateLimitHeaders {
            scim: Window {
                limit: Some(600),
                remaining: Some(0),
                reset: Some(NOW + 4),
            },
            ..Default::default()
        };
        assert_eq!(
            throttle_wait(ApiClass::Scim, &h, now(), &policy),
            Duration::from_secs(5)
        );
    }
}
