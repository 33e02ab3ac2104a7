#!/usr/bin/env bash
# Installs what the sealed-run tests (tests/sealed_run.rs) need, idempotently:
#   - bubblewrap (`bwrap`), the sandbox `ci-attest run` drives (Debian package `bubblewrap`);
#   - a wheelhouse with pytest (pinned in requirements.txt) in tests/sandbox/wheels, from which the
#     editable-install test fills a fresh virtualenv offline.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v bwrap >/dev/null; then
  sudo_=""
  [ "$(id -u)" -ne 0 ] && sudo_="sudo"
  $sudo_ apt-get install -y -qq bubblewrap >/dev/null 2>&1 \
    || { $sudo_ apt-get update -qq >/dev/null && $sudo_ apt-get install -y -qq bubblewrap >/dev/null; }
fi
bwrap --version
if [ ! -f wheels/.complete ] || ! cmp -s requirements.txt wheels/.complete; then
  rm -rf wheels
  python3 -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
    -r requirements.txt --dest wheels
  cp requirements.txt wheels/.complete
fi
echo "sandbox/install: done"
