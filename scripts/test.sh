#!/usr/bin/env bash
# Runs every test: installs the Debian packages the build and the tests need (C libraries,
# PostgreSQL for the throwaway cluster the sync tests start, openssl for test certificates,
# python3-aiosmtpd for the notification tests' mail server), builds everything, and runs the
# whole suite. Tests that need PostgreSQL or a receiver never skip.
#
# The suite runs as three groups, one after another: the tests that start the real agent as
# processes (AgentTests), those that start PostgreSQL and the fleet server (SyncTests), then
# everything in-process. Each group runs its suites in parallel; running all three at once on a
# 2-core machine made the tests that bound a real process's timing (a stop within 2 s, pulses
# counted over 1 s) fail for want of CPU, not for a defect.
# Then the Raspberry Pi step (scripts/test-arm64.sh): the arm64 builds for bookworm and trixie
# run under qemu, and the amd64 .deb installed into a staging root (docs/ARM.md).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-packages.sh
swift build --build-tests
swift test --skip-build --filter '^AgentTests\.'
swift test --skip-build --filter '^SyncTests\.'
swift test --skip-build --skip '^AgentTests\.' --skip '^SyncTests\.'
scripts/test-arm64.sh
