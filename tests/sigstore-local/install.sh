#!/usr/bin/env bash
# Installs the local sigstore services and the independent verifier used by tests/keyless_*.rs:
#   - node packages (@sigstore/mock and its dependencies, exact versions from package-lock.json)
#     into tests/sigstore-local/node_modules, with `npm ci`;
#   - sigstore-python (pinned in requirements.txt) into the venv tests/sigstore-local/.venv.
# Idempotent: re-running only reinstalls what is missing or out of date.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install.sh: node and npm are required (node >= 20.17)" >&2
  exit 1
fi
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
  echo "install.sh: python3 (>= 3.10) is required" >&2
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
