#!/usr/bin/env bash
# The Raspberry Pi step of scripts/test.sh (docs/ARM.md): builds edge-agent with
# scripts/build-arm64.sh for bookworm and trixie (arm64) and bookworm amd64, and
#   - under qemu-aarch64-static -L <sysroot>: --help, check-config, run --once on reef-sim.yaml
#     (every sensor prints a value), a 15 s daemon stopped by SIGTERM, then readings dump
#     --format json with rows from every sensor;
#   - checks each binary's glibc floor against its release (bookworm 2.36, trixie 2.41);
#   - installs the amd64 .deb into a staging root with dpkg --root and runs the same checks on
#     the agent it installed.
# The last line says PASS or FAIL. Needs root (the build uses debootstrap and chroot).
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
fail() { echo "test-arm64: FAIL: $*" >&2; echo "test-arm64: FAIL after $((SECONDS - started)) s" >&2; exit 1; }
step() { echo "test-arm64: $*" >&2; }
[[ $(id -u) -eq 0 ]] || fail "run as root: scripts/build-arm64.sh needs debootstrap and chroot"
# The host tools of this step (bookworm packages): the chroot and sysroots, the emulator, the
# arm64 strip, the package checker.
missing=()
for p in debootstrap qemu-user-static binutils-aarch64-linux-gnu lintian; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    step "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
        || fail "could not install ${missing[*]}"
fi

profile="$PWD/device-profiles/reef-sim.yaml"
# The profile's sensor ids: the lines "  - id: NAME" between "sensors:" and the next section.
mapfile -t sensors < <(awk '/^[a-z_]+:/ { in_sensors = ($1 == "sensors:") } in_sensors && /^  - id:/ { print $3 }' "$profile")
[[ ${#sensors[@]} -ge 5 ]] || fail "found only ${#sensors[@]} sensors in $profile"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Runs the checks on one agent: "$@" is how to start it (qemu + binary, or the binary).
exercise() {
    local name=$1; shift
    local dir="$scratch/$name"
    mkdir -p "$dir/data"
    printf 'profile: %s\ndata_dir: %s\nlog_level: info\n' "$profile" "$dir/data" >"$dir/agent.yaml"

    "$@" --help >"$dir/help" 2>&1 || fail "$name: --help failed: $(cat "$dir/help")"
    grep -q 'USAGE: edge-agent' "$dir/help" || fail "$name: --help printed no usage"

    "$@" check-config --config "$dir/agent.yaml" "$profile" >"$dir/check" 2>&1 \
        || fail "$name: check-config failed: $(cat "$dir/check")"
    grep -q "$profile: ok — ${#sensors[@]} sensors" "$dir/check" || fail "$name: check-config said: $(cat "$dir/check")"

    "$@" run --once --config "$dir/agent.yaml" >"$dir/once" 2>&1 || fail "$name: run --once failed: $(cat "$dir/once")"
    local sensor
    for sensor in "${sensors[@]}"; do
        # A row per channel: "tank_temp  25.012  °C" or "room.humidity  …"; a number, never null.
        grep -Eq "^${sensor}(\.[a-z_]+)? +-?[0-9]+(\.[0-9]+)? " "$dir/once" \
            || fail "$name: run --once printed no value for $sensor:
$(cat "$dir/once")"
    done

    "$@" run --config "$dir/agent.yaml" >"$dir/daemon.log" 2>&1 &
    local pid=$!
    sleep 15
    kill -0 "$pid" 2>/dev/null || fail "$name: the daemon exited early: $(tail -5 "$dir/daemon.log")"
    kill -TERM "$pid"
    local status=0
    wait "$pid" || status=$?
    [[ $status -eq 0 ]] || fail "$name: the daemon exited $status on SIGTERM: $(tail -5 "$dir/daemon.log")"

    "$@" readings dump --config "$dir/agent.yaml" --format json >"$dir/dump.json" 2>"$dir/dump.err" \
        || fail "$name: readings dump failed: $(cat "$dir/dump.err")"
    for sensor in "${sensors[@]}"; do
        grep -Eq "\"sensor\" *: *\"${sensor}(\.[a-z_]+)?\"" "$dir/dump.json" \
            || fail "$name: no stored reading from $sensor after 15 s"
    done
    step "$name: --help, check-config, run --once (${#sensors[@]} sensors), 15 s daemon + SIGTERM, readings dump: ok ($(grep -o '"sensor"' "$dir/dump.json" | wc -l) readings)"
}

# The newest GLIBC_x.y a binary needs, checked here again rather than trusted from the build.
check_glibc() {
    local binary=$1 max=$2 floor
    floor="$(readelf -W --version-info "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)"
    [[ "$(printf '%s\n%s\n' "$floor" "$max" | sort -V | tail -1)" == "$max" ]] \
        || fail "$binary needs GLIBC_$floor, more than $max"
    step "$binary: glibc floor GLIBC_$floor ≤ $max"
}

# lintian: no error or warning beyond the ones the package overrides, each with its reason
# (packaging/deb/lintian-overrides); the info tags left are explained in docs/ARM.md.
check_lintian() {
    lintian --fail-on error,warning --tag-display-limit 0 "$1" >"$scratch/lintian" 2>&1 \
        || fail "lintian $(basename "$1"): $(grep -v 'root privileges' "$scratch/lintian")"
    step "lintian $(basename "$1"): no errors or warnings"
}

# The GPIO backend Package.swift chose from the sysroot's libgpiod: the library linked, and a
# function only that API has among the binary's imports.
check_gpiod() {
    local binary=$1 library=$2 function=$3
    # (grep without -q: an early exit would fail the pipeline on readelf's SIGPIPE.)
    readelf -d "$binary" | grep "(NEEDED).*\[$library\]" >/dev/null || fail "$binary does not link $library"
    readelf -W --dyn-syms "$binary" | grep " $function\b" >/dev/null || fail "$binary does not call $function"
    step "$binary: GPIO backend on $library ($function)"
}

build() { # target arch → the build's summary in $scratch/build-TARGET-ARCH
    local t0=$SECONDS
    scripts/build-arm64.sh --target "$1" --arch "$2" >"$scratch/build-$1-$2" \
        || fail "scripts/build-arm64.sh --target $1 --arch $2 failed"
    cat "$scratch/build-$1-$2" >&2
    step "build $1 $2: $((SECONDS - t0)) s"
}
field() { sed -n "s/^$1: *//p" "$scratch/build-$2"; }

for target in bookworm trixie; do
    build "$target" arm64
    binary="$(field binary "$target-arm64")"
    sysroot="$(field sysroot "$target-arm64")"
    readelf -h "$binary" | grep 'Machine: *AArch64' >/dev/null || fail "$binary is not an arm64 executable"
    case "$target" in
        bookworm) check_glibc "$binary" 2.36; check_gpiod "$binary" libgpiod.so.2 gpiod_line_request_both_edges_events_flags ;;
        trixie) check_glibc "$binary" 2.41; check_gpiod "$binary" libgpiod.so.3 gpiod_line_request_read_edge_events ;;
    esac
    deb="$(field package "$target-arm64")"
    [[ "$(dpkg-deb -f "$deb" Architecture)" == arm64 ]] || fail "$deb is not an arm64 package"
    exercise "$target-arm64" qemu-aarch64-static -L "$sysroot" "$binary"
    check_lintian "$deb"
done

build bookworm amd64
deb="$(field package bookworm-amd64)"
root="$scratch/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
# The staging root has no libc of its own: the agent runs on the host's (also bookworm's), so
# the dependencies are not installed there, and the maintainer scripts run on the host
# against the root (DPKG_ROOT).
dpkg --root="$root" --force-script-chrootless --force-depends -i "$deb" >"$scratch/dpkg.log" 2>&1 \
    || fail "dpkg --root -i $deb: $(cat "$scratch/dpkg.log")"
[[ -L "$root/etc/systemd/system/multi-user.target.wants/edge-agent.service" ]] || fail "the .deb did not enable edge-agent.service"
grep -q '^edge-agent:x:' "$root/etc/passwd" || fail "the .deb created no edge-agent user"
check_glibc "$root/usr/bin/edge-agent" 2.36
exercise "bookworm-amd64 from the .deb" "$root/usr/bin/edge-agent"

echo "test-arm64: PASS (bookworm arm64, trixie arm64 under qemu; bookworm amd64 .deb in a staging root) in $((SECONDS - started)) s"
