//! Time as the emulators see it: the real clock, or a scaled one so that tests can run
//! through minutes of rate-limit windows in milliseconds.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// A source of wall-clock time for the emulators.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that runs `factor` times faster than real time, from the moment it is created.
///
/// Share one `ScaledClock` between an emulator and the client under test (the client must
/// also sleep through [`ScaledClock::sleep`]) to test pacing over long windows quickly.
#[derive(Debug, Clone)]
pub struct ScaledClock {
    started: Instant,
    epoch: SystemTime,
    factor: f64,
}

impl ScaledClock {
    /// A clock starting at the real current time, running `factor` times faster.
    pub fn new(factor: f64) -> Arc<Self> {
        assert!(factor > 0.0, "a clock must move forward");
        Arc::new(ScaledClock {
            started: Instant::now(),
            epoch: SystemTime::now(),
            factor,
        })
    }

    /// The speed-up factor.
    pub fn factor(&self) -> f64 {
        self.factor
    }

    /// Sleeps for `virtual_duration` of this clock's time.
    pub async fn sleep(&self, virtual_duration: Duration) {
        tokio::time::sleep(virtual_duration.div_f64(self.factor)).await;
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> SystemTime {
        self.epoch + self.started.elapsed().mul_f64(self.factor)
    }
}

/// Seconds since the Unix epoch for `t`.
pub fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Microseconds since the Unix epoch for `t`.
pub fn epoch_micros(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
