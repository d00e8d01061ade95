#!/usr/bin/env bash
# Builds the release benchmark and the release device agent, then prints the benchmark table
# (docs/BENCHMARKS.md explains every figure). Arguments go to edge-bench, e.g.
#   ./scripts/bench.sh --quick
#   ./scripts/bench.sh --only ingest,alerts --runs 9
# Needs what ./scripts/test.sh installs (PostgreSQL and openssl for the drain part).
set -euo pipefail
cd "$(dirname "$0")/.."

# The agent is built as install.sh builds it (EDGE_DEVICE_ONLY=1: no server packages in the
# graph; the Swift runtime linked in), in its own scratch directory so the two package graphs
# never share build state. footprint-floor, the footprint baseline, is built the same way.
swift build -c release --product edge-bench
for product in edge-agent footprint-floor; do
    EDGE_DEVICE_ONLY=1 swift build -c release --static-swift-stdlib --product "$product" --scratch-path .build-device
done

exec .build/release/edge-bench --agent .build-device/release/edge-agent --floor .build-device/release/footprint-floor "$@"
