#!/usr/bin/env bash
# Builds the release benchmark and the release device agent, then prints the benchmark table
# (docs/BENCHMARKS.md explains every figure). Arguments go to edge-bench, e.g.
#   ./scripts/bench.sh --quick
#   ./scripts/bench.sh --only ingest,alerts --runs 9
# Installs what it needs first (PostgreSQL and openssl for the drain part), as test.sh does.
# The table goes to stdout, builds and progress to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-packages.sh

# The agent is built as install.sh builds it (EDGE_DEVICE_ONLY=1: no server packages in the
# graph; the Swift runtime linked in), in its own scratch directory so the two package graphs
# never share build state. footprint-floor, the footprint baseline, is built the same way.
swift build -c release --product edge-bench >&2
for product in edge-agent footprint-floor; do
    EDGE_DEVICE_ONLY=1 swift build -c release --static-swift-stdlib --product "$product" --scratch-path .build-device >&2
done

exec .build/release/edge-bench --agent .build-device/release/edge-agent --floor .build-device/release/footprint-floor "$@"
