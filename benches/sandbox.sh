#!/usr/bin/env sh
# What sealing costs: `ci-attest run` sealed (bubblewrap) and with --no-sandbox, on a project of one
# trivial check (`true`) and one of five, interleaved, N runs each. Prints the median wall times, the
# sandbox's cost per run, and its cost per check ((cost with 5 checks - cost with 1) / 4).
# Usage: sh benches/sandbox.sh [path/to/ci-attest (default target/release)] [runs (default 21)]
set -eu
bin="$(realpath "${1:-$(dirname "$0")/../target/release/ci-attest}")"
runs="${2:-21}"
[ -x "$bin" ] || { echo "build first: cargo build --release (or pass the binary)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/ci-attest-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
project() { # $1 = folder, $2 = number of checks
  mkdir -p "$1" && cd "$1"
  git init -q -b main .
  : > .ci-attest.toml
  i=1; while [ "$i" -le "$2" ]; do
    printf '[[check]]\nname = "noop%s"\nkind = "custom"\nrun = "true"\n' "$i" >> .ci-attest.toml
    i=$((i + 1))
  done
  printf 'keys/\n.ci-attest/\n.ci-attest.local.toml\n' > .gitignore
  git -c user.name=b -c user.email=b@example.invalid add -A
  git -c user.name=b -c user.email=b@example.invalid commit -qm bench
  "$bin" keygen --out keys --no-password >/dev/null 2>&1
  printf '[signing]\nkey = "keys/ci-attest.key"\n' > .ci-attest.local.toml
  cd - >/dev/null
}
us() { s=$(date +%s%N); (cd "$1" && shift && "$@" >/dev/null 2>&1); e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
median() { sort -n "$1" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
fmt() { echo "$(( $1 / 1000 )).$(( ($1 % 1000) / 100 )) ms"; }
for n in 1 5; do
  project "$work/p$n" "$n"
  us "$work/p$n" "$bin" run >/dev/null; us "$work/p$n" "$bin" run --no-sandbox >/dev/null  # warm-up
  : > "$work/sealed$n"; : > "$work/plain$n"
  i=0; while [ "$i" -lt "$runs" ]; do
    us "$work/p$n" "$bin" run >> "$work/sealed$n"
    us "$work/p$n" "$bin" run --no-sandbox >> "$work/plain$n"
    i=$((i + 1))
  done
done
s1=$(median "$work/sealed1"); p1=$(median "$work/plain1"); s5=$(median "$work/sealed5"); p5=$(median "$work/plain5")
echo "ci-attest run, trivial checks, $runs interleaved runs each (median wall time)"
echo "  1 check:   sealed $(fmt "$s1"), --no-sandbox $(fmt "$p1"), sandbox cost $(fmt $((s1 - p1)))"
echo "  5 checks:  sealed $(fmt "$s5"), --no-sandbox $(fmt "$p5"), sandbox cost $(fmt $((s5 - p5)))"
echo "  sandbox cost per check: $(fmt $(( ((s5 - p5) - (s1 - p1)) / 4 )))"
echo "  sandbox cost per run (bubblewrap probe, git worktree list): $(fmt $(( (s1 - p1) - ((s5 - p5) - (s1 - p1)) / 4 )))"
