//! Integration tests of quip-client (one test binary).

// Helpers outside `#[test]` functions unwrap too: a panic is the test failure report.
#![allow(clippy::unwrap_used)]

mod canary;
mod common;
mod contract;
mod limits;
mod redirects;
mod retry;
mod sandbox;
mod source;
