#!/usr/bin/env bash
# Installs the independent verifiers used by tests/interop_sigstore.rs:
#   - node packages (@sigstore/verify and friends, exact versions from package-lock.json) into
#     tests/interop/node_modules, with `npm ci`;
#   - Python's `cryptography` (pinned in requirements.txt) into the venv tests/interop/.venv.
# Idempotent: re-running only reinstalls what is missing or out of date.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install.sh: node and npm are required (node >= 20.17)" >&2
  exit 1
fi
# npm keeps a copy of the installed tree in node_modules/.package-lock.json: skip `npm ci` when it
# lists exactly the versions that package-lock.json pins.
node_modules_current() {
  [ -f node_modules/.package-lock.json ] && node -e '
    const versions = (f) => Object.entries(require(f).packages)
      .filter(([k]) => k).map(([k, v]) => k + "@" + v.version).sort().join("\n");
    process.exit(versions("./package-lock.json") === versions("./node_modules/.package-lock.json") ? 0 : 1);'
}
if node_modules_current; then
  echo "install.sh: node_modules is up to date"
else
  npm ci --no-audit --no-fund
fi

if ! command -v python3 >/dev/null; then
  echo "install.sh: python3 is required" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if .venv/bin/python -c 'import sys, importlib.metadata as m; want = [l.split("==") for l in open("requirements.txt") if "==" in l and not l.startswith("#")]; sys.exit(any(m.version(n.strip()) != v.strip() for n, v in want))' 2>/dev/null; then
  echo "install.sh: .venv is up to date"
else
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
fi
echo "install.sh: done"
