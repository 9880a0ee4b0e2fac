//! Quip emulator tests.
