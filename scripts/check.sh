#!/usr/bin/env bash
# The project's checks, in the order CI runs them: format, lints, the README's test command,
# a headless build, and the docs. Fails on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

echo "== cargo test (the README's test command)"
cargo test

echo "== headless build (--no-default-features)"
cargo build --no-default-features

echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
