#!/usr/bin/env bash
# Runs every test: installs the Debian packages the build and the tests need (C libraries,
# PostgreSQL for the throwaway cluster the sync tests start, openssl for test certificates),
# builds everything, and runs the whole suite. Tests that need PostgreSQL never skip.
# Then the Raspberry Pi step (scripts/test-arm64.sh): the arm64 builds for bookworm and trixie
# run under qemu, and the amd64 .deb installed into a staging root (docs/ARM.md).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-packages.sh
swift build --build-tests
swift test --skip-build
scripts/test-arm64.sh
