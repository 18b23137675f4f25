#!/usr/bin/env bash
# The whole test suite: unit, property, simulation, fuzz-corpus replay and the namespace
# end-to-end tests (hitless against itself and against strongSwan). Needs root for the
# namespace tests; installs the system packages it needs (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

echo "== unit, property and simulation tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi
echo "== doc tests"
cargo test --doc --workspace --locked

if [ -x ./tests/e2e/run.sh ]; then
    echo "== end-to-end tests in network namespaces"
    ./tests/e2e/run.sh
fi
