#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the benchmark need: the C libraries,
# PostgreSQL (the throwaway clusters), openssl (certificates), curl, systemd (unit checks),
# libseccomp-dev and gcc (scripts/unit-sandbox.sh runs the agent under the unit's syscall filter).
# python3 and python3-aiosmtpd run scripts/notify-receiver.py, the HTTPS and SMTP services the
# notification tests deliver to; python3-prometheus-client parses the agent's metrics textfile and the
# server's /metrics in their tests. chromium and python3-venv run the dashboard's browser tests
# (Tests/Browser): Playwright comes from PyPI into its own venv (Debian's Python refuses a system-wide
# pip install), and drives Debian's chromium, never a browser of its own.
# Does nothing when they are all there; needs root otherwise.
set -euo pipefail

packages=(libsqlite3-dev libgpiod-dev libi2c-dev libcurl4-openssl-dev zlib1g-dev
          postgresql openssl curl ca-certificates systemd binutils
          libseccomp-dev gcc
          python3 python3-aiosmtpd python3-prometheus-client
          chromium python3-venv)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "install-packages.sh: missing Debian packages: ${missing[*]} (run as root, or apt-get install them)" >&2
        exit 1
    fi
    echo "install-packages.sh: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# Playwright for the browser tests, in a venv of its own; REEF_BROWSER_VENV (the tests read it too) puts it
# elsewhere if it lives elsewhere. Its own browser download is never run: the tests launch
# /usr/bin/chromium.
venv=${REEF_BROWSER_VENV:-/opt/reef-edge-browser-venv}
if ! "$venv/bin/python" -c "import playwright" 2>/dev/null; then
    if [[ $(id -u) -ne 0 && ! -w "$(dirname "$venv")" ]]; then
        echo "install-packages.sh: Playwright is missing from $venv (run as root, or set REEF_BROWSER_VENV to a writable path)" >&2
        exit 1
    fi
    echo "install-packages.sh: installing Playwright into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "playwright==1.65.2" >&2
fi
