#!/usr/bin/env bash
# Installs the pinned tools of the GitHub contract test (tests/github_contract.rs): prism, which
# mocks GitHub's official OpenAPI description and validates requests against it, and
# @octokit/openapi, which holds that description. Idempotent: does nothing when node_modules
# already matches package-lock.json.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null 2>&1; then
  echo "tests/github/install.sh: npm is required (Node.js >= 18)" >&2
  exit 1
fi
stamp=node_modules/.package-lock.json
if [ -f "$stamp" ] && [ -x node_modules/.bin/prism ] \
  && [ -f node_modules/@octokit/openapi/generated/api.github.com.deref.json ] \
  && [ "$stamp" -nt package-lock.json ]; then
  echo "tests/github: prism and @octokit/openapi already installed"
  exit 0
fi
# prism 5.16 declares node >= 24 but runs on node 18+; --engine-strict=false keeps npm from refusing.
npm ci --no-audit --no-fund --engine-strict=false --loglevel=error
echo "tests/github: installed $(node_modules/.bin/prism --version | head -n1) and @octokit/openapi"
