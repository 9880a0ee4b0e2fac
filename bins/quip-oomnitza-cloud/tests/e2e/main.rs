//! End-to-end tests of `quip-oomnitza-cloud`: the real binary, the API only, against the
//! Quip and Oomnitza emulators, on SQLite and (with `SYNC_STORE_TEST_PG`) PostgreSQL.

// Test helpers run outside `#[test]` functions, where clippy.toml's test allowances do
// not reach; a panic is how they fail a test.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod support;

mod auth;
mod cli;
mod concurrency;
mod flow;
mod hostile;
mod metrics;
mod scale;
mod secrets;
