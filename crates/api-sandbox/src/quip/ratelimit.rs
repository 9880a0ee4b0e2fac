//! Fixed-window rate limiting with Quip's headers.
//!
//! Buckets: per user and API (Automation, Admin) per minute and per hour, per company per
//! minute over every non-SCIM route, and per company per minute for SCIM. A request is
//! admitted only if every bucket it touches has budget left; a throttled request consumes
//! nothing. Windows are aligned to the epoch (minute `floor(t/60)`, hour `floor(t/3600)`)
//! on the emulator's [`Clock`](crate::Clock).

use std::collections::HashMap;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::config::{QuipLimits, ThrottleStyle};

/// Which API a route belongs to, for budgets and auth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Area {
    /// `/1/users*`, `/1/oauth/*`.
    Automation,
    /// `/1/admin/*`.
    Admin,
    /// `/2/*`.
    Scim,
}

impl Area {
    /// The area of a request path.
    pub(crate) fn of(path: &str) -> Area {
        if path.starts_with("/2/") {
            Area::Scim
        } else if path.starts_with("/1/admin/") {
            Area::Admin
        } else {
            Area::Automation
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    AutomationMinute,
    AutomationHour,
    AdminMinute,
    AdminHour,
    CompanyMinute,
    ScimMinute,
}

/// The header family a bucket reports in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    /// `X-Ratelimit-*`
    User,
    /// `X-Company-RateLimit-*`, `X-Company-Retry-After`
    Company,
    /// `X-Scim-RateLimit-*`, `X-Scim-Retry-After`
    Scim,
}

impl Kind {
    fn period_secs(self) -> u64 {
        match self {
            Kind::AutomationHour | Kind::AdminHour => 3_600,
            _ => 60,
        }
    }

    fn group(self) -> Group {
        match self {
            Kind::CompanyMinute => Group::Company,
            Kind::ScimMinute => Group::Scim,
            _ => Group::User,
        }
    }

    fn limit(self, limits: &QuipLimits) -> u64 {
        match self {
            Kind::AutomationMinute => limits.automation_per_minute,
            Kind::AutomationHour => limits.automation_per_hour,
            Kind::AdminMinute => limits.admin_per_minute,
            Kind::AdminHour => limits.admin_per_hour,
            Kind::CompanyMinute => limits.company_per_minute,
            Kind::ScimMinute => limits.scim_per_minute,
        }
    }
}

/// The state of one bucket as seen by one request.
#[derive(Debug, Clone, Copy)]
struct Reading {
    kind: Kind,
    limit: u64,
    remaining: u64,
    /// Epoch second at which the window ends.
    reset: u64,
}

/// The outcome of [`Limiter::admit`].
#[derive(Debug)]
pub(crate) struct Decision {
    /// False when some budget is exhausted (nothing was consumed).
    pub(crate) allowed: bool,
    /// Rate-limit headers for the response.
    pub(crate) headers: HeaderMap,
    /// How to answer when not allowed.
    pub(crate) style: ThrottleStyle,
}

/// All buckets of one emulator.
#[derive(Debug)]
pub(crate) struct Limiter {
    pub(crate) limits: QuipLimits,
    pub(crate) style: ThrottleStyle,
    /// (kind, principal) -> (window index, used)
    buckets: HashMap<(Kind, String), (u64, u64)>,
}

impl Limiter {
    pub(crate) fn new(limits: QuipLimits, style: ThrottleStyle) -> Self {
        Limiter {
            limits,
            style,
            buckets: HashMap::new(),
        }
    }

    /// Forgets all consumption.
    pub(crate) fn reset(&mut self) {
        self.buckets.clear();
    }

    /// Checks and (when allowed) consumes one request of `user` in `company` on `area`, at
    /// `now_secs` (epoch seconds).
    pub(crate) fn admit(
        &mut self,
        area: Area,
        user: &str,
        company: &str,
        now_secs: u64,
    ) -> Decision {
        let kinds: &[(Kind, &str)] = match area {
            Area::Automation => &[
                (Kind::AutomationMinute, user),
                (Kind::AutomationHour, user),
                (Kind::CompanyMinute, company),
            ],
            Area::Admin => &[
                (Kind::AdminMinute, user),
                (Kind::AdminHour, user),
                (Kind::CompanyMinute, company),
            ],
            Area::Scim => &[(Kind::ScimMinute, company)],
        };
        let mut readings: Vec<Reading> = kinds
            .iter()
            .map(|&(kind, key)| {
                let period = kind.period_secs();
                let window = now_secs / period;
                let used = self
                    .buckets
                    .get(&(kind, key.to_owned()))
                    .filter(|(w, _)| *w == window)
                    .map_or(0, |(_, used)| *used);
                let limit = kind.limit(&self.limits);
                Reading {
                    kind,
                    limit,
                    remaining: limit.saturating_sub(used),
                    reset: (window + 1) * period,
                }
            })
            .collect();
        let allowed = readings.iter().all(|r| r.remaining > 0);
        if allowed {
            for (reading, &(kind, key)) in readings.iter_mut().zip(kinds) {
                let window = now_secs / kind.period_secs();
                let entry = self
                    .buckets
                    .entry((kind, key.to_owned()))
                    .or_insert((window, 0));
                if entry.0 != window {
                    *entry = (window, 0);
                }
                entry.1 += 1;
                reading.remaining -= 1;
            }
        }
        let headers = headers(&readings, allowed, self.style, now_secs);
        Decision {
            allowed,
            headers,
            style: self.style,
        }
    }
}

/// The reading a header family reports: the window with the least remaining; among equals
/// (e.g. two exhausted windows) the one that resets last, i.e. when a request may succeed.
fn pick(readings: &[Reading], group: Group) -> Option<Reading> {
    readings
        .iter()
        .filter(|r| r.kind.group() == group)
        .min_by(|a, b| a.remaining.cmp(&b.remaining).then(b.reset.cmp(&a.reset)))
        .copied()
}

fn put(headers: &mut HeaderMap, name: &'static str, value: u64) {
    headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
}

fn headers(readings: &[Reading], allowed: bool, style: ThrottleStyle, now_secs: u64) -> HeaderMap {
    let zero_reset = !allowed && style == ThrottleStyle::Status429;
    let mut h = HeaderMap::new();
    if let Some(r) = pick(readings, Group::User) {
        put(&mut h, "x-ratelimit-limit", r.limit);
        put(&mut h, "x-ratelimit-remaining", r.remaining);
        put(
            &mut h,
            "x-ratelimit-reset",
            if zero_reset { 0 } else { r.reset },
        );
    }
    if let Some(r) = pick(readings, Group::Company) {
        put(&mut h, "x-company-ratelimit-limit", r.limit);
        put(&mut h, "x-company-ratelimit-remaining", r.remaining);
        put(&mut h, "x-company-ratelimit-reset", r.reset);
        if !allowed && r.remaining == 0 {
            put(
                &mut h,
                "x-company-retry-after",
                r.reset.saturating_sub(now_secs).max(1),
            );
        }
    }
    if let Some(r) = pick(readings, Group::Scim) {
        put(&mut h, "x-scim-ratelimit-limit", r.limit);
        put(&mut h, "x-scim-ratelimit-remaining", r.remaining);
        put(
            &mut h,
            "x-scim-ratelimit-reset",
            if zero_reset { 0 } else { r.reset },
        );
        if !allowed && r.remaining == 0 {
            put(
                &mut h,
                "x-scim-retry-after",
                r.reset.saturating_sub(now_secs).max(1),
            );
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> QuipLimits {
        QuipLimits {
            automation_per_minute: 3,
            automation_per_hour: 5,
            company_per_minute: 100,
            ..QuipLimits::default()
        }
    }

    fn header(d: &Decision, name: &str) -> u64 {
        d.headers[name]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("number")
    }

    #[test]
    fn minute_then_hour_budget_and_no_consumption_when_throttled() {
        let mut l = Limiter::new(limits(), ThrottleStyle::Status503);
        let t0 = 3_600 * 1_000; // start of an hour
        for expected in [2, 1, 0] {
            let d = l.admit(Area::Automation, "u", "c", t0);
            assert!(d.allowed);
            assert_eq!(header(&d, "x-ratelimit-remaining"), expected);
            assert_eq!(header(&d, "x-ratelimit-reset"), t0 + 60);
        }
        for _ in 0..10 {
            let d = l.admit(Area::Automation, "u", "c", t0 + 30);
            assert!(!d.allowed);
            assert_eq!(header(&d, "x-ratelimit-reset"), t0 + 60);
        }
        // Next minute: the hour has 2 left, so the hour window is reported.
        let d = l.admit(Area::Automation, "u", "c", t0 + 60);
        assert!(d.allowed);
        assert_eq!(header(&d, "x-ratelimit-remaining"), 1);
        assert_eq!(header(&d, "x-ratelimit-limit"), 5);
        assert!(l.admit(Area::Automation, "u", "c", t0 + 61).allowed);
        let d = l.admit(Area::Automation, "u", "c", t0 + 62);
        assert!(!d.allowed);
        assert_eq!(header(&d, "x-ratelimit-reset"), t0 + 3_600);
        // Other users and the company budget are separate.
        assert!(l.admit(Area::Automation, "v", "c", t0 + 62).allowed);
        let d = l.admit(Area::Admin, "u", "c", t0 + 62);
        assert!(d.allowed);
        // This minute: 2 by u, 1 by v, this one; the throttled request cost nothing.
        assert_eq!(header(&d, "x-company-ratelimit-remaining"), 100 - 2 - 1 - 1);
    }

    #[test]
    fn scim_is_per_company_with_its_own_headers() {
        let mut l = Limiter::new(
            QuipLimits {
                scim_per_minute: 1,
                ..QuipLimits::default()
            },
            ThrottleStyle::Status429,
        );
        let d = l.admit(Area::Scim, "u", "c", 120);
        assert!(d.allowed);
        assert!(!d.headers.contains_key("x-ratelimit-remaining"));
        assert_eq!(header(&d, "x-scim-ratelimit-remaining"), 0);
        let d = l.admit(Area::Scim, "other-user", "c", 125);
        assert!(!d.allowed);
        assert_eq!(header(&d, "x-scim-ratelimit-reset"), 0);
        assert_eq!(header(&d, "x-scim-retry-after"), 55);
    }
}
