#!/usr/bin/env sh
# The sandbox's cost per check: `ci-attest run` on a one-check project whose check is `true`, sealed
# (bubblewrap) and with --no-sandbox, N runs each, interleaved; prints the median wall time of each
# and their difference. Usage: sh benches/sandbox.sh [path/to/ci-attest] [runs]
set -eu
bin="${1:-$(cd "$(dirname "$0")/.." && pwd)/target/release/ci-attest}"
runs="${2:-21}"
[ -x "$bin" ] || { echo "build first: cargo build --release (or pass the binary)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/ci-attest-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
git init -q -b main .
printf '[[check]]\nname = "noop"\nkind = "custom"\nrun = "true"\n' > .ci-attest.toml
printf 'keys/\n.ci-attest/\n.ci-attest.local.toml\n' > .gitignore
git -c user.name=b -c user.email=b@example.invalid add -A
git -c user.name=b -c user.email=b@example.invalid commit -qm bench
"$bin" keygen --out keys --no-password >/dev/null
printf '[signing]\nkey = "keys/ci-attest.key"\n' > .ci-attest.local.toml
ms() { s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
"$bin" run >/dev/null 2>&1; "$bin" run --no-sandbox >/dev/null 2>&1   # warm-up
: > sealed; : > plain
i=0
while [ "$i" -lt "$runs" ]; do
  ms "$bin" run >> sealed
  ms "$bin" run --no-sandbox >> plain
  i=$((i + 1))
done
median() { sort -n "$1" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
s=$(median sealed); p=$(median plain)
echo "ci-attest run, one trivial check, $runs runs each (median wall time)"
echo "  sealed (bubblewrap):  $((s / 1000)).$(( (s % 1000) / 100 )) ms"
echo "  --no-sandbox:         $((p / 1000)).$(( (p % 1000) / 100 )) ms"
echo "  sandbox cost:         $(( (s - p) / 1000 )).$(( ((s - p) % 1000) / 100 )) ms per check (one bwrap for the check, one for the toolchain probe when the project has one)"
