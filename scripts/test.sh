#!/usr/bin/env bash
# Runs every test: installs the Debian packages the build and the tests need (C libraries,
# PostgreSQL for the throwaway cluster the sync tests start, openssl for test certificates),
# builds everything, and runs the whole suite. Tests that need PostgreSQL never skip.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libsqlite3-dev libgpiod-dev libi2c-dev libcurl4-openssl-dev zlib1g-dev
          postgresql openssl curl ca-certificates systemd)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "test.sh: missing Debian packages: ${missing[*]} (run as root, or apt-get install them)" >&2
        exit 1
    fi
    echo "test.sh: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

swift build --build-tests
swift test --skip-build
