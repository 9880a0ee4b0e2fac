//! Integration tests of both emulators, through reqwest against running servers.

mod oomnitza;
mod quip;
mod scim;
