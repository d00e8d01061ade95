#!/usr/bin/env bash
# Sets up reef-edge's agent on Debian 12 / Raspberry Pi OS (bookworm): Debian packages, a
# release build of edge-agent only, the edge-agent system user (groups gpio, i2c), its
# directories, the default config and profiles, and a hardened systemd unit.
#
#   sudo ./install.sh              install or update (safe to re-run; config is never overwritten)
#   sudo ./install.sh --run        install, then run the agent (systemd if it is running, else in the foreground)
#   sudo ./install.sh --uninstall  remove what install added; keeps /etc/edge-agent and /var/lib/edge-agent
#   sudo ./install.sh --uninstall --purge   ... and the config and the data
#   ./install.sh --root DIR [--binary PATH]  install into a staging root (no packages, no systemctl)
#   sudo ./install.sh --deb edge-agent_VERSION_ARCH.deb [--run]   install the package scripts/build-arm64.sh
#        built (apt fetches its libraries; no toolchain needed); with --root DIR, dpkg --root into DIR
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root=""
binary=""
deb=""
action=install
purge=0
run_after=0
skip_packages=0

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --root) root="$(realpath -m "$2")"; shift 2 ;;
        --binary) binary="$2"; shift 2 ;;
        --deb) deb="$(realpath -m "$2")"; shift 2 ;;
        --uninstall) action=uninstall; shift ;;
        --purge) purge=1; shift ;;
        --run) run_after=1; shift ;;
        --no-packages) skip_packages=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

staging=0
if [[ -n "$root" ]]; then staging=1; skip_packages=1; mkdir -p "$root"; fi
if [[ $staging -eq 0 && $(id -u) -ne 0 ]]; then
    echo "install.sh: run as root (sudo ./install.sh), or use --root DIR to stage into a directory" >&2
    exit 1
fi

bin_dir="$root/usr/local/bin"
conf_dir="$root/etc/edge-agent"
data_dir="$root/var/lib/edge-agent"
unit_file="$root/etc/systemd/system/edge-agent.service"
sysusers_file="$root/usr/lib/sysusers.d/edge-agent.conf"
systemd_running() { [[ $staging -eq 0 && -d /run/systemd/system ]]; }
say() { echo "install.sh: $*"; }

# Build and runtime dependencies. The agent itself needs only the runtime libraries; the
# -dev packages are what SwiftPM links against when building on the device.
packages=(libsqlite3-dev libgpiod-dev libi2c-dev libcurl4-openssl-dev zlib1g-dev ca-certificates)

install_packages() {
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        say "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    fi
}

build_agent() {
    if ! command -v swift >/dev/null; then
        echo "install.sh: no Swift toolchain in PATH. Install Swift 6.3 (https://www.swift.org/install/linux/)," >&2
        echo "            or build elsewhere and pass --binary PATH." >&2
        exit 1
    fi
    say "building edge-agent (release; the fleet server's packages are left out)"
    (cd "$here" && EDGE_DEVICE_ONLY=1 swift build -c release --static-swift-stdlib --product edge-agent >&2)
    binary="$here/.build/release/edge-agent"
}

write_unit() {
    mkdir -p "$(dirname "$unit_file")"
    install -m 0644 "$here/packaging/edge-agent.service" "$unit_file"
}

write_sysusers() {
    mkdir -p "$(dirname "$sysusers_file")"
    install -m 0644 "$here/packaging/edge-agent.sysusers" "$sysusers_file"
    mkdir -p "$root/etc"
    if [[ $staging -eq 1 ]]; then
        # Empty account files for systemd-sysusers to fill: the shadow files with the modes
        # Debian gives them (never world-readable), and only where the root has none yet.
        [[ -e "$root/etc/passwd" ]] || install -m 0644 /dev/null "$root/etc/passwd"
        [[ -e "$root/etc/group" ]] || install -m 0644 /dev/null "$root/etc/group"
        [[ -e "$root/etc/shadow" ]] || install -m 0640 /dev/null "$root/etc/shadow"
        [[ -e "$root/etc/gshadow" ]] || install -m 0640 /dev/null "$root/etc/gshadow"
        systemd-sysusers --root="$root" "$sysusers_file" >/dev/null 2>&1
    else
        systemd-sysusers "$sysusers_file"
    fi
}

owner() { # chown only on a real system: a staging root has no such user in the host's passwd
    if [[ $staging -eq 0 ]]; then chown "$@"; fi
}

token_hint() {
    if [[ ! -s "$conf_dir/token" ]]; then
        say "to sync with a fleet server: set sync.url in $conf_dir/agent.yaml and write the device token with"
        say "  printf '%s\\n' \"\$TOKEN\" | sudo install -m 0600 -o edge-agent -g edge-agent /dev/stdin $conf_dir/token"
    fi
}

do_install() {
    [[ $skip_packages -eq 1 ]] || install_packages
    [[ -n "$binary" ]] || build_agent
    [[ -x "$binary" ]] || { echo "install.sh: '$binary' is not an executable" >&2; exit 1; }

    install -D -m 0755 "$binary" "$bin_dir/edge-agent"
    install -d -m 0755 "$conf_dir" "$conf_dir/profiles" "$root/usr/local/share/doc/edge-agent"
    install -m 0644 "$here/README.md" "$root/usr/local/share/doc/edge-agent/README.md"
    shopt -s nullglob
    for profile in "$here"/device-profiles/*.yaml; do
        target="$conf_dir/profiles/$(basename "$profile")"
        if [[ -e "$target" ]] && ! cmp -s "$profile" "$target"; then
            install -m 0644 "$profile" "$target.dist"
            say "kept your $target; the shipped version is $target.dist"
        else
            install -m 0644 "$profile" "$target"
        fi
    done
    if [[ ! -e "$conf_dir/agent.yaml" ]]; then
        install -m 0640 "$here/packaging/agent.yaml" "$conf_dir/agent.yaml"
    else
        say "kept your $conf_dir/agent.yaml"
    fi
    write_sysusers
    install -d -m 0750 "$data_dir"
    owner edge-agent:edge-agent "$data_dir"
    owner root:edge-agent "$conf_dir/agent.yaml"
    # The device token's file, empty until the operator writes the token into it (README
    # "Sync"); created here so its owner and mode (0600, the agent's user) are right from the start.
    if [[ ! -e "$conf_dir/token" ]]; then
        install -m 0600 /dev/null "$conf_dir/token"
        owner edge-agent:edge-agent "$conf_dir/token"
    fi
    write_unit

    if systemd_running; then
        systemctl daemon-reload
        systemctl enable edge-agent.service >/dev/null
        systemctl restart edge-agent.service
        token_hint
        say "edge-agent is running under systemd: 'systemctl status edge-agent', 'journalctl -fu edge-agent', 'edge-agent status'"
    elif [[ $staging -eq 0 ]]; then
        token_hint
        say "installed. systemd is not running here, so start the agent in the foreground:"
        say "  runuser -u edge-agent -- /usr/local/bin/edge-agent run --config /etc/edge-agent/agent.yaml"
    else
        say "staged into $root"
    fi
}

# The .deb path: the package carries the same unit (paths under /usr), user, directories and
# config; dpkg and apt do what do_install does by hand. The package enables the service but
# leaves starting it to --run or the keeper.
do_install_deb() {
    [[ -f "$deb" ]] || { echo "install.sh: no such package '$deb'" >&2; exit 1; }
    if [[ $staging -eq 1 ]]; then
        # A bare root has no dpkg database; the maintainer scripts run here against the root
        # (DPKG_ROOT) and the libraries are not installed into it.
        mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
        [[ -e "$root/var/lib/dpkg/status" ]] || : > "$root/var/lib/dpkg/status"
        dpkg --root="$root" --force-script-chrootless --force-depends -i "$deb"
        say "staged $(basename "$deb") into $root"
    else
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb"
        token_hint
        say "installed $(basename "$deb"); edge-agent.service is enabled, not started (edit /etc/edge-agent/agent.yaml, then: systemctl start edge-agent)"
    fi
}

do_uninstall() {
    if [[ $staging -eq 0 ]] && dpkg-query -W -f='${Status}' edge-agent 2>/dev/null | grep -q "ok installed"; then
        # Installed from the .deb: dpkg keeps config and data on remove, drops them on purge.
        if [[ $purge -eq 1 ]]; then apt-get purge -y -qq edge-agent; else apt-get remove -y -qq edge-agent; fi
        return
    fi
    if systemd_running; then
        systemctl disable --now edge-agent.service 2>/dev/null || true
    fi
    rm -f "$unit_file" "$bin_dir/edge-agent" "$sysusers_file"
    rm -rf "$root/usr/local/share/doc/edge-agent"
    if systemd_running; then systemctl daemon-reload; fi
    if [[ $staging -eq 1 ]]; then
        for f in passwd group shadow gshadow; do
            [[ -f "$root/etc/$f" ]] && sed -i -e '/^edge-agent:/d' -e 's/\(:\|,\)edge-agent\(,\|$\)/\1\2/; s/,$//' "$root/etc/$f"
        done
    elif id edge-agent >/dev/null 2>&1; then
        userdel edge-agent 2>/dev/null || say "could not remove user edge-agent (still running?)"
    fi
    if [[ $purge -eq 1 ]]; then
        rm -rf "$conf_dir" "$data_dir"
        say "removed edge-agent, its configuration and its data"
    else
        say "removed edge-agent; kept $conf_dir and $data_dir (add --purge to delete them)"
    fi
}

agent="/usr/local/bin/edge-agent"
case "$action" in
    install) if [[ -n "$deb" ]]; then do_install_deb; agent="/usr/bin/edge-agent"; else do_install; fi ;;
    uninstall) do_uninstall ;;
esac

if [[ $run_after -eq 1 && $action == install && $staging -eq 0 ]]; then
    if systemd_running; then
        [[ -z "$deb" ]] || systemctl start edge-agent.service
        sleep 3
        "$agent" status --config /etc/edge-agent/agent.yaml || true
    else
        exec runuser -u edge-agent -- "$agent" run --config /etc/edge-agent/agent.yaml
    fi
fi
