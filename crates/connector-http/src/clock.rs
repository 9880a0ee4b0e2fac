//! Time as a client sees it, injectable so tests never wait for real.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
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

/// A clock for tests: it stands still until something sleeps on it, then moves forward by
/// exactly that much at once, and it records every sleep. Waits can be asserted exactly
/// and tests never wait for real.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<SystemTime>,
    sleeps: Mutex<Vec<Duration>>,
}

impl ManualClock {
    /// The epoch second a [`ManualClock::new`] clock starts at (2023-11-14 22:13:20 UTC).
    pub const START: u64 = 1_700_000_000;

    /// A clock at [`ManualClock::START`].
    pub fn new() -> Arc<Self> {
        ManualClock::starting_at(from_epoch_secs(ManualClock::START))
    }

    /// A clock at `now`.
    pub fn starting_at(now: SystemTime) -> Arc<Self> {
        Arc::new(ManualClock {
            now: Mutex::new(now),
            sleeps: Mutex::new(Vec::new()),
        })
    }

    /// Every sleep so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn sleep(&self, duration: Duration) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) += duration;
        self.sleeps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(duration);
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

    #[tokio::test]
    async fn manual_clock_moves_only_when_slept_on() {
        let clock = ManualClock::new();
        let start = clock.now();
        assert_eq!(start, from_epoch_secs(ManualClock::START));
        assert_eq!(clock.now(), start);
        clock.sleep(Duration::from_secs(61)).await;
        clock.sleep(Duration::from_millis(500)).await;
        assert_eq!(clock.now(), start + Duration::from_millis(61_500));
        assert_eq!(
            clock.sleeps(),
            vec![Duration::from_secs(61), Duration::from_millis(500)]
        );
    }

    #[test]
    fn converts_epoch_seconds() {
        assert_eq!(
            from_epoch_secs(60),
            SystemTime::UNIX_EPOCH + Duration::from_secs(60)
        );
    }
}
