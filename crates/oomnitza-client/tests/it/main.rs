//! Integration tests of the Oomnitza client and target: contract tests against httpmock
//! (strict: every mock hit the expected number of times, unexpected requests caught by a
//! catch-all mock), and end-to-end tests against the api-sandbox Oomnitza emulator.

mod common;
mod contract_bulk;
mod contract_saas;
mod contract_users;
mod limits;
mod redirects;
mod retries;
mod sandbox_faults;
mod sandbox_saas;
mod sandbox_strategies;
mod sandbox_users;
mod secrets;
mod target_contract;
