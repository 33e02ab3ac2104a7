//! Signing: local P-256 keys (and, later, keyless).

pub mod key;
