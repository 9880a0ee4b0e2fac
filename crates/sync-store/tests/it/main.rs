//! sync-store's integration tests: one suite, run on SQLite always and on PostgreSQL when
//! `SYNC_STORE_TEST_PG` (or `DATABASE_URL`) names a server (each test in a fresh database).
//! With `SYNC_STORE_REQUIRE_PG=1` a missing server fails the PostgreSQL half instead of
//! skipping it; `SYNC_STORE_REQUIRE_SMTP=1` does the same for the aiosmtpd sink.

#![allow(
    clippy::unwrap_used,
    clippy::print_stderr,
    clippy::print_stdout,
    missing_docs
)]

#[macro_use]
mod support;

mod credentials;
mod notify;
mod process;
mod queue;
mod schedule;
mod state;
mod store;
