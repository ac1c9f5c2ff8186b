#!/usr/bin/env bash
# Benchmark (not a test): directory-listing parse time for 5,000 vs 50,000 links (HTML and
# MirrorCache JSON), measured in the same run, interleaved, best of three, in release mode.
# Prints the ratio; a linear parser shows ~10, the old linear-scan de-duplication ~90.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --lib upstream::listing::tests::parsing_is_linear -- --nocapture 2>&1 |
  grep -E '^listing |test result'
