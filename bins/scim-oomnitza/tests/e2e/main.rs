//! End-to-end tests of the `scim-oomnitza` binary (issue 12 acceptance): each test starts
//! a SCIM emulator and an Oomnitza emulator in this process, writes a configuration into a
//! temporary directory and runs the real binary against them, then checks its exit code,
//! its output and the emulators' state.

mod config;
mod demo;
mod failures;
mod support;
mod sync;
