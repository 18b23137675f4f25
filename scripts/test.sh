#!/usr/bin/env bash
# The whole test suite: unit, property, simulation, fuzz-corpus replay and the namespace
# end-to-end tests (hitless against itself and against strongSwan). Needs root for the
# namespace tests; installs the system packages it needs (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

# Doc tests first: the run ends on the end-to-end summary, the figure a reader looks for.
echo "== doc tests"
cargo test --doc --workspace --exclude hitless-e2e --locked

# The namespace tests run the daemons users run: release builds (the rekey tests push 50,000
# packets/s through them, which an unoptimised data plane cannot carry on 2 cores).
echo "== building hitlessd and hitlessctl (release) for the end-to-end tests"
cargo build --release --locked -p hitlessd -p hitlessctl
export HITLESS_BIN_DIR="${CARGO_TARGET_DIR:-$PWD/target}/release"

if cargo nextest --version >/dev/null 2>&1; then
    echo "== unit, property and simulation tests"
    cargo nextest run --workspace --exclude hitless-e2e --locked --no-fail-fast
    echo "== end-to-end tests in network namespaces (one at a time)"
    cargo nextest run -p hitless-e2e --locked --no-fail-fast --test-threads 1
else
    echo "== unit, property and simulation tests"
    cargo test --workspace --exclude hitless-e2e --locked --no-fail-fast
    echo "== end-to-end tests in network namespaces (one at a time)"
    cargo test -p hitless-e2e --locked --no-fail-fast -- --test-threads 1
fi
