//! Time as the client sees it, injectable so tests never wait for real.

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

/// Wall-clock time and sleeping.
///
/// Rate-limit reset headers are epoch seconds, so the clock is a wall clock
/// ([`SystemTime`]). Every wait the client makes (pacing, throttling, backoff) goes through
/// [`Clock::sleep`], so a test can share a scaled or manual clock with an emulator.
#[async_trait]
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// Waits for `duration` of this clock's time.
    async fn sleep(&self, duration: Duration);
}

/// The machine's clock and tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Seconds since the Unix epoch as a [`SystemTime`].
pub(crate) fn from_epoch_secs(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// Converts Quip's microsecond timestamps to UTC.
pub(crate) fn from_usec(usec: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_micros(usec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn system_clock_sleeps_on_tokio_time() {
        let start = tokio::time::Instant::now();
        SystemClock.sleep(Duration::from_secs(61)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(61));
    }

    #[test]
    fn converts_quip_timestamps() {
        assert_eq!(
            from_usec(1_632_022_665_732_239).map(|t| t.to_rfc3339()),
            Some("2021-09-19T03:37:45.732239+00:00".to_owned())
        );
        assert_eq!(
            from_epoch_secs(60),
            SystemTime::UNIX_EPOCH + Duration::from_secs(60)
        );
    }
}
