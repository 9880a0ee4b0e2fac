//! Notifications to an integration's contacts: stored in-app (listable per owner,
//! mark-read) and emailed through an outbox, for a failed run, a run not finished long
//! after it started, and a scheduled run that did not start in time. Each event has a
//! unique dedupe key, so every process may look for events and each is notified once.

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::Row as _;

use crate::db::{Store, ms_of, new_id};
use crate::error::{Result, StoreError};
use crate::model::{Notification, NotificationKind, ts};

/// Something to notify about.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) kind: NotificationKind,
    pub(crate) integration_id: String,
    pub(crate) run_id: String,
    pub(crate) detail: String,
}

/// An email to send.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Email {
    /// One recipient.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// Why an email was not sent.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct MailError {
    /// True when retrying cannot help (the server refused the recipient or the message).
    pub permanent: bool,
    /// What happened (never a password).
    pub message: String,
}

/// Sends email (SMTP in production: [`SmtpMailer`](crate::SmtpMailer)).
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one email.
    async fn send(&self, email: &Email) -> Result<(), MailError>;
}

/// What one outbox pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Emails sent.
    pub sent: usize,
    /// Emails that failed and will be retried.
    pub retrying: usize,
    /// Emails the server refused for good.
    pub abandoned: usize,
}

/// One outbox row, as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxEntry {
    /// Id.
    pub id: String,
    /// The notification it belongs to.
    pub notification_id: String,
    /// Recipient.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Sending attempts so far.
    pub attempts: i64,
    /// When the next attempt is due (`None`: sent or abandoned).
    pub next_attempt_at: Option<Timestamp>,
    /// When it was sent.
    pub sent_at: Option<Timestamp>,
    /// The last failure.
    pub last_error: Option<String>,
}

/// How long a process holds an outbox row it is sending before another may try it.
const SENDING_HOLD_MS: i64 = 5 * 60 * 1000;

impl Store {
    /// Records the notification of `event` inside `tx` with one outbox email per contact,
    /// unless it was recorded before. True when this call recorded it.
    pub(crate) async fn notify_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        event: &Event,
    ) -> Result<bool> {
        let row = sqlx::query("SELECT owner_id, name, contacts FROM integrations WHERE id = $1")
            .bind(&event.integration_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| self.db(e))?;
        let Some(row) = row else { return Ok(false) };
        let owner_id: String = row.try_get("owner_id").map_err(|e| self.db(e))?;
        let name: String = row.try_get("name").map_err(|e| self.db(e))?;
        let contacts: String = row.try_get("contacts").map_err(|e| self.db(e))?;
        let contacts: Vec<String> = serde_json::from_str(&contacts)
            .map_err(|e| StoreError::corrupt("contacts", &event.integration_id, e))?;
        let (subject, lead) = match event.kind {
            NotificationKind::RunFailed => (
                format!("Integration \"{name}\": a run failed"),
                "A run failed.",
            ),
            NotificationKind::RunOverdue => (
                format!("Integration \"{name}\": a run has not finished"),
                "A run started a long time ago and has not finished.",
            ),
            NotificationKind::RunMissed => (
                format!("Integration \"{name}\": a scheduled run did not start"),
                "A scheduled run did not start within its grace period (workers busy, or the local agent offline).",
            ),
        };
        let body = format!(
            "{lead}\n\nIntegration: {name} ({})\nRun: {}\n\n{}\n",
            event.integration_id, event.run_id, event.detail
        );
        let dedupe = format!("{}:{}", event.kind.as_str(), event.run_id);
        let id = new_id();
        let now = self.now_ms();
        let inserted = sqlx::query(
            "INSERT INTO notifications (id, owner_id, integration_id, run_id, kind, dedupe_key, \
               subject, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&id)
        .bind(&owner_id)
        .bind(&event.integration_id)
        .bind(&event.run_id)
        .bind(event.kind.as_str())
        .bind(&dedupe)
        .bind(&subject)
        .bind(&body)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| self.db(e))?;
        if inserted.is_none() {
            return Ok(false);
        }
        for to in contacts {
            sqlx::query(
                "INSERT INTO email_outbox (id, notification_id, dedupe_key, recipient, subject, \
                   body, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(new_id())
            .bind(&id)
            .bind(format!("{dedupe}:{to}"))
            .bind(&to)
            .bind(&subject)
            .bind(&body)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(|e| self.db(e))?;
        }
        tracing::info!(kind = %event.kind, run = %event.run_id, "notification recorded");
        Ok(true)
    }

    /// The notifications of `owner_id`, newest first (`unread_only`: not marked read).
    pub async fn notifications(
        &self,
        owner_id: &str,
        unread_only: bool,
    ) -> Result<Vec<Notification>> {
        let rows = sqlx::query(
            "SELECT id, owner_id, integration_id, run_id, kind, subject, body, created_at, read_at \
             FROM notifications WHERE owner_id = $1 AND ($2 = 0 OR read_at IS NULL) \
             ORDER BY created_at DESC, id DESC",
        )
        .bind(owner_id)
        .bind(i64::from(unread_only))
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        rows.iter()
            .map(|r| {
                let get = |c: &str| -> Result<String> { r.try_get(c).map_err(|e| self.db(e)) };
                Ok(Notification {
                    id: get("id")?,
                    owner_id: get("owner_id")?,
                    integration_id: r.try_get("integration_id").map_err(|e| self.db(e))?,
                    run_id: r.try_get("run_id").map_err(|e| self.db(e))?,
                    kind: NotificationKind::parse(&get("kind")?)?,
                    subject: get("subject")?,
                    body: get("body")?,
                    created_at: ts(r.try_get("created_at").map_err(|e| self.db(e))?),
                    read_at: r
                        .try_get::<Option<i64>, _>("read_at")
                        .map_err(|e| self.db(e))?
                        .map(ts),
                })
            })
            .collect()
    }

    /// Marks a notification of `owner_id` read (again is fine); another owner's is "not
    /// found".
    pub async fn mark_read(&self, owner_id: &str, notification_id: &str) -> Result<()> {
        let done = sqlx::query(
            "UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND owner_id = $3",
        )
        .bind(self.now_ms())
        .bind(notification_id)
        .bind(owner_id)
        .execute(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("notification", notification_id));
        }
        Ok(())
    }

    /// Looks for scheduled runs still queued past the grace period and runs still running
    /// past the overdue limit, and notifies each once. Returns how many it notified.
    pub async fn check_deadlines(&self) -> Result<usize> {
        let now = self.now_ms();
        let missed_before = now.saturating_sub(ms_of(self.inner.options.missed_grace));
        let overdue_before = now.saturating_sub(ms_of(self.inner.options.overdue_after));
        let rows = sqlx::query(
            "SELECT r.id, r.integration_id, r.scheduled_for, r.started_at, r.state FROM runs r \
             WHERE ((r.state = 'queued' AND r.run_trigger = 'schedule' AND r.scheduled_for <= $1 \
                     AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.dedupe_key = 'run_missed:' || r.id)) \
                 OR (r.state = 'running' AND r.started_at <= $2 \
                     AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.dedupe_key = 'run_overdue:' || r.id)))",
        )
        .bind(missed_before)
        .bind(overdue_before)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        let mut notified = 0;
        for row in rows {
            let state: String = row.try_get("state").map_err(|e| self.db(e))?;
            let run_id: String = row.try_get("id").map_err(|e| self.db(e))?;
            let event = if state == "queued" {
                let slot: Option<i64> = row.try_get("scheduled_for").map_err(|e| self.db(e))?;
                Event {
                    kind: NotificationKind::RunMissed,
                    integration_id: row.try_get("integration_id").map_err(|e| self.db(e))?,
                    run_id,
                    detail: format!(
                        "It was due at {} and is still waiting for a worker.",
                        ts(slot.unwrap_or(now))
                    ),
                }
            } else {
                let started: Option<i64> = row.try_get("started_at").map_err(|e| self.db(e))?;
                Event {
                    kind: NotificationKind::RunOverdue,
                    integration_id: row.try_get("integration_id").map_err(|e| self.db(e))?,
                    run_id,
                    detail: format!(
                        "It started at {} and is still running.",
                        ts(started.unwrap_or(now))
                    ),
                }
            };
            let mut tx = self.begin_write().await?;
            let recorded = self.notify_in(&mut tx, &event).await?;
            tx.commit().await.map_err(|e| self.db(e))?;
            notified += usize::from(recorded);
        }
        Ok(notified)
    }

    /// Sends due outbox emails with `mailer`, at most `max` of them. A row being sent is
    /// held for a few minutes so other processes skip it; a failure schedules a retry
    /// (doubling from [`StoreOptions::email_retry`](crate::StoreOptions::email_retry)) or,
    /// when the server refused it for good, gives up on it. The in-app notification stays
    /// either way.
    pub async fn deliver_outbox(&self, mailer: &dyn Mailer, max: usize) -> Result<Delivery> {
        let mut out = Delivery::default();
        for _ in 0..max {
            let now = self.now_ms();
            let row = sqlx::query(&format!(
                "UPDATE email_outbox SET attempts = attempts + 1, next_attempt_at = $1 \
                 WHERE sent_at IS NULL AND id = (\
                   SELECT id FROM email_outbox WHERE sent_at IS NULL AND next_attempt_at IS NOT NULL \
                   AND next_attempt_at <= $2 ORDER BY next_attempt_at, id LIMIT 1 {}) \
                 RETURNING id, recipient, subject, body, attempts",
                self.skip_locked()
            ))
            .bind(now.saturating_add(SENDING_HOLD_MS))
            .bind(now)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| self.db(e))?;
            let Some(row) = row else { break };
            let get = |c: &str| -> Result<String> { row.try_get(c).map_err(|e| self.db(e)) };
            let id = get("id")?;
            let attempts: i64 = row.try_get("attempts").map_err(|e| self.db(e))?;
            let email = Email {
                to: get("recipient")?,
                subject: get("subject")?,
                body: get("body")?,
            };
            match mailer.send(&email).await {
                Ok(()) => {
                    sqlx::query(
                        "UPDATE email_outbox SET sent_at = $1, next_attempt_at = NULL, last_error = NULL \
                         WHERE id = $2",
                    )
                    .bind(self.now_ms())
                    .bind(&id)
                    .execute(self.pool())
                    .await
                    .map_err(|e| self.db(e))?;
                    out.sent += 1;
                }
                Err(e) => {
                    let next = if e.permanent {
                        out.abandoned += 1;
                        None
                    } else {
                        out.retrying += 1;
                        let base = ms_of(self.inner.options.email_retry);
                        let cap = ms_of(self.inner.options.email_retry_max);
                        let shift = u32::try_from((attempts - 1).clamp(0, 20)).unwrap_or(20);
                        let wait = base.saturating_mul(1_i64 << shift).min(cap);
                        Some(self.now_ms().saturating_add(wait))
                    };
                    tracing::warn!(outbox = %id, attempts, permanent = e.permanent, error = %e.message, "notification email not sent");
                    sqlx::query(
                        "UPDATE email_outbox SET next_attempt_at = $1, last_error = $2 WHERE id = $3",
                    )
                    .bind(next)
                    .bind(&e.message)
                    .bind(&id)
                    .execute(self.pool())
                    .await
                    .map_err(|e| self.db(e))?;
                }
            }
        }
        Ok(out)
    }

    /// The outbox, oldest first (for operators and tests).
    pub async fn outbox(&self) -> Result<Vec<OutboxEntry>> {
        let rows = sqlx::query(
            "SELECT id, notification_id, recipient, subject, attempts, next_attempt_at, sent_at, \
               last_error FROM email_outbox ORDER BY created_at, id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        rows.iter()
            .map(|r| {
                Ok(OutboxEntry {
                    id: r.try_get("id")?,
                    notification_id: r.try_get("notification_id")?,
                    recipient: r.try_get("recipient")?,
                    subject: r.try_get("subject")?,
                    attempts: r.try_get("attempts")?,
                    next_attempt_at: r.try_get::<Option<i64>, _>("next_attempt_at")?.map(ts),
                    sent_at: r.try_get::<Option<i64>, _>("sent_at")?.map(ts),
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(|e| self.db(e))
    }
}
