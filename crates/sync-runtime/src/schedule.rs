//! Schedules: when the next run is due, and a loop that runs one sync at a time until told
//! to stop.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, FixedOffset, NaiveTime, Offset, TimeZone, Utc};

use crate::config::ScheduleSection;

/// A parsed schedule: every `every`, aligned to `at` (minutes after midnight) in `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Interval between runs.
    pub every: Duration,
    /// Time of day the runs are aligned to, in minutes after midnight.
    pub at_minutes: Option<u32>,
    /// Offset of the schedule's time zone, in seconds east of UTC.
    pub offset_secs: i32,
}

impl Schedule {
    /// From the `[schedule]` section (its values were checked when the file loaded).
    pub fn from_section(section: &ScheduleSection) -> Self {
        Schedule {
            every: section.every.get(),
            at_minutes: section.at.map(crate::config::TimeOfDay::minutes),
            offset_secs: section.timezone.seconds(),
        }
    }

    /// The first fire time strictly after `now`.
    ///
    /// With `at`, fire times are `at` on the day of `now` (in the schedule's offset) plus
    /// whole multiples of `every`, forwards or backwards; without it, `now + every`.
    pub fn next_after(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let every = ChronoDuration::from_std(self.every).unwrap_or(ChronoDuration::days(1));
        let Some(at) = self.at_minutes else {
            return now + every;
        };
        let offset = FixedOffset::east_opt(self.offset_secs).unwrap_or_else(|| Utc.fix());
        let local_day = now.with_timezone(&offset).date_naive();
        let at_time = NaiveTime::from_hms_opt(at / 60, at % 60, 0).unwrap_or_default();
        let anchor = offset
            .from_local_datetime(&local_day.and_time(at_time))
            .single()
            .map_or(now, |t| t.with_timezone(&Utc));
        let step = every.num_seconds().max(1);
        let since = (now - anchor).num_seconds();
        // Smallest k with anchor + k*step > now.
        let k = since.div_euclid(step) + 1;
        anchor + ChronoDuration::seconds(k * step)
    }
}

/// Runs `job` at every fire time of `schedule` until `shutdown` completes. One run at a time:
/// a run that overlaps the next fire time delays it rather than starting a second run.
/// A run in progress when `shutdown` completes is awaited; give it the same stop request
/// ([`RunOptions::stop`](crate::RunOptions::stop)) so that it ends at its next batch
/// boundary (status `interrupted`) instead of running to the end.
pub async fn run_loop<J, F, S>(schedule: Schedule, mut job: J, shutdown: S)
where
    J: FnMut() -> F,
    F: Future<Output = ()>,
    S: Future<Output = ()>,
{
    tokio::pin!(shutdown);
    loop {
        let next = schedule.next_after(Utc::now());
        let wait = (next - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        tracing::info!(next_run = %next.to_rfc3339(), "waiting for the next scheduled run");
        tokio::select! {
            () = &mut shutdown => {
                tracing::info!("shutdown requested; no further runs");
                return;
            }
            () = tokio::time::sleep(wait) => {}
        }
        let run = job();
        tokio::pin!(run);
        tokio::select! {
            () = &mut run => {}
            () = &mut shutdown => {
                tracing::info!("shutdown requested; letting the current run finish");
                run.await;
                return;
            }
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn daily_at_two() {
        let s = Schedule {
            every: Duration::from_secs(86_400),
            at_minutes: Some(120),
            offset_secs: 0,
        };
        assert_eq!(
            s.next_after(t("2026-11-26T01:00:00Z")),
            t("2026-11-26T02:00:00Z")
        );
        assert_eq!(
            s.next_after(t("2026-11-26T02:00:00Z")),
            t("2026-11-27T02:00:00Z")
        );
        assert_eq!(
            s.next_after(t("2026-11-26T18:00:00Z")),
            t("2026-11-27T02:00:00Z")
        );
    }

    #[test]
    fn offset_and_sub_daily_interval() {
        // 02:00 at +02:00 is 00:00 UTC; every 6 h from there.
        let s = Schedule {
            every: Duration::from_secs(6 * 3600),
            at_minutes: Some(120),
            offset_secs: 7200,
        };
        assert_eq!(
            s.next_after(t("2026-11-26T01:00:00Z")),
            t("2026-11-26T06:00:00Z")
        );
        assert_eq!(
            s.next_after(t("2026-11-26T23:59:00Z")),
            t("2026-11-27T00:00:00Z")
        );
    }

    #[test]
    fn without_at_runs_after_the_interval() {
        let s = Schedule {
            every: Duration::from_secs(3600),
            at_minutes: None,
            offset_secs: 0,
        };
        assert_eq!(
            s.next_after(t("2026-11-26T01:30:00Z")),
            t("2026-11-26T02:30:00Z")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn loop_runs_one_at_a_time_and_stops_on_shutdown() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU32, Ordering};
        let runs = Arc::new(AtomicU32::new(0));
        let running = Arc::new(AtomicU32::new(0));
        let s = Schedule {
            every: Duration::from_secs(1),
            at_minutes: None,
            offset_secs: 0,
        };
        let (r, g) = (runs.clone(), running.clone());
        let job = move || {
            let (r, g) = (r.clone(), g.clone());
            async move {
                assert_eq!(
                    g.fetch_add(1, Ordering::SeqCst),
                    0,
                    "never two runs at once"
                );
                tokio::time::sleep(Duration::from_millis(1500)).await;
                g.fetch_sub(1, Ordering::SeqCst);
                r.fetch_add(1, Ordering::SeqCst);
            }
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(run_loop(s, job, async {
            let _ = rx.await;
        }));
        tokio::time::sleep(Duration::from_secs(6)).await;
        let _ = tx.send(());
        handle.await.expect("loop ends");
        let n = runs.load(Ordering::SeqCst);
        assert!(n >= 2, "ran {n} times");
        assert_eq!(
            running.load(Ordering::SeqCst),
            0,
            "the last run finished before stopping"
        );
    }
}
