//! ci-attest: signed, verifiable attestations of CI runs made on a developer's own machine.
//!
//! The pipeline, one module per stage:
//! [`config`] -> [`git`] -> [`collect`] -> [`statement`] -> [`dsse`] -> [`sign`] -> [`bundle`] ->
//! [`store`] -> [`verify`] -> [`policy`] -> [`report`]. [`attest`] orchestrates `run` (config to
//! stored bundle); [`judge`] orchestrates `verify` and `audit` (store to report).
//!
//! The library never prints and never exits; time is always passed in, so the verifier in CI and the
//! auditor offline run the same code and reach the same verdict.
#![forbid(unsafe_code)]
// A pure library: no printing, no environment, no wall clock (clippy.toml lists what is meant).
#![cfg_attr(not(test), deny(clippy::disallowed_methods, clippy::disallowed_macros))]

pub mod attest;
pub mod bundle;
pub mod cache;
pub mod collect;
pub mod config;
pub mod dsse;
pub mod finding;
#[doc(hidden)]
pub mod fuzzing;
pub mod git;
pub mod github;
pub mod hook;
pub mod judge;
pub mod keyid;
pub mod policy;
pub mod report;
pub mod reproduce;
pub mod sandbox;
pub mod sign;
pub mod statement;
pub mod store;
pub mod test_result;
pub mod trust;
pub mod verify;
pub mod vsa;
