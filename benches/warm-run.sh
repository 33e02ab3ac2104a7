#!/usr/bin/env bash
# Warm runs: is a local `ci-attest run` as fast as running the tests yourself?
#
# Takes a real crate with dependencies (globset 0.4.18 from crates.io: ~3,100 lines, 5 dependencies,
# unit tests and doctests), makes it a git repository whose .ci-attest.toml runs `cargo test` with
# `[[cache]] path = "target"`, and then, N times: changes one file (a new function in src/lib.rs),
# commits, and times
#   A: `ci-attest run` (sealed: a fresh checkout, the cached target/ mounted into it), and
#   B: `cargo test` in the working tree (its own warm target/), after the same change.
# Both start warm (one untimed cold run each). Prints each pair and the medians and ratio A/B.
# Then, as a hosted runner starts every job (issue 12's "local CI under 2 minutes versus 5-10 on
# hosted CI"), C cold runs of
#   C: a fresh `git clone`, an empty CARGO_HOME (every dependency downloaded from crates.io) and an
#      empty target/, then `cargo test --locked`,
# and the ratio of its median to A's. What a hosted runner adds on top (queueing, booting the VM,
# installing the toolchain, uploading logs) is not measured here.
# Usage: bash benches/warm-run.sh [path/to/ci-attest (default target/release)] [N (default 7)] [C (default 3)]
set -euo pipefail
bin="$(realpath "${1:-$(dirname "$0")/../target/release/ci-attest}")"
runs="${2:-7}"
cold_runs="${3:-3}"
[ -x "$bin" ] || { echo "build first: cargo build --release (or pass the binary)" >&2; exit 2; }
work="$(mktemp -d /var/tmp/ci-attest-warm.XXXXXX)"   # not /tmp: checks get a private /tmp
trap 'rm -rf "$work"' EXIT
cd "$work"
curl -sSfL https://static.crates.io/crates/globset/globset-0.4.18.crate | tar -xz
mv globset-0.4.18 crate && cd crate
g() { git -c user.name=bench -c user.email=bench@example.invalid "$@"; }
cargo fetch --locked -q        # the sealed run builds offline from ~/.cargo, as the working tree does
cat > .ci-attest.toml <<'EOF'
[[check]]
name = "tests"
kind = "custom"
run = "cargo test --locked --offline -q"

[[cache]]
path = "target"
key = ["Cargo.lock"]
EOF
printf 'target/\n.ci-attest/\n.ci-attest.local.toml\nkeys/\n' > .gitignore
g init -q -b main . && g add -A && g commit -qm "globset 0.4.18"
"$bin" keygen --out keys --no-password >/dev/null 2>&1
printf '[signing]\nkey = "keys/ci-attest.key"\n' > .ci-attest.local.toml

ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "cold: ci-attest run $(ms "$bin" run) ms, cargo test $(ms cargo test --locked --offline -q) ms (untimed warm-up)"
: > "$work/a"; : > "$work/b"
for i in $(seq 1 "$runs"); do
  printf '\n/// Added by the benchmark.\npub fn bench_%s() -> u32 { %s }\n' "$i" "$i" >> src/lib.rs
  g commit -qam "change $i"
  a=$(ms "$bin" run); b=$(ms cargo test --locked --offline -q)
  echo "$a" >> "$work/a"; echo "$b" >> "$work/b"
  echo "run $i: ci-attest run $a ms, cargo test $b ms"
done
ma=$(median < "$work/a"); mb=$(median < "$work/b")
echo "median of $runs: ci-attest run $ma ms, cargo test in the working tree $mb ms, ratio $(awk "BEGIN { printf \"%.2f\", $ma / $mb }")"

: > "$work/c"
for i in $(seq 1 "$cold_runs"); do
  rm -rf "$work/hosted" && mkdir -p "$work/hosted/cargo-home"
  c=$(ms sh -c "git clone -q '$work/crate' '$work/hosted/clone' && cd '$work/hosted/clone' && CARGO_HOME='$work/hosted/cargo-home' cargo test --locked -q")
  echo "$c" >> "$work/c"
  echo "cold $i (fresh clone, empty CARGO_HOME and target/, cargo test): $c ms"
done
mc=$(median < "$work/c")
echo "median of $cold_runs cold runs as a hosted runner starts them: $mc ms; warm ci-attest run $ma ms; cold / warm $(awk "BEGIN { printf \"%.1f\", $mc / $ma }")"
