#!/usr/bin/env bash
# Runs every test: installs the Debian packages the build and the tests need (C libraries,
# PostgreSQL for the throwaway cluster the sync tests start, openssl for test certificates),
# builds everything, and runs the whole suite. Tests that need PostgreSQL never skip.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-packages.sh
swift build --build-tests
swift test --skip-build
