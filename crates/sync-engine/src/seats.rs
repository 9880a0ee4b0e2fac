//! Seat usage: which seats of a SaaS application nobody uses, and what they cost.
//!
//! A target that holds seats ([`crate::Target::seats`]) lists them as a [`SeatInventory`]
//! (read-only); [`SeatUsage::classify`] sorts each seat into `active`, `idle` or `never`
//! by the last activity the target holds, prices the idle ones and orders them longest
//! idle first. Unknown activity is never idle (sync-safety S14): a seat without any
//! recorded activity is `never`, and it is not counted in the saving.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The seats of one SaaS application as the target holds them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SeatInventory {
    /// The application's name.
    pub app: String,
    /// False when the target has no application of that name (yet): no seats.
    pub found: bool,
    /// The application's yearly spend and licence count, when the target records them.
    pub spend: Option<AppSpend>,
    /// Every seat.
    pub seats: Vec<Seat>,
}

/// What the target records about an application's cost.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct AppSpend {
    /// Yearly spend on the application, in the tenant's currency.
    pub annual_spend: Option<f64>,
    /// Licences bought.
    pub total_licenses: Option<f64>,
}

impl AppSpend {
    /// `annual_spend / total_licenses`, when both are set, finite and above zero.
    pub fn per_seat(&self) -> Option<f64> {
        let (spend, licenses) = (self.annual_spend?, self.total_licenses?);
        (spend.is_finite() && licenses.is_finite() && spend > 0.0 && licenses > 0.0)
            .then(|| spend / licenses)
    }
}

/// One seat.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Seat {
    /// The person's name (or login), when the target has it.
    pub person: Option<String>,
    /// The person's email.
    pub email: Option<String>,
    /// The seat's role.
    pub role: Option<String>,
    /// The last activity the target holds for the seat.
    pub last_activity: Option<DateTime<Utc>>,
    /// Whether the seat is active (assigned and not deactivated).
    pub active: bool,
}

/// How a seat is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatState {
    /// Last activity within the idle period.
    Active,
    /// Last activity older than the idle period.
    Idle,
    /// No activity recorded.
    Never,
}

/// Seats per state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SeatCounts {
    /// Every seat.
    pub seats: u64,
    /// Used within the idle period.
    pub active: u64,
    /// Not used for longer.
    pub idle: u64,
    /// Never used (as far as the target knows).
    pub never: u64,
}

/// `source` of a price taken from the configuration (`[insights] price_per_seat`).
pub const CONFIG_PRICE: &str = "config";

/// The price of one seat per year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeatPrice {
    /// Per seat and year.
    pub amount: f64,
    /// Where it came from: the target's system name (its application's spend per
    /// licence), or [`CONFIG_PRICE`].
    pub source: String,
}

/// One seat, classified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeatRow {
    /// The person's name or login.
    pub person: Option<String>,
    /// The person's email.
    pub email: Option<String>,
    /// The seat's role.
    pub role: Option<String>,
    /// Last activity (RFC 3339), or null when none is recorded.
    pub last_activity: Option<DateTime<Utc>>,
    /// Whole days since the last activity; null when none is recorded.
    pub idle_days: Option<u64>,
    /// `active`, `idle` or `never`.
    pub state: SeatState,
    /// The seat's own state: `active` or `inactive`.
    pub status: SeatStatus,
}

/// A seat's own state in the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatStatus {
    /// Assigned and active.
    Active,
    /// Deactivated.
    Inactive,
}

/// The seat usage of one application (the `seats --json` contract).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeatUsage {
    /// The application.
    pub app: String,
    /// When the classification was made.
    pub as_of: DateTime<Utc>,
    /// The idle period, in days.
    pub idle_for_days: u64,
    /// Seats per state.
    pub counts: SeatCounts,
    /// The price per seat and year, when known.
    pub price_per_seat: Option<SeatPrice>,
    /// Idle seats × price; null without a price.
    pub estimated_annual_saving: Option<f64>,
    /// Every seat, longest idle first (seats without activity last).
    pub seats: Vec<SeatRow>,
}

impl SeatUsage {
    /// Classifies `inventory` as of `now`: a seat is `idle` when its last activity is more
    /// than `idle_for` ago, `active` when it is more recent, `never` when there is none.
    /// The price is the spend per licence that `target` (its system name) records, else
    /// `config_price`, else none.
    pub fn classify(
        inventory: SeatInventory,
        target: &str,
        idle_for: Duration,
        config_price: Option<f64>,
        now: DateTime<Utc>,
    ) -> SeatUsage {
        let price_per_seat = inventory
            .spend
            .and_then(|s| s.per_seat())
            .map(|amount| SeatPrice {
                amount,
                source: target.to_owned(),
            })
            .or_else(|| {
                config_price
                    .filter(|p| p.is_finite() && *p >= 0.0)
                    .map(|amount| SeatPrice {
                        amount,
                        source: CONFIG_PRICE.to_owned(),
                    })
            });
        let mut counts = SeatCounts::default();
        let mut seats: Vec<SeatRow> = inventory
            .seats
            .into_iter()
            .map(|seat| {
                let since = seat
                    .last_activity
                    .map(|t| now.signed_duration_since(t).to_std().unwrap_or_default());
                let state = match since {
                    None => SeatState::Never,
                    Some(d) if d > idle_for => SeatState::Idle,
                    Some(_) => SeatState::Active,
                };
                counts.seats += 1;
                match state {
                    SeatState::Active => counts.active += 1,
                    SeatState::Idle => counts.idle += 1,
                    SeatState::Never => counts.never += 1,
                }
                SeatRow {
                    person: seat.person,
                    email: seat.email,
                    role: seat.role,
                    last_activity: seat.last_activity,
                    idle_days: since.map(|d| d.as_secs() / 86_400),
                    state,
                    status: if seat.active {
                        SeatStatus::Active
                    } else {
                        SeatStatus::Inactive
                    },
                }
            })
            .collect();
        // Longest idle first; no activity last; then by person and email, for a stable order.
        seats.sort_by(|a, b| {
            b.last_activity
                .is_some()
                .cmp(&a.last_activity.is_some())
                .then(a.last_activity.cmp(&b.last_activity))
                .then_with(|| a.person.cmp(&b.person))
                .then_with(|| a.email.cmp(&b.email))
        });
        let estimated_annual_saving = price_per_seat
            .as_ref()
            .map(|p| p.amount * counts.idle as f64);
        SeatUsage {
            app: inventory.app,
            as_of: now,
            idle_for_days: idle_for.as_secs() / 86_400,
            counts,
            price_per_seat,
            estimated_annual_saving,
            seats,
        }
    }

    /// The idle seats, longest idle first.
    pub fn idle(&self) -> impl Iterator<Item = &SeatRow> {
        self.seats.iter().filter(|s| s.state == SeatState::Idle)
    }

    /// True when no seat has any recorded activity (and there are seats).
    pub fn no_activity(&self) -> bool {
        self.counts.seats > 0 && self.counts.never == self.counts.seats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(name: &str, days_ago: Option<i64>, now: DateTime<Utc>) -> Seat {
        Seat {
            person: Some(name.to_owned()),
            email: Some(format!("{}@example.com", name.to_lowercase())),
            role: Some("Member".to_owned()),
            last_activity: days_ago.map(|d| now - chrono::Duration::days(d)),
            active: true,
        }
    }

    #[test]
    fn classifies_prices_and_orders_the_seats() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let inventory = SeatInventory {
            app: "Wiki".into(),
            found: true,
            spend: Some(AppSpend {
                annual_spend: Some(12_000.0),
                total_licenses: Some(100.0),
            }),
            seats: vec![
                seat("Ada", Some(5), now),
                seat("Bob", None, now),
                seat("Cy", Some(200), now),
                seat("Dee", Some(100), now),
                // Exactly the idle period: still active.
                seat("Eve", Some(90), now),
            ],
        };
        let usage = SeatUsage::classify(
            inventory.clone(),
            "people",
            Duration::from_secs(90 * 86_400),
            None,
            now,
        );
        assert_eq!(
            usage.counts,
            SeatCounts {
                seats: 5,
                active: 2,
                idle: 2,
                never: 1
            }
        );
        let order: Vec<&str> = usage
            .seats
            .iter()
            .map(|s| s.person.as_deref().unwrap())
            .collect();
        assert_eq!(order, ["Cy", "Dee", "Eve", "Ada", "Bob"]);
        assert_eq!(usage.seats[0].idle_days, Some(200));
        assert_eq!(usage.seats[4].idle_days, None);
        assert_eq!(
            usage.price_per_seat,
            Some(SeatPrice {
                amount: 120.0,
                source: "people".into()
            })
        );
        assert_eq!(usage.estimated_annual_saving, Some(240.0));
        let later = SeatUsage::classify(
            inventory,
            "people",
            Duration::from_secs(150 * 86_400),
            None,
            now,
        );
        assert_eq!(later.counts.idle, 1, "Dee (100 days) is active at 150 days");
    }

    #[test]
    fn price_falls_back_to_the_configuration_then_to_none() {
        let now = Utc::now();
        let mut inventory = SeatInventory {
            app: "Wiki".into(),
            found: true,
            spend: Some(AppSpend {
                annual_spend: Some(500.0),
                total_licenses: Some(0.0),
            }),
            seats: vec![seat("Cy", Some(200), now)],
        };
        let idle_for = Duration::from_secs(90 * 86_400);
        let usage = SeatUsage::classify(inventory.clone(), "people", idle_for, Some(96.0), now);
        assert_eq!(
            usage.price_per_seat.map(|p| (p.amount, p.source)),
            Some((96.0, CONFIG_PRICE.to_owned()))
        );
        assert_eq!(usage.estimated_annual_saving, Some(96.0));
        inventory.spend = None;
        let usage = SeatUsage::classify(inventory, "people", idle_for, None, now);
        assert_eq!(usage.price_per_seat, None);
        assert_eq!(usage.estimated_annual_saving, None, "null, not zero");
    }

    #[test]
    fn seats_without_activity_are_never_idle() {
        let now = Utc::now();
        let inventory = SeatInventory {
            app: "Wiki".into(),
            found: true,
            spend: None,
            seats: vec![seat("Ada", None, now), seat("Bob", None, now)],
        };
        let usage = SeatUsage::classify(
            inventory,
            "people",
            Duration::from_secs(86_400),
            Some(10.0),
            now,
        );
        assert!(usage.no_activity());
        assert_eq!(usage.counts.idle, 0);
        assert_eq!(usage.estimated_annual_saving, Some(0.0));
    }
}
