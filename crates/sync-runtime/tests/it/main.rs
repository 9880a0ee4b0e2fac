//! sync-runtime's own tests: orchestration ([`sync_runtime::Integration`]) over the
//! engine's in-memory source and target, with a real state directory.

mod errors;
mod orchestration;
