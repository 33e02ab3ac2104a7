#!/usr/bin/env bash
# Prepares, idempotently and pinned, what tests/init_projects.rs needs so that the projects it makes
# install offline inside the sealed run (the configuration `ci-attest init` writes stays the one a
# user gets; the test only passes these folders in with the signer's `pass_env`):
#   - wheels/      a wheelhouse of requirements.txt (pytest, pytest-cov, coverage, ruff, setuptools);
#   - npm-cache/   npm's cache filled from npm-jest/package-lock.json (jest 29, jest-junit 16);
#   - corepack/    COREPACK_HOME holding pnpm as pnpm-vitest/package.json's packageManager pins it;
#   - pnpm-store/  pnpm's store filled from pnpm-vitest/pnpm-lock.yaml (vitest 2, coverage-v8);
#   - bun/         bun (the npm package, which carries the binary) as bun-tool/package.json pins it;
#   - corepack-yarn/ COREPACK_HOME holding yarn 4 as yarn-node/package.json pins it (corepack fetches
#                  Yarn 2+ from repo.yarnpkg.com unless COREPACK_NPM_REGISTRY names an npm registry).
# Each folder is rebuilt only when its inputs changed (a copy of them is kept as the stamp).
set -euo pipefail
cd "$(dirname "$0")"
here="$(pwd)"
current() { # current <folder> <inputs...>: the folder was built from exactly these inputs
  local dir="$1"; shift
  [ -f "$dir/.complete" ] && cat "$@" | cmp -s - "$dir/.complete"
}
stamp() { local dir="$1"; shift; cat "$@" > "$dir/.complete"; }

if ! current wheels requirements.txt; then
  rm -rf wheels
  python3 -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
    -r requirements.txt --dest wheels
  stamp wheels requirements.txt
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

if ! current npm-cache npm-jest/package-lock.json; then
  rm -rf npm-cache
  cp npm-jest/package.json npm-jest/package-lock.json "$scratch/"
  (cd "$scratch" && npm ci --cache "$here/npm-cache" --no-audit --no-fund --loglevel=error >/dev/null)
  rm -rf "$scratch"/* npm-cache/_logs
  stamp npm-cache npm-jest/package-lock.json
fi

pnpm_pin="$(node -p 'require("./pnpm-vitest/package.json").packageManager')"
if ! current corepack pnpm-vitest/package.json || ! current pnpm-store pnpm-vitest/pnpm-lock.yaml; then
  rm -rf corepack pnpm-store
  cp pnpm-vitest/package.json pnpm-vitest/pnpm-lock.yaml "$scratch/"
  export COREPACK_HOME="$here/corepack" COREPACK_ENABLE_DOWNLOAD_PROMPT=0
  # A registry mirror may serve no signatures, which corepack then refuses: retry without them.
  (cd "$scratch" && corepack pnpm --version >/dev/null 2>&1) \
    || (cd "$scratch" && COREPACK_INTEGRITY_KEYS=0 corepack pnpm --version >/dev/null)
  (cd "$scratch" && corepack pnpm install --frozen-lockfile --store-dir "$here/pnpm-store" --reporter=silent >/dev/null)
  stamp corepack pnpm-vitest/package.json
  stamp pnpm-store pnpm-vitest/pnpm-lock.yaml
fi
if ! current bun bun-tool/package.json; then
  rm -rf bun && mkdir -p bun
  cp bun-tool/package.json bun/
  (cd bun && npm install --no-audit --no-fund --loglevel=error >/dev/null && ./node_modules/.bin/bun --version >/dev/null)
  stamp bun bun-tool/package.json
fi

yarn_pin="$(node -p 'require("./yarn-node/package.json").packageManager')"
if ! current corepack-yarn yarn-node/package.json; then
  rm -rf corepack-yarn
  cp yarn-node/package.json "$scratch/"
  export COREPACK_HOME="$here/corepack-yarn" COREPACK_ENABLE_DOWNLOAD_PROMPT=0
  export COREPACK_NPM_REGISTRY="${COREPACK_NPM_REGISTRY:-$(npm config get registry | sed 's#/*$##')}"
  (cd "$scratch" && corepack yarn --version >/dev/null 2>&1) \
    || (cd "$scratch" && COREPACK_INTEGRITY_KEYS=0 corepack yarn --version >/dev/null)
  stamp corepack-yarn yarn-node/package.json
fi
echo "init/install: done (wheels, npm-cache, corepack with $pnpm_pin and $yarn_pin, pnpm-store)"
