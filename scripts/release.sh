#!/usr/bin/env bash
# Makes the release archive of the commit checked out (a release tag, on a clean tree):
#   dist/ci-attest-<tag>-<target>.tar.gz  the binary (built with CI_ATTEST_SOURCE_COMMIT = the commit,
#                                         so `init` pins the verifier workflow to it), the man page and
#                                         shell completions;
#   dist/<commit>.<n>.sigstore.json       the commit's own ci-attest bundles (from `ci-attest run`);
#   dist/SHA256SUMS                       sha256 of every file above.
# Usage: scripts/release.sh [--store DIR]   (DIR: where the commit's bundles are; default .ci-attest)
set -euo pipefail
cd "$(dirname "$0")/.."
store=.ci-attest
if [[ "${1:-}" == --store ]]; then store="$2"; fi
if [[ -n "$(git status --porcelain --untracked-files=no)" ]]; then
  echo "release: the tree has uncommitted changes; release from a clean checkout of the tag" >&2
  exit 2
fi
commit="$(git rev-parse HEAD)"
tag="$(git describe --tags --exact-match 2>/dev/null || echo "g${commit:0:12}")"
target="$(rustc -vV | sed -n 's/^host: //p')"
shopt -s nullglob
bundles=("$store/$commit".*.sigstore.json)
if [[ ${#bundles[@]} -eq 0 ]]; then
  echo "release: no ci-attest bundle of $commit in $store: run \`ci-attest run\` on it first" >&2
  exit 2
fi
CI_ATTEST_SOURCE_COMMIT="$commit" cargo build --release --locked --bin ci-attest
bin=target/release/ci-attest
stage="$(mktemp -d)"; trap 'rm -rf "$stage"' EXIT
name="ci-attest-$tag-$target"
mkdir -p "$stage/$name/completions" dist
cp "$bin" "$stage/$name/"
"$bin" man > "$stage/$name/ci-attest.1"
for shell in bash zsh fish; do "$bin" completions "$shell" > "$stage/$name/completions/ci-attest.$shell"; done
cp README.md "$stage/$name/"
tar -C "$stage" -czf "dist/$name.tar.gz" "$name"
cp "${bundles[@]}" dist/
(cd dist && sha256sum "$name.tar.gz" "${bundles[@]##*/}" > SHA256SUMS)
echo "release: dist/$name.tar.gz, ${#bundles[@]} bundle(s) of $commit, dist/SHA256SUMS"
