//! The rows the store keeps, as the rest of the service sees them.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vm])* $variant),+
        }

        impl $name {
            /// The stored (and serialized) text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub(crate) fn parse(text: &str) -> Result<Self> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => Err(StoreError::corrupt(stringify!($name), other, "unknown value")),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// Where an integration is in its life.
    IntegrationStatus {
        /// Being set up; never runs.
        Draft = "draft",
        /// Runs on its schedule and on RUN NOW.
        Launched = "launched",
        /// Kept, but neither scheduled nor started.
        Paused = "paused",
    }
}

text_enum! {
    /// Who runs an integration and holds its credentials.
    Installation {
        /// The cloud service runs it with credentials from its database.
        Cloud = "cloud",
        /// A local agent on the customer's machine claims its runs and keeps the secrets.
        Local = "local",
    }
}

text_enum! {
    /// The state of a run.
    RunState {
        /// Waiting for a worker.
        Queued = "queued",
        /// Leased by a worker.
        Running = "running",
        /// Finished: everything planned was done.
        Succeeded = "succeeded",
        /// Finished with record errors, an incomplete read or held deactivations.
        Partial = "partial",
        /// A fatal error stopped it, or its worker died too often.
        Failed = "failed",
        /// Stopped early at a batch boundary (SIGINT/SIGTERM of the worker).
        Interrupted = "interrupted",
    }
}

impl RunState {
    /// True for the states a run never leaves.
    pub fn is_finished(self) -> bool {
        !matches!(self, RunState::Queued | RunState::Running)
    }

    /// The run state a finished session report stands for.
    pub fn of_session(status: sync_engine::SessionStatus) -> Self {
        use sync_engine::SessionStatus as S;
        match status {
            S::Succeeded => RunState::Succeeded,
            S::SucceededWithErrors | S::Held => RunState::Partial,
            S::Failed => RunState::Failed,
            S::Interrupted => RunState::Interrupted,
        }
    }
}

text_enum! {
    /// Why a run exists.
    Trigger {
        /// A schedule slot came due.
        Schedule = "schedule",
        /// Someone pressed RUN NOW.
        Manual = "manual",
    }
}

text_enum! {
    /// The format of an integration's settings text.
    SettingsFormat {
        /// JSON (the API's form of the configuration file).
        Json = "json",
        /// TOML (the configuration file itself).
        Toml = "toml",
    }
}

text_enum! {
    /// What a notification is about.
    NotificationKind {
        /// A run failed.
        RunFailed = "run_failed",
        /// A run has not finished long after it started (24 hours by default).
        RunOverdue = "run_overdue",
        /// A scheduled run did not start within the grace period (a busy queue, or a local
        /// agent that is offline).
        RunMissed = "run_missed",
    }
}

/// An owner: a user or team whose integrations, credentials and tokens belong together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Owner {
    /// Stable id (what credentials are sealed for).
    pub id: String,
    /// Unique name (`token create --user NAME`).
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// What an API token stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TokenInfo {
    /// Token id (not the token).
    pub id: String,
    /// Whose token.
    pub owner: Owner,
    /// Admin tokens may act for every owner.
    pub admin: bool,
    /// A label given at creation.
    pub label: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
}

/// An integration as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Integration {
    /// Id.
    pub id: String,
    /// Owner id.
    pub owner_id: String,
    /// Name, unique per owner (the name sync-runtime knows it by).
    pub name: String,
    /// Draft, launched or paused.
    pub status: IntegrationStatus,
    /// Cloud or local.
    pub installation: Installation,
    /// Email addresses notified about its runs.
    pub contacts: Vec<String>,
    /// The configuration file's settings, as text.
    pub settings: String,
    /// The format of `settings`.
    pub settings_format: SettingsFormat,
    /// Bumped by every change; updates name the version they read.
    pub version: i64,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// What a new integration starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewIntegration {
    /// Name, unique per owner.
    pub name: String,
    /// Cloud or local.
    pub installation: Installation,
    /// Email addresses to notify.
    pub contacts: Vec<String>,
    /// The settings text.
    pub settings: String,
    /// Its format.
    pub settings_format: SettingsFormat,
}

impl NewIntegration {
    /// A cloud integration with JSON settings and no contacts.
    pub fn new(name: impl Into<String>, settings: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            installation: Installation::Cloud,
            contacts: Vec::new(),
            settings: settings.into(),
            settings_format: SettingsFormat::Json,
        }
    }

    /// With these contacts.
    #[must_use]
    pub fn with_contacts(mut self, contacts: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.contacts = contacts.into_iter().map(Into::into).collect();
        self
    }

    /// With this installation type.
    #[must_use]
    pub fn with_installation(mut self, installation: Installation) -> Self {
        self.installation = installation;
        self
    }

    /// With settings in this format.
    #[must_use]
    pub fn with_format(mut self, format: SettingsFormat) -> Self {
        self.settings_format = format;
        self
    }
}

/// Changes to an integration; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrationUpdate {
    /// New name.
    pub name: Option<String>,
    /// New installation type.
    pub installation: Option<Installation>,
    /// New contacts.
    pub contacts: Option<Vec<String>>,
    /// New settings text and format.
    pub settings: Option<(String, SettingsFormat)>,
}

/// Record counts of a run (People records; see the session report for SaaS users).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct RunCounts {
    pub created: i64,
    pub updated: i64,
    pub deactivated: i64,
    pub reactivated: i64,
    pub unchanged: i64,
    pub skipped: i64,
    pub failed: i64,
}

/// A run: one sync session of an integration.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Run {
    /// Id.
    pub id: String,
    /// The integration.
    pub integration_id: String,
    /// Queued, running or finished (how).
    pub state: RunState,
    /// Schedule or manual.
    pub trigger: Trigger,
    /// The schedule slot it stands for (scheduled runs only).
    pub scheduled_for: Option<Timestamp>,
    /// When it was queued.
    pub created_at: Timestamp,
    /// How many times a worker claimed it.
    pub attempt: i64,
    /// The worker holding its lease (while running).
    pub lease_owner: Option<String>,
    /// When that lease runs out.
    pub lease_expires_at: Option<Timestamp>,
    /// When a worker first claimed it.
    pub started_at: Option<Timestamp>,
    /// When it finished.
    pub finished_at: Option<Timestamp>,
    /// Counts from its report.
    pub counts: RunCounts,
    /// The session report's id, once stored.
    pub session_id: Option<String>,
    /// The error that stopped it, if any.
    pub fatal: Option<String>,
    /// The session report (null until stored).
    pub report: Option<sync_engine::SessionReport>,
}

/// A stored in-app notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Notification {
    /// Id.
    pub id: String,
    /// Whose.
    pub owner_id: String,
    /// About which integration.
    pub integration_id: Option<String>,
    /// About which run.
    pub run_id: Option<String>,
    /// What happened.
    pub kind: NotificationKind,
    /// One line.
    pub subject: String,
    /// Details.
    pub body: String,
    /// When.
    pub created_at: Timestamp,
    /// When the owner marked it read.
    pub read_at: Option<Timestamp>,
}

pub(crate) fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub(crate) fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}
