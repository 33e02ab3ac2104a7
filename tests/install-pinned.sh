#!/usr/bin/env bash
# Installs a test folder's pinned third-party tools, idempotently:
#   - its node packages, exactly as its package-lock.json pins them, with `npm ci` (skipped when
#     node_modules/.package-lock.json already lists exactly those versions);
#   - if it has a requirements.txt, those exact PyPI versions into the venv <folder>/.venv (skipped
#     when the venv already has them).
# Usage: bash tests/install-pinned.sh <folder> [extra npm ci arguments]
set -euo pipefail
dir="$1"
shift
cd "$dir"
name="$(basename "$dir")"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "$name/install: node and npm are required (node >= 20.17)" >&2
  exit 1
fi
# Current when every installed package has its locked version and every locked package is installed,
# except optional ones npm skips on this platform (e.g. fsevents off macOS).
node_modules_current() {
  [ -f node_modules/.package-lock.json ] && node -e '
    const want = require("./package-lock.json").packages;
    const have = require("./node_modules/.package-lock.json").packages;
    const ok = Object.entries(want).every(([k, v]) => !k || (have[k] ? have[k].version === v.version : v.optional))
      && Object.keys(have).every((k) => !k || want[k]);
    process.exit(ok ? 0 : 1);'
}
if node_modules_current; then
  echo "$name/install: node_modules is up to date"
else
  npm ci --no-audit --no-fund --loglevel=error "$@"
fi

if [ -f requirements.txt ]; then
  if ! command -v python3 >/dev/null; then
    echo "$name/install: python3 (>= 3.10) is required" >&2
    exit 1
  fi
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  if .venv/bin/python -c 'import sys, importlib.metadata as m; want = [l.split("==") for l in open("requirements.txt") if "==" in l and not l.startswith("#")]; sys.exit(any(m.version(n.strip()) != v.strip() for n, v in want))' 2>/dev/null; then
    echo "$name/install: .venv is up to date"
  else
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
  fi
fi
echo "$name/install: done"
