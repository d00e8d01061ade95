#!/usr/bin/env bash
# Packages a built edge-agent as edge-agent_VERSION_ARCH.deb with dpkg-deb; prints its path.
# scripts/build-arm64.sh calls it; by hand:
#
#   packaging/deb/make-deb.sh --binary PATH --arch arm64|amd64 --target bookworm|trixie --out DIR [--fast]
#
# --fast compresses with gzip -1 instead of xz -6 (the tests package a 300 MB debug build).
#
# The unit and the sysusers entry are install.sh's own files (packaging/edge-agent.service,
# packaging/edge-agent.sysusers) with /usr/local/bin made /usr/bin: one unit, two installers.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
binary="" arch="" target="" out="" compression=(-Zxz)
die() { echo "make-deb: error: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --binary) binary="$2"; shift 2 ;;
        --arch) arch="$2"; shift 2 ;;
        --target) target="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --fast) compression=(-Zgzip -z1); shift ;;
        *) die "unknown option '$1'" ;;
    esac
done
[[ -x "$binary" && -n "$arch" && -n "$target" && -n "$out" ]] \
    || die "needs --binary (an executable), --arch, --target and --out"
# The release's names for the libraries the agent links (readelf -d): libgpiod 1.6 is libgpiod2,
# 2.x libgpiod3; trixie renamed libcurl4 for the 64-bit time_t transition. Bookworm's lintian
# expects units in /lib, trixie's in /usr/lib.
case "$target" in
    bookworm) suffix=deb12; unit_dir=lib/systemd/system
        depends="libc6 (>= 2.34), libgcc-s1, libstdc++6 (>= 12), libsqlite3-0, libgpiod2, libi2c0, libcurl4, zlib1g" ;;
    trixie) suffix=deb13; unit_dir=usr/lib/systemd/system
        depends="libc6 (>= 2.34), libgcc-s1, libstdc++6 (>= 14), libsqlite3-0, libgpiod3, libi2c0, libcurl4t64, zlib1g" ;;
    *) die "unknown target '$target'" ;;
esac

upstream="$(sed -n 's/.*static let version = "\(.*\)".*/\1/p' "$repo/Sources/edge-agent/CLI/EdgeAgent.swift")"
[[ -n "$upstream" ]] || die "no 'static let version' in Sources/edge-agent/CLI/EdgeAgent.swift"
version="$upstream-1~$suffix"
stage="$(mktemp -d)"
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT

install -D -m 0755 "$binary" "$stage/usr/bin/edge-agent"
# The unit as install.sh installs it, pointed at the package's paths.
install -d "$stage/$unit_dir"
sed -e '1s/.*/# Installed by the edge-agent Debian package; local changes belong in a drop-in (systemctl edit edge-agent)./' \
    -e 's|/usr/local/bin/edge-agent|/usr/bin/edge-agent|g' \
    -e 's|/usr/local/share/doc/edge-agent|/usr/share/doc/edge-agent|g' \
    "$repo/packaging/edge-agent.service" >"$stage/$unit_dir/edge-agent.service"
chmod 0644 "$stage/$unit_dir/edge-agent.service"
install -D -m 0644 "$repo/packaging/edge-agent.sysusers" "$stage/usr/lib/sysusers.d/edge-agent.conf"
install -D -m 0644 "$here/edge-agent.tmpfiles" "$stage/usr/lib/tmpfiles.d/edge-agent.conf"
install -D -m 0644 "$repo/packaging/agent.yaml" "$stage/etc/edge-agent/agent.yaml"
for profile in "$repo"/device-profiles/*.yaml; do
    install -D -m 0644 "$profile" "$stage/etc/edge-agent/profiles/$(basename "$profile")"
done
install -D -m 0644 "$repo/README.md" "$stage/usr/share/doc/edge-agent/README.md"
install -D -m 0644 "$here/copyright" "$stage/usr/share/doc/edge-agent/copyright"
install -D -m 0644 "$here/lintian-overrides" "$stage/usr/share/lintian/overrides/edge-agent"
sed -e "s/@VERSION@/$version/" -e "s/@DISTRIBUTION@/$target/" \
    -e "s/@DATE@/$(date -R -d "@$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)")/" \
    "$here/changelog" | gzip -9n >"$stage/usr/share/doc/edge-agent/changelog.Debian.gz"
chmod 0644 "$stage/usr/share/doc/edge-agent/changelog.Debian.gz"

install -d -m 0755 "$stage/DEBIAN"
for script in postinst prerm postrm; do install -m 0755 "$here/$script" "$stage/DEBIAN/$script"; done
(cd "$stage" && find etc -type f | sed 's|^|/|' | sort) >"$stage/DEBIAN/conffiles"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"
installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$depends/" \
    -e "s/@SIZE@/$installed_size/" "$here/control" >"$stage/DEBIAN/control"

mkdir -p "$out"
deb="$out/edge-agent_${version}_$arch.deb"
dpkg-deb --root-owner-group "${compression[@]}" --build "$stage" "$deb" >/dev/null
echo "$deb"
