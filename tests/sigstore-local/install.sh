#!/usr/bin/env bash
# Installs the local sigstore services and the independent client used by tests/keyless_*.rs:
# @sigstore/mock and its dependencies (exact versions from package-lock.json) and sigstore-python
# (pinned in requirements.txt, into tests/sigstore-local/.venv). Idempotent.
set -euo pipefail
exec bash "$(dirname "$0")/../install-pinned.sh" "$(cd "$(dirname "$0")" && pwd)"
