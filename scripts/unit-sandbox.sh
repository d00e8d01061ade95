#!/usr/bin/env bash
# Runs a command under the seccomp part of edge-agent.service (SystemCallFilter=,
# SystemCallArchitectures=, MemoryDenyWriteExecute=, RestrictAddressFamilies=,
# CapabilityBoundingSet=, NoNewPrivileges=), for tests where systemd is not PID 1.
#
#   scripts/unit-sandbox.sh UNIT_FILE [--as USER] -- COMMAND [ARGS...]
#
# --as USER runs the command as that user (with no supplementary groups), as the unit's User=
# does; root behaves differently (SQLite, for one, chowns its journal files when run as root).
#
# The allowed syscalls are systemd's own sets, expanded by `systemd-analyze syscall-filter`
# from the unit's SystemCallFilter= lines. Needs libseccomp-dev and a C compiler.
set -euo pipefail
usage="usage: unit-sandbox.sh UNIT_FILE [--as USER] -- COMMAND [ARGS...]"
unit="${1:?$usage}"; shift
as=()
if [[ "${1:-}" == "--as" ]]; then
    as=(setpriv --reuid="${2:?$usage}" --regid="$(id -g "$2")" --clear-groups --bounding-set=-all --inh-caps=-all --); shift 2
fi
[[ "${1:-}" == "--" ]] || { echo "$usage" >&2; exit 2; }
shift
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Every syscall a set names, following nested @sets.
expand() {
    local name
    for name in "$@"; do
        if [[ "$name" == @* ]]; then
            expand $(systemd-analyze syscall-filter --no-pager "$name" | sed -e 's/#.*//' -e '1d' | tr -s ' \n' '\n' | grep -v '^$')
        else
            echo "$name"
        fi
    done
}

# The unit's SystemCallFilter= lines in order, as systemd applies them: the first (an allow
# list) sets the list, a later "~" line removes from it, a later plain line adds to it.
: > "$work/syscalls"
lines=0
while IFS= read -r line; do
    value="${line#SystemCallFilter=}"
    if [[ "$value" == "~"* ]]; then
        expand ${value#\~} | sort -u > "$work/change"
        comm -23 "$work/syscalls" "$work/change" > "$work/next"
    else
        expand $value | sort -u > "$work/change"
        sort -u "$work/syscalls" "$work/change" > "$work/next"
    fi
    mv "$work/next" "$work/syscalls"
    lines=$((lines + 1))
done < <(grep '^SystemCallFilter=' "$unit")
[[ $lines -gt 0 && -s "$work/syscalls" ]] || { echo "unit-sandbox.sh: $unit has no SystemCallFilter= allow list" >&2; exit 2; }
cc -O1 -o "$work/unit-sandbox" "$here/unit-sandbox.c" -lseccomp
chmod 0755 "$work"
"${as[@]}" "$work/unit-sandbox" "$work/syscalls" -- "$@"
