#!/usr/bin/env bash
# Lints the GitHub side of ci-attest: .github/workflows/*.yml and the composite action action.yml.
#   - actionlint: workflow syntax, expressions, permissions, and `run:` scripts through ShellCheck;
#   - zizmor: security audits (offline) of the workflows and of the composite action;
#   - ShellCheck: the composite action's `run:` scripts (actionlint reads workflows only), this script.
# The pinned linters go into .ci/.venv-lint (gitignored) from .ci/requirements-lint.txt; that is redone
# only when the requirements change, so a second run is quick. Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.ci/.venv-lint
req=.ci/requirements-lint.txt
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "== installing linters into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: -r "$req"
  echo "$want" > "$stamp"
fi
export PATH="$PWD/$venv/bin:$PATH"

echo "== actionlint $(actionlint --version | head -n1)"
actionlint .github/workflows/*.yml
# The workflow `ci-attest init` writes into users' repositories, rendered as init renders it.
rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT
mkdir -p "$rendered/.github/workflows"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
# Rendered as a release build renders it: pinned to a commit (this one).
sed -e "s/{{VERSION}}/$version/g" -e "s/{{ACTION_REF}}/$(git rev-parse HEAD)/g" src/cli/templates/ci-attest-verify.yml > "$rendered/.github/workflows/ci-attest-verify.yml"
(cd "$rendered" && actionlint .github/workflows/ci-attest-verify.yml)

echo "== $(zizmor --version)"
# zizmor takes workflow files, directories and composite action definitions (action.yml) alike.
zizmor --quiet --offline --strict-collection --pedantic .github/workflows/ action.yml "$rendered/.github/workflows/"

echo "== $(shellcheck --version | sed -n 2p | tr -d '\n') (action.yml run scripts, this script)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python - action.yml "$tmp" <<'PY'
import sys, yaml
action, out = sys.argv[1], sys.argv[2]
with open(action, encoding="utf-8") as f:
    doc = yaml.safe_load(f)
for i, step in enumerate(doc["runs"]["steps"]):
    if "run" in step:
        if step.get("shell") != "bash":
            sys.exit(f"{action}: step {i} must say `shell: bash`")
        if "${{" in step["run"]:
            sys.exit(f"{action}: step {i}: no ${{{{ }}}} expression inside a run: script (pass it through env:)")
        with open(f"{out}/step{i}.sh", "w", encoding="utf-8") as s:
            s.write("#!/usr/bin/env bash\n" + step["run"])
PY
shellcheck "$tmp"/step*.sh .ci/lint-workflows.sh

echo "== workflows and action lint clean"
