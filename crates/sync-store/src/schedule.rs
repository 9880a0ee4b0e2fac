//! Schedules: every N days (or every N hours) at a time of day in an IANA time zone, and
//! the tick that turns due slots into runs exactly once across processes.
//!
//! Slots are civil times: "every day at 02:30 Europe/Berlin" steps by calendar days, not by
//! 24 hours, and each civil time is placed with jiff's `compatible` rule. A time that does
//! not exist (the spring change) runs after the gap, at 03:30; a time that exists twice
//! (the autumn change) runs once, at the first.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan as _};
use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use crate::db::{Store, new_id};
use crate::error::{Result, StoreError};
use crate::model::{Trigger, ms, ts};

/// How often a schedule fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Every {
    /// Every N calendar days (1 = daily), at the schedule's time of day.
    Days(u32),
    /// Every N hours of the civil day starting at the time of day; N divides 24.
    Hours(u32),
}

/// A schedule: when an integration's runs are due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    /// The interval.
    pub every: Every,
    /// Time of day, minutes after midnight (0..1440).
    pub at_minute: u16,
    /// IANA time zone name, e.g. `Europe/Berlin`.
    pub time_zone: String,
}

impl Default for ScheduleSpec {
    /// Once a day at 00:00 UTC (Oomnitza's default is a daily sync).
    fn default() -> Self {
        Self {
            every: Every::Days(1),
            at_minute: 0,
            time_zone: "UTC".to_owned(),
        }
    }
}

/// How far slot searches look (a schedule fires at least every 366 days).
const SEARCH_DAYS: i64 = 400;

impl ScheduleSpec {
    /// Every `every` at `hour:minute` in `time_zone`, checked.
    pub fn new(every: Every, hour: u8, minute: u8, time_zone: &str) -> Result<Self> {
        let spec = Self {
            every,
            at_minute: u16::from(hour) * 60 + u16::from(minute),
            time_zone: time_zone.to_owned(),
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks the interval, the time of day and the time zone name.
    pub fn validate(&self) -> Result<()> {
        match self.every {
            Every::Days(n) if !(1..=366).contains(&n) => {
                return Err(StoreError::invalid(
                    "schedule",
                    "every N days needs 1 <= N <= 366",
                ));
            }
            Every::Hours(n) if n == 0 || 24 % n != 0 => {
                return Err(StoreError::invalid(
                    "schedule",
                    "every N hours needs N to divide 24 (1, 2, 3, 4, 6, 8, 12)",
                ));
            }
            _ => {}
        }
        if self.at_minute >= 1440 {
            return Err(StoreError::invalid(
                "schedule",
                "time of day must be before 24:00",
            ));
        }
        self.tz().map(drop)
    }

    fn tz(&self) -> Result<TimeZone> {
        TimeZone::get(&self.time_zone).map_err(|_| {
            StoreError::invalid(
                "schedule",
                format!("unknown time zone `{}`", self.time_zone.escape_debug()),
            )
        })
    }

    /// The times of day the schedule fires on a day it fires, in order.
    fn times(&self) -> Vec<Time> {
        let start = i32::from(self.at_minute);
        let step = match self.every {
            Every::Days(_) => 1440,
            Every::Hours(n) => i32::try_from(n).unwrap_or(24) * 60,
        };
        let mut minutes: Vec<i32> = (0..1440 / step)
            .map(|k| (start + k * step) % 1440)
            .collect();
        minutes.sort_unstable();
        minutes
            .into_iter()
            .map(|m| Time::constant((m / 60) as i8, (m % 60) as i8, 0, 0))
            .collect()
    }

    fn fires_on(&self, anchor: Date, day: Date) -> bool {
        match self.every {
            Every::Hours(_) | Every::Days(1) => true,
            Every::Days(n) => anchor
                .until(day)
                .is_ok_and(|span| i64::from(span.get_days()).rem_euclid(i64::from(n)) == 0),
        }
    }

    /// The first slot strictly after `after`. `anchor` is the civil day counting starts
    /// from for "every N days" (the day the schedule was set).
    pub fn next_after(&self, anchor: Date, after: Timestamp) -> Result<Timestamp> {
        let tz = self.tz()?;
        let times = self.times();
        let start = after
            .to_zoned(tz.clone())
            .date()
            .yesterday()
            .map_err(bad_date)?;
        for offset in 0..SEARCH_DAYS {
            let day = start.checked_add(offset.days()).map_err(bad_date)?;
            if !self.fires_on(anchor, day) {
                continue;
            }
            for time in &times {
                let slot = day
                    .to_datetime(*time)
                    .to_zoned(tz.clone())
                    .map_err(bad_date)?;
                if slot.timestamp() > after {
                    return Ok(slot.timestamp());
                }
            }
        }
        Err(StoreError::invalid("schedule", "no slot within 400 days"))
    }

    /// The latest slot at or before `at`, if one is within the search window.
    pub fn latest_at_or_before(&self, anchor: Date, at: Timestamp) -> Result<Option<Timestamp>> {
        let tz = self.tz()?;
        let times = self.times();
        let start = at
            .to_zoned(tz.clone())
            .date()
            .tomorrow()
            .map_err(bad_date)?;
        for offset in 0..SEARCH_DAYS {
            let day = start.checked_sub(offset.days()).map_err(bad_date)?;
            if !self.fires_on(anchor, day) {
                continue;
            }
            for time in times.iter().rev() {
                let slot = day
                    .to_datetime(*time)
                    .to_zoned(tz.clone())
                    .map_err(bad_date)?;
                if slot.timestamp() <= at {
                    return Ok(Some(slot.timestamp()));
                }
            }
        }
        Ok(None)
    }

    /// The civil date of `at` in this schedule's zone (the anchor of a new schedule).
    pub fn date_of(&self, at: Timestamp) -> Result<Date> {
        Ok(at.to_zoned(self.tz()?).date())
    }
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(bad_date)`
fn bad_date(e: jiff::Error) -> StoreError {
    StoreError::invalid("schedule", e.to_string())
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Schedule {
    /// The integration.
    pub integration_id: String,
    /// When it fires.
    pub spec: ScheduleSpec,
    /// The civil day "every N days" counts from.
    pub anchor_date: Date,
    /// The next slot; `None` while the integration is not launched.
    pub next_run_at: Option<Timestamp>,
}

impl Store {
    /// Sets the schedule of an integration of `owner_id`; recomputes its next slot from now
    /// when the integration is launched. Changing the interval or the time moves the next
    /// run at once.
    pub async fn set_schedule(
        &self,
        owner_id: &str,
        integration_id: &str,
        spec: &ScheduleSpec,
    ) -> Result<Schedule> {
        spec.validate()?;
        let integration = self.integration(owner_id, integration_id).await?;
        let now = self.inner.clock.now();
        let anchor = spec.date_of(now)?;
        let next = if integration.status == crate::IntegrationStatus::Launched {
            Some(spec.next_after(anchor, now)?)
        } else {
            None
        };
        self.write_schedule(integration_id, spec, anchor, next)
            .await?;
        self.schedule(integration_id).await
    }

    pub(crate) async fn write_schedule(
        &self,
        integration_id: &str,
        spec: &ScheduleSpec,
        anchor: Date,
        next: Option<Timestamp>,
    ) -> Result<()> {
        let (unit, n) = match spec.every {
            Every::Days(n) => ("days", n),
            Every::Hours(n) => ("hours", n),
        };
        sqlx::query(
            "INSERT INTO schedules (integration_id, every_unit, every_n, at_minute, time_zone, \
               anchor_date, next_run_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (integration_id) DO UPDATE SET every_unit = excluded.every_unit, \
               every_n = excluded.every_n, at_minute = excluded.at_minute, \
               time_zone = excluded.time_zone, anchor_date = excluded.anchor_date, \
               next_run_at = excluded.next_run_at, updated_at = excluded.updated_at",
        )
        .bind(integration_id)
        .bind(unit)
        .bind(i64::from(n))
        .bind(i64::from(spec.at_minute))
        .bind(&spec.time_zone)
        .bind(anchor.to_string())
        .bind(next.map(ms))
        .bind(self.now_ms())
        .execute(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// The schedule of an integration.
    pub async fn schedule(&self, integration_id: &str) -> Result<Schedule> {
        let row = sqlx::query(
            "SELECT integration_id, every_unit, every_n, at_minute, time_zone, anchor_date, \
               next_run_at FROM schedules WHERE integration_id = $1",
        )
        .bind(integration_id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.db(e))?
        .ok_or_else(|| StoreError::not_found("schedule", integration_id))?;
        self.schedule_row(&row)
    }

    fn schedule_row(&self, row: &sqlx::any::AnyRow) -> Result<Schedule> {
        let get = |c: &str| -> Result<i64> { row.try_get::<i64, _>(c).map_err(|e| self.db(e)) };
        let id: String = row.try_get("integration_id").map_err(|e| self.db(e))?;
        let unit: String = row.try_get("every_unit").map_err(|e| self.db(e))?;
        let n =
            u32::try_from(get("every_n")?).map_err(|e| StoreError::corrupt("schedule", &id, e))?;
        let every = match unit.as_str() {
            "days" => Every::Days(n),
            "hours" => Every::Hours(n),
            other => return Err(StoreError::corrupt("schedule", &id, other)),
        };
        let anchor: String = row.try_get("anchor_date").map_err(|e| self.db(e))?;
        let next: Option<i64> = row.try_get("next_run_at").map_err(|e| self.db(e))?;
        Ok(Schedule {
            spec: ScheduleSpec {
                every,
                at_minute: u16::try_from(get("at_minute")?)
                    .map_err(|e| StoreError::corrupt("schedule", &id, e))?,
                time_zone: row.try_get("time_zone").map_err(|e| self.db(e))?,
            },
            anchor_date: anchor
                .parse()
                .map_err(|e| StoreError::corrupt("schedule", &id, e))?,
            next_run_at: next.map(ts),
            integration_id: id,
        })
    }

    /// One scheduler pass, safe to run in every process at once: for each launched
    /// integration whose next slot is due, advances `next_run_at` by compare-and-set and
    /// inserts the run for the latest due slot in the same transaction (missed slots
    /// collapse into that one run). The unique `(integration_id, scheduled_for)` and the
    /// one-queued-or-running index make a second insert a no-op. Returns the ids of the
    /// runs this pass created.
    pub async fn tick(&self) -> Result<Vec<String>> {
        let now = self.inner.clock.now();
        let rows = sqlx::query(
            "SELECT s.integration_id, s.every_unit, s.every_n, s.at_minute, s.time_zone, \
               s.anchor_date, s.next_run_at FROM schedules s \
             JOIN integrations i ON i.id = s.integration_id \
             WHERE i.status = 'launched' AND s.next_run_at IS NOT NULL AND s.next_run_at <= $1 \
             ORDER BY s.next_run_at",
        )
        .bind(ms(now))
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        let mut created = Vec::new();
        for row in rows {
            let schedule = self.schedule_row(&row)?;
            let Some(due) = schedule.next_run_at else {
                continue;
            };
            let slot = schedule
                .spec
                .latest_at_or_before(schedule.anchor_date, now)?
                .filter(|s| *s >= due)
                .unwrap_or(due);
            let next = schedule.spec.next_after(schedule.anchor_date, now)?;
            let mut tx = self.begin_write().await?;
            let moved = sqlx::query(
                "UPDATE schedules SET next_run_at = $1 \
                 WHERE integration_id = $2 AND next_run_at = $3",
            )
            .bind(ms(next))
            .bind(&schedule.integration_id)
            .bind(ms(due))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
            if moved.rows_affected() != 1 {
                // Another process took this slot first.
                continue;
            }
            let id = new_id();
            let inserted = sqlx::query(
                "INSERT INTO runs (id, integration_id, state, run_trigger, scheduled_for, created_at) \
                 VALUES ($1, $2, 'queued', $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(&id)
            .bind(&schedule.integration_id)
            .bind(Trigger::Schedule.as_str())
            .bind(ms(slot))
            .bind(ms(now))
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
            tx.commit().await.map_err(|e| self.db(e))?;
            if inserted.is_some() {
                created.push(id);
            } else {
                tracing::info!(
                    integration = %schedule.integration_id,
                    slot = %slot,
                    "scheduled slot skipped: a run of this integration is already queued or running"
                );
            }
        }
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn d(s: &str) -> Date {
        s.parse().expect("date")
    }

    #[test]
    fn hours_must_divide_the_day_and_zones_must_exist() {
        assert!(ScheduleSpec::new(Every::Hours(5), 0, 0, "UTC").is_err());
        assert!(ScheduleSpec::new(Every::Hours(6), 0, 0, "UTC").is_ok());
        let e = ScheduleSpec::new(Every::Days(1), 0, 0, "Mars/Olympus").expect_err("bad zone");
        assert!(
            e.to_string().contains("unknown time zone `Mars/Olympus`"),
            "{e}"
        );
        assert!(ScheduleSpec::new(Every::Days(0), 0, 0, "UTC").is_err());
        assert!(ScheduleSpec::new(Every::Days(1), 24, 0, "UTC").is_err());
    }

    #[test]
    fn every_six_hours_and_every_three_days() {
        let spec = ScheduleSpec::new(Every::Hours(6), 1, 15, "UTC").expect("spec");
        let a = d("2026-01-01");
        assert_eq!(
            spec.next_after(a, t("2026-01-01T01:15:00Z")).expect("next"),
            t("2026-01-01T07:15:00Z")
        );
        assert_eq!(
            spec.next_after(a, t("2026-01-01T20:00:00Z")).expect("next"),
            t("2026-01-02T01:15:00Z")
        );
        let spec = ScheduleSpec::new(Every::Days(3), 9, 0, "UTC").expect("spec");
        assert_eq!(
            spec.next_after(a, t("2026-01-01T10:00:00Z")).expect("next"),
            t("2026-01-04T09:00:00Z")
        );
        assert_eq!(
            spec.latest_at_or_before(a, t("2026-01-06T10:00:00Z"))
                .expect("latest"),
            Some(t("2026-01-04T09:00:00Z"))
        );
    }
}
