//! scim-client integration tests: RFC examples as fixtures, a small mock server for exact
//! answers, and the api-sandbox SCIM emulator for paging, filters and faults.

#![allow(clippy::unwrap_used)]

mod common;
mod contract;
mod faults;
mod sandbox;
mod secrets;
