//! The shared send path against loopback servers: retries and backoff, `Retry-After`,
//! the wait cap, counters, pacing hooks, redirect refusal, the body cap and secrets.

// Test helpers outside `#[test]` functions unwrap too; a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;
mod limits;
mod retries;
mod secrets;
