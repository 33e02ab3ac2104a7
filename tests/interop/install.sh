#!/usr/bin/env bash
# Installs the independent verifiers used by tests/interop_*.rs: @sigstore/verify and friends
# (exact versions from package-lock.json) and Python `cryptography` + `jsonschema` (pinned in
# requirements.txt, into tests/interop/.venv). Idempotent.
set -euo pipefail
exec bash "$(dirname "$0")/../install-pinned.sh" "$(cd "$(dirname "$0")" && pwd)"
