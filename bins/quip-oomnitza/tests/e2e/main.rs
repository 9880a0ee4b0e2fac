//! End-to-end tests of the `quip-oomnitza` binary (issue 7 acceptance): each test starts
//! the Quip and Oomnitza emulators in this process, writes a configuration into a
//! temporary directory and runs the real binary against them, then checks its exit code,
//! its output and the emulators' state.

mod credential_safety;
mod credentials;
mod demo;
mod failures;
mod hostile;
mod interrupt;
mod messages;
mod partial;
mod preferences;
mod seats;
mod secrets;
mod sessions;
mod state_dir;
mod support;
mod sync;
mod usage;
