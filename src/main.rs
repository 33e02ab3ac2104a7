//! The `ci-attest` command line.
fn main() {}
