//! Oomnitza emulator tests.
