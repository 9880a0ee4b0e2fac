-- sync-store schema, SQLite flavour (the PostgreSQL one differs only in BYTEA for BLOB).
-- Times are milliseconds since the Unix epoch (UTC) in BIGINT columns on both backends, so
-- every query is the same text on both and compares numbers, not strings.

CREATE TABLE owners (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

-- API tokens are stored as the SHA-256 of the token only; the token itself is shown once.
CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    owner_id      TEXT NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    token_sha256  TEXT NOT NULL UNIQUE,
    admin         BIGINT NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    label         TEXT,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_tokens_owner ON api_tokens(owner_id);

-- Rows of credential-store's DatabaseProvider: metadata in clear (no secret), the whole
-- credential sealed under the master key whose id is kept for rotation.
CREATE TABLE credentials (
    owner_id    TEXT NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    sealed      BLOB NOT NULL,
    key_id      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (owner_id, name)
);
CREATE INDEX credentials_key_id ON credentials(key_id);

CREATE TABLE integrations (
    id               TEXT PRIMARY KEY,
    owner_id         TEXT NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('draft', 'launched', 'paused')),
    installation     TEXT NOT NULL CHECK (installation IN ('cloud', 'local')),
    contacts         TEXT NOT NULL,
    settings         TEXT NOT NULL,
    settings_format  TEXT NOT NULL CHECK (settings_format IN ('json', 'toml')),
    version          BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (owner_id, name)
);

-- One schedule per integration. next_run_at is null while the integration is not launched.
CREATE TABLE schedules (
    integration_id  TEXT PRIMARY KEY REFERENCES integrations(id) ON DELETE CASCADE,
    every_unit      TEXT NOT NULL CHECK (every_unit IN ('days', 'hours')),
    every_n         BIGINT NOT NULL CHECK (every_n >= 1),
    at_minute       BIGINT NOT NULL CHECK (at_minute >= 0 AND at_minute < 1440),
    time_zone       TEXT NOT NULL,
    anchor_date     TEXT NOT NULL,
    next_run_at     BIGINT,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX schedules_due ON schedules(next_run_at);

-- The deactivation ledger with its write-ahead intents (sync-runtime's Ledger, as JSON).
CREATE TABLE ledgers (
    integration_id  TEXT PRIMARY KEY REFERENCES integrations(id) ON DELETE CASCADE,
    ledger          TEXT NOT NULL,
    run_id          TEXT,
    updated_at      BIGINT NOT NULL
);

-- A run is a sync session: queued, then leased by a worker, then finished.
CREATE TABLE runs (
    id                TEXT PRIMARY KEY,
    integration_id    TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    state             TEXT NOT NULL
                      CHECK (state IN ('queued', 'running', 'succeeded', 'partial', 'failed', 'interrupted')),
    run_trigger       TEXT NOT NULL CHECK (run_trigger IN ('schedule', 'manual')),
    scheduled_for     BIGINT,
    created_at        BIGINT NOT NULL,
    attempt           BIGINT NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_token       TEXT,
    lease_expires_at  BIGINT,
    heartbeat_at      BIGINT,
    started_at        BIGINT,
    finished_at       BIGINT,
    created           BIGINT NOT NULL DEFAULT 0,
    updated           BIGINT NOT NULL DEFAULT 0,
    deactivated       BIGINT NOT NULL DEFAULT 0,
    reactivated       BIGINT NOT NULL DEFAULT 0,
    unchanged         BIGINT NOT NULL DEFAULT 0,
    skipped           BIGINT NOT NULL DEFAULT 0,
    failed            BIGINT NOT NULL DEFAULT 0,
    session_id        TEXT,
    session_status    TEXT,
    report            TEXT,
    fatal             TEXT,
    -- Exactly-once creation of each schedule slot (manual runs have no slot: NULLs differ).
    UNIQUE (integration_id, scheduled_for)
);
-- One queued-or-running run per integration: RUN NOW and the scheduler cannot add a second.
CREATE UNIQUE INDEX runs_one_active ON runs(integration_id) WHERE state IN ('queued', 'running');
CREATE INDEX runs_queue ON runs(state, created_at);
CREATE INDEX runs_by_integration ON runs(integration_id, created_at);

-- What happened to a run besides its report: lease expiries (interruptions), retries.
CREATE TABLE run_events (
    id          TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    message     TEXT NOT NULL
);
CREATE INDEX run_events_run ON run_events(run_id, at);

-- Per-record errors of a run's session report.
CREATE TABLE run_errors (
    run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    collection  TEXT NOT NULL,
    record_key  TEXT NOT NULL,
    message     TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- In-app notifications; dedupe_key makes each event notify once across processes.
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    owner_id        TEXT NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    integration_id  TEXT REFERENCES integrations(id) ON DELETE CASCADE,
    run_id          TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('run_failed', 'run_overdue', 'run_missed')),
    dedupe_key      TEXT NOT NULL UNIQUE,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    read_at         BIGINT
);
CREATE INDEX notifications_owner ON notifications(owner_id, created_at);

-- Email to send, one row per notification and recipient; survives an SMTP outage.
CREATE TABLE email_outbox (
    id               TEXT PRIMARY KEY,
    notification_id  TEXT NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
    dedupe_key       TEXT NOT NULL UNIQUE,
    recipient        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body             TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT,
    sent_at          BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX email_outbox_due ON email_outbox(next_attempt_at);
