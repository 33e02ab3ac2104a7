#!/usr/bin/env sh
# The whole test suite. First installs (pinned, idempotent) the independent tools the tests use:
#   tests/interop/        npm @sigstore/verify, Python cryptography + jsonschema (interop verifiers)
#   tests/sigstore-local/ npm @sigstore/mock (local Fulcio, Rekor, TSA), Python sigstore 4.5.1
#   tests/github/         npm @stoplight/prism-cli + @octokit/openapi (GitHub API contract tests)
#   tests/sandbox/        bubblewrap (apt) and a pytest wheelhouse (sealed-run tests)
#   tests/init/           wheelhouse, npm cache, corepack pnpm and pnpm store (init on real projects)
#   tests/html/           Chromium (apt, no recommends): renders the audit's report.html headless
# then runs every test.
set -eu
cd "$(dirname "$0")/.."
bash tests/interop/install.sh
bash tests/sigstore-local/install.sh
bash tests/github/install.sh
bash tests/sandbox/install.sh
bash tests/init/install.sh
bash tests/html/install.sh
cargo test --all-targets --locked "$@"
