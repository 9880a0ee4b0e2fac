//! How long to wait before trying again: jittered exponential backoff and `Retry-After`.

use std::time::{Duration, SystemTime};

use http::HeaderMap;

/// Backoff before retry number `retry` (1-based): `base * 2^(retry-1)`, capped at `max`,
/// with "equal jitter": `jitter` in `0.0..=1.0` picks a point in the upper half of that
/// step, so a retry never comes sooner than half the step and never later than the step.
pub fn backoff(base: Duration, max: Duration, retry: u32, jitter: f64) -> Duration {
    let ceiling = backoff_ceiling(base, max, retry);
    let half = ceiling / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

/// The upper bound of [`backoff`] for retry number `retry` (1-based).
pub fn backoff_ceiling(base: Duration, max: Duration, retry: u32) -> Duration {
    base.saturating_mul(1u32 << retry.saturating_sub(1).min(20))
        .min(max)
}

/// A jitter value for [`backoff`], drawn uniformly from `0.0..1.0`.
pub fn jitter() -> f64 {
    rand::random::<f64>()
}

/// The `Retry-After` header (RFC 9110 §10.2.3): delay-seconds (fractions and negative
/// values from unusual proxies tolerated) or an HTTP-date, as a wait from `now`. A date in
/// the past is a wait of zero; an unreadable value is `None`.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let raw = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = raw.parse::<f64>() {
        return secs
            .is_finite()
            .then(|| Duration::from_secs_f64(secs.clamp(0.0, 1e9)));
    }
    let at = httpdate::parse_http_date(raw).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ra(value: &'static str, now: SystemTime) -> Option<Duration> {
        let mut h = HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, HeaderValue::from_static(value));
        retry_after(&h, now)
    }

    #[test]
    fn backoff_grows_caps_and_jitters_within_bounds() {
        let (base, max) = (Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(backoff(base, max, 1, 0.0), Duration::from_millis(50));
        assert_eq!(backoff(base, max, 1, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(base, max, 2, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(base, max, 3, 0.5), Duration::from_millis(300));
        assert_eq!(backoff(base, max, 3, 0.0), Duration::from_millis(200));
        assert_eq!(backoff(base, max, 3, 1.0), Duration::from_millis(400));
        assert_eq!(backoff(base, max, 5, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(base, max, 60, 0.0), Duration::from_millis(500));
        // Out-of-range jitter is clamped, never a wait outside the step.
        assert_eq!(backoff(base, max, 1, -3.0), Duration::from_millis(50));
        assert_eq!(backoff(base, max, 1, 7.0), Duration::from_millis(100));
        for retry in 1..8 {
            for _ in 0..50 {
                let d = backoff(base, max, retry, jitter());
                let ceiling = backoff_ceiling(base, max, retry);
                assert!(d >= ceiling / 2 && d <= ceiling, "retry {retry}: {d:?}");
                assert!(d >= Duration::from_millis(50) && d <= Duration::from_secs(1));
            }
        }
    }

    #[test]
    fn backoff_ceiling_doubles_up_to_the_cap() {
        let (base, max) = (Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(backoff_ceiling(base, max, 1), Duration::from_millis(100));
        assert_eq!(backoff_ceiling(base, max, 2), Duration::from_millis(200));
        assert_eq!(backoff_ceiling(base, max, 4), Duration::from_millis(800));
        assert_eq!(backoff_ceiling(base, max, 5), Duration::from_secs(1));
        assert_eq!(backoff_ceiling(base, max, 60), Duration::from_secs(1));
        assert_eq!(backoff_ceiling(base, max, 0), Duration::from_millis(100));
    }

    #[test]
    fn retry_after_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(ra("120", now), Some(Duration::from_secs(120)));
        assert_eq!(ra(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(ra("1.5", now), Some(Duration::from_millis(1500)));
        assert_eq!(ra("-4", now), Some(Duration::ZERO));
        // 2015-10-21 07:28:00 UTC is `now`; 07:29:30 is 90 s later.
        assert_eq!(
            ra("Wed, 21 Oct 2015 07:29:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            ra("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(ra("soon", now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }
}
