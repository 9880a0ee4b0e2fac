//! Integration tests of the sync engine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod apply;
mod filter;
mod guards;
mod idle;
mod mapping;
mod partial;
mod pipeline;
mod plan_cases;
mod properties;
mod report;
mod support;
