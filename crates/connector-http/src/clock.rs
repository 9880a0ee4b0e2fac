//! Time as a client sees it, injectable so tests never wait for real.

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

/// Seconds since the Unix epoch as a [`SystemTime`] (rate-limit reset headers).
pub fn from_epoch_secs(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
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
    fn converts_epoch_seconds() {
        assert_eq!(
            from_epoch_secs(60),
            SystemTime::UNIX_EPOCH + Duration::from_secs(60)
        );
    }
}
