#!/usr/bin/env bash
# Installs the pinned tools of the GitHub contract test (tests/github_contract.rs): prism, which
# mocks GitHub's official OpenAPI description and validates requests against it, and
# @octokit/openapi, which holds that description. Idempotent.
# prism 5.16 declares node >= 24 but runs on node 18+; --engine-strict=false keeps npm from refusing.
set -euo pipefail
exec bash "$(dirname "$0")/../install-pinned.sh" "$(cd "$(dirname "$0")" && pwd)" --engine-strict=false
