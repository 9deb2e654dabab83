#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30) from its committed seed
# corpus; fails if any target finds a crash. Needs nightly and cargo-fuzz.
set -euo pipefail
seconds=${1:-30}
cd "$(dirname "$0")"
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^alertgate-fuzz$')
cargo +nightly fuzz build -O
for t in $targets; do
  mkdir -p "corpus/$t"
  # Work on a scratch copy so a smoke run never rewrites the committed seeds.
  work=$(mktemp -d)
  cp -r "corpus/$t/." "$work/" 2>/dev/null || true
  echo "fuzz: $t for ${seconds}s"
  cargo +nightly fuzz run -O "$t" "$work" -- -max_total_time="$seconds" -max_len=4096 2>&1 | tail -n 3
  rm -rf "$work"
done
echo "fuzz: all targets ran ${seconds}s without a crash"
