#!/usr/bin/env sh
# See ci-attest work end to end, offline: attest the example project in examples/calc, verify the
# attestation against its policy, then show that a tampered bundle is rejected.
# Needs: git, a Rust toolchain with clippy. Usage: sh examples/demo.sh
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --manifest-path "$here/Cargo.toml"
bin="$here/target/debug/ci-attest"
work=$(mktemp -d "${TMPDIR:-/tmp}/ci-attest-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$here/examples/calc" "$work/calc"
cd "$work/calc"
git init --quiet
git add -A
git -c user.name=demo -c user.email=demo@example.invalid commit --quiet -m "calc: first version"

echo "== ci-attest keygen"
CI_ATTEST_PASSWORD=demo-password "$bin" keygen --out keys
echo "== ci-attest run"
CI_ATTEST_PASSWORD=demo-password "$bin" run --key keys/ci-attest.key
echo "== ci-attest verify"
"$bin" verify --policy policies/default.toml
echo "== ci-attest verify, a tampered copy of the bundle (expected: REJECTED, exit 1)"
bundle=$(ls .ci-attest/*.sigstore.json | head -n 1)
python3 - "$bundle" tampered.json <<'PY' 2>/dev/null || sed 's/"payload": "ey/"payload": "eX/' "$bundle" > tampered.json
import base64, json, sys
b = json.load(open(sys.argv[1]))
p = json.loads(base64.b64decode(b["dsseEnvelope"]["payload"]))
p["predicate"]["checks"][0]["tests"]["failed"] = 0
p["predicate"]["checks"][0]["tests"]["passed"] += 100
b["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(p).encode()).decode()
json.dump(b, open(sys.argv[2], "w"))
PY
if "$bin" verify --policy policies/default.toml --bundle tampered.json; then
  echo "demo FAILED: a tampered bundle was accepted" >&2
  exit 1
fi
echo "== demo OK: the real attestation verified, the tampered one was rejected"
