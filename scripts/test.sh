#!/usr/bin/env sh
# The whole test suite: installs the pinned third-party verifiers the interop tests use
# (npm @sigstore/verify, Python cryptography + jsonschema, into tests/interop/), then runs every test.
set -eu
cd "$(dirname "$0")/.."
bash tests/interop/install.sh
cargo test --all-targets --locked "$@"
