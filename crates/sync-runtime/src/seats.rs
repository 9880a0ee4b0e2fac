//! `seats`: the seat usage of an integration's SaaS application, read from the target
//! (read-only), classified by [`SeatUsage::classify`], and shown as a terminal view, JSON
//! or CSV. Vendor-neutral: any target that keeps seats ([`sync_engine::Target::seats`])
//! works, so every binary has the same command.

use std::fmt::Write as _;
use std::time::Duration;

use sync_engine::Progress;
use sync_engine::seats::{CONFIG_PRICE, SeatRow, SeatState, SeatUsage};

use crate::integration::{Connectors, Integration, RuntimeError};

/// The default idle period: 90 days.
pub const DEFAULT_IDLE_FOR: Duration = Duration::from_secs(90 * 86_400);

/// A seat usage report and what its views need to explain it.
#[derive(Debug, Clone)]
pub struct SeatsReport {
    /// The classification (the `--json` contract).
    pub usage: SeatUsage,
    /// The target's name for people, e.g. `Oomnitza`.
    pub target: String,
    /// False when the target has no application of that name yet.
    pub app_found: bool,
    /// Whether `[insights] price_per_seat` was set (for explaining a missing price).
    pub config_price: bool,
}

impl Integration {
    /// Reads the seats of the integration's application from the target (no write, no
    /// source request) and classifies them with `idle_for`, pricing them from the target's
    /// application or `price_per_seat`.
    pub async fn seats(
        &self,
        idle_for: Duration,
        price_per_seat: Option<f64>,
        progress: &dyn Progress,
    ) -> Result<SeatsReport, RuntimeError> {
        let Connectors { target, .. } = self.open()?;
        let inventory = target.seats(progress).await?.ok_or_else(|| {
            RuntimeError::Usage(format!(
                "{} keeps no seats of a SaaS application, so there is no seat usage to show",
                target.display_name()
            ))
        })?;
        let app_found = inventory.found;
        let usage = SeatUsage::classify(
            inventory,
            target.system(),
            idle_for,
            price_per_seat,
            chrono::Utc::now(),
        );
        tracing::info!(
            integration = %self.name(),
            app = %usage.app,
            seats = usage.counts.seats,
            idle = usage.counts.idle,
            never = usage.counts.never,
            "seat usage read"
        );
        Ok(SeatsReport {
            usage,
            target: target.display_name().to_owned(),
            app_found,
            config_price: price_per_seat.is_some(),
        })
    }
}

impl SeatsReport {
    /// The terminal view: one line per state with counts and shares, the price and where
    /// it came from, the estimated saving, then up to `limit` idle seats, longest idle
    /// first. `no_activity_hint` explains a tenant where no seat has any activity (how the
    /// source records activity).
    pub fn render_terminal(&self, limit: Option<usize>, no_activity_hint: &str) -> String {
        let u = &self.usage;
        let mut out = String::new();
        if !self.app_found {
            let _ = writeln!(
                out,
                "{} has no SaaS application named {:?} yet: a run in mode \"users_and_saas\" \
                 creates it and its seats.",
                self.target, u.app
            );
            return out;
        }
        let _ = writeln!(
            out,
            "Seat usage of {} as of {} (idle: no activity for more than {} days)",
            u.app,
            u.as_of.format("%Y-%m-%d %H:%M UTC"),
            u.idle_for_days
        );
        let total = u.counts.seats;
        for (label, n) in [
            ("active", u.counts.active),
            ("idle", u.counts.idle),
            ("never", u.counts.never),
        ] {
            let _ = writeln!(out, "  {label:<7}{n:>8}  {:>5.1}%", share(n, total));
        }
        let _ = writeln!(out, "  {:<7}{total:>8}", "seats");
        out.push_str(&self.price_lines());
        if u.no_activity() {
            let _ = writeln!(
                out,
                "No seat has any recorded activity, so none can be called idle. {no_activity_hint}"
            );
            return out;
        }
        let idle: Vec<&SeatRow> = u.idle().collect();
        if idle.is_empty() {
            let _ = writeln!(out, "No idle seats.");
            return out;
        }
        let shown = limit.unwrap_or(usize::MAX).min(idle.len());
        let _ = writeln!(out, "Idle seats ({}), longest idle first:", idle.len());
        let rows: Vec<[String; 5]> = idle[..shown]
            .iter()
            .map(|s| {
                [
                    s.person.clone().unwrap_or_default(),
                    s.email.clone().unwrap_or_default(),
                    s.role.clone().unwrap_or_default(),
                    s.last_activity
                        .map(|t| t.format("%Y-%m-%d").to_string())
                        .unwrap_or_default(),
                    s.idle_days.map(|d| d.to_string()).unwrap_or_default(),
                ]
            })
            .collect();
        let header = ["person", "email", "role", "last activity", "days idle"];
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].chars().count())
                    .chain([header[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in std::iter::once(header.map(str::to_owned)).chain(rows) {
            let mut line = String::from(" ");
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    let _ = write!(line, " {cell:>w$}", w = widths[i]);
                } else {
                    let _ = write!(line, " {cell:<w$}", w = widths[i]);
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        if shown < idle.len() {
            let _ = writeln!(out, "  ... and {} more (--limit)", idle.len() - shown);
        }
        out
    }

    /// The price and saving lines of the terminal view.
    fn price_lines(&self) -> String {
        let u = &self.usage;
        match &u.price_per_seat {
            Some(price) => {
                let source = if price.source == CONFIG_PRICE {
                    "[insights] price_per_seat".to_owned()
                } else {
                    format!(
                        "{}: annual_spend / total_licenses of {}",
                        self.target, u.app
                    )
                };
                format!(
                    "Price per seat: {} a year ({source})\nEstimated annual saving: {} ({} idle \
                     seats x {})\n",
                    money(price.amount),
                    money(u.estimated_annual_saving.unwrap_or_default()),
                    u.counts.idle,
                    money(price.amount)
                )
            }
            None => format!(
                "Price per seat: unknown ({}'s application {} has no annual_spend and \
                 total_licenses{}), so no saving is estimated\n",
                self.target,
                u.app,
                if self.config_price {
                    ""
                } else {
                    ", and [insights] price_per_seat is not set"
                }
            ),
        }
    }

    /// The seats as CSV with a header row: person, email, role, last_activity (RFC 3339),
    /// idle_days, state, status.
    pub fn render_csv(&self) -> Result<String, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "person",
            "email",
            "role",
            "last_activity",
            "idle_days",
            "state",
            "status",
        ])?;
        for s in &self.usage.seats {
            w.write_record([
                s.person.clone().unwrap_or_default(),
                s.email.clone().unwrap_or_default(),
                s.role.clone().unwrap_or_default(),
                s.last_activity.map(|t| t.to_rfc3339()).unwrap_or_default(),
                s.idle_days.map(|d| d.to_string()).unwrap_or_default(),
                state_name(s.state).to_owned(),
                if s.status == sync_engine::seats::SeatStatus::Active {
                    "active"
                } else {
                    "inactive"
                }
                .to_owned(),
            ])?;
        }
        let bytes = w.into_inner().map_err(csv::IntoInnerError::into_error)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

fn state_name(state: SeatState) -> &'static str {
    match state {
        SeatState::Active => "active",
        SeatState::Idle => "idle",
        SeatState::Never => "never",
    }
}

fn share(n: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        n as f64 * 100.0 / total as f64
    }
}

/// `1560` → `1,560.00`.
fn money(amount: f64) -> String {
    let cents = (amount * 100.0).round() as i128;
    let (whole, frac) = (cents / 100, (cents % 100).abs());
    let digits = whole.abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{grouped}.{frac:02}")
}

#[cfg(test)]
mod tests {
    use super::money;

    #[test]
    fn money_groups_thousands() {
        assert_eq!(money(0.0), "0.00");
        assert_eq!(money(120.0), "120.00");
        assert_eq!(money(1560.0), "1,560.00");
        assert_eq!(money(1_234_567.891), "1,234,567.89");
    }
}
