//! One pass of the background work, callable from every process at once (there is no
//! leader): reclaim expired leases, enqueue due schedule slots, notify missed and overdue
//! runs, send due email.

use crate::db::Store;
use crate::error::Result;
use crate::notify::{Delivery, Mailer};

/// What one [`Store::sweep`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SweepReport {
    /// Runs queued again after their worker's lease expired.
    pub requeued: Vec<String>,
    /// Runs failed after using up their attempts.
    pub failed: Vec<String>,
    /// Runs the scheduler created.
    pub scheduled: Vec<String>,
    /// Missed and overdue notifications recorded.
    pub notified: usize,
    /// Email delivery (zero without a mailer).
    pub email: Delivery,
}

/// How many emails one sweep sends at most (the rest wait for the next sweep).
const EMAILS_PER_SWEEP: usize = 100;

impl Store {
    /// One sweep. Run it every 10–15 s in every process: with the default 60 s lease a dead
    /// worker's run is then reclaimed within about 75 s. Without a mailer, email stays in
    /// the outbox for a process that has one.
    pub async fn sweep(&self, mailer: Option<&dyn Mailer>) -> Result<SweepReport> {
        let reclaimed = self.reclaim_expired().await?;
        let scheduled = self.tick().await?;
        let notified = self.check_deadlines().await?;
        let email = match mailer {
            Some(mailer) => self.deliver_outbox(mailer, EMAILS_PER_SWEEP).await?,
            None => Delivery::default(),
        };
        Ok(SweepReport {
            requeued: reclaimed.requeued,
            failed: reclaimed.failed,
            scheduled,
            notified,
            email,
        })
    }
}
