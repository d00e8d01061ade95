#!/usr/bin/env bash
# Builds edge-agent for a Raspberry Pi (arm64) or an x86 board (amd64) on a Debian 12 x86_64
# machine that reaches only Debian's archive, and packages it as a .deb (docs/ARM.md).
#
#   sudo scripts/build-arm64.sh --target bookworm|trixie [--arch arm64|amd64] [--no-deb]
#
# The compiler is Debian sid's swiftlang in a sid chroot; the target side is a sysroot of the
# chosen release (its glibc, libgpiod, libcurl …) plus sid's runtime for the chosen
# architecture, of exactly the compiler's version. The Swift runtime is linked statically.
# Everything is cached under $REEF_ARM64_CACHE (default /var/cache/reef-edge-arm64); a re-run
# with nothing changed takes seconds. Sid's package index is re-read once a day
# (REEF_ARM64_REFRESH=1 forces it); when sid ships a new swiftlang the chroot and the runtimes
# follow it. Outputs go to $REEF_ARM64_OUT (default .build/arm64/TARGET-ARCH in the repository).
# Needs root (debootstrap, chroot), and debootstrap, binutils (readelf, strip),
# binutils-aarch64-linux-gnu and dpkg-dev's dpkg-deb on the host.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target=""
arch=arm64
make_deb=1

say() { echo "build-arm64: $*" >&2; }
die() { echo "build-arm64: error: $*" >&2; exit 1; }
usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --target) target="${2:-}"; shift 2 || die "--target needs bookworm or trixie" ;;
        --arch) arch="${2:-}"; shift 2 || die "--arch needs arm64 or amd64" ;;
        --no-deb) make_deb=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
done

# What differs between the releases: the GCC whose libstdc++ the runtime links and the newest
# glibc symbol version the binary may use (the .deb's Depends: packaging/deb/make-deb.sh).
case "$target" in
    bookworm) gcc_major=12; glibc_max=2.36 ;;
    trixie)   gcc_major=14; glibc_max=2.41 ;;
    "") usage >&2; die "say which Raspberry Pi OS / Debian release to build for: --target bookworm or --target trixie" ;;
    *) die "unknown target '$target': bookworm (Raspberry Pi OS 12) or trixie (Raspberry Pi OS 13)" ;;
esac
case "$arch" in
    arm64) triple=aarch64-unknown-linux-gnu; multiarch=aarch64-linux-gnu; strip_tool=aarch64-linux-gnu-strip ;;
    # Debian's amd64 swiftlang names its modules for x86_64-pc-linux-gnu.
    amd64) triple=x86_64-pc-linux-gnu; multiarch=x86_64-linux-gnu; strip_tool=strip ;;
    *) die "unknown architecture '$arch': arm64 or amd64" ;;
esac

[[ $(id -u) -eq 0 ]] || die "run as root: debootstrap and chroot need it (sudo $0 --target $target)"
[[ $(dpkg --print-architecture) == amd64 ]] || die "this script runs on an x86_64 (amd64) Debian machine; sid's swiftlang is used as an amd64 cross-compiler"
for tool in debootstrap readelf "$strip_tool" dpkg-deb unshare chroot flock; do
    command -v "$tool" >/dev/null || die "'$tool' is missing: apt-get install debootstrap binutils binutils-aarch64-linux-gnu dpkg-dev util-linux"
done

cache="${REEF_ARM64_CACHE:-/var/cache/reef-edge-arm64}"
mirror="${REEF_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
out="${REEF_ARM64_OUT:-$repo/.build/arm64/$target-$arch}"
chroot_dir="$cache/sid-amd64"
sysroot="$cache/sysroot-$target-$arch"
sdk_id="reef-$target-$arch"
sdks="$cache/sdks"
work="$cache/work-$target-$arch"
mkdir -p "$cache" "$out"
# One run per target at a time; runs for different targets share the chroot, so its creation
# and refresh are serialised too.
exec 9>"$cache/lock-$target-$arch"
flock -n 9 || { say "waiting for another build-arm64 run for $target $arch to finish"; flock 9; }
exec 8>"$cache/lock-chroot"
flock 8

started=$SECONDS

# Runs a command inside the sid chroot, in a private mount namespace so nothing stays mounted
# when it ends (or fails). The cache is /cache inside; the package mirrors the host's git
# rewrites point at (url.*.insteadOf with a local path) are mounted read-only at their paths.
in_chroot() {
    unshare --mount --propagation private -- /bin/bash -euc '
        root=$1; cache=$2; shift 2
        mount --rbind /dev "$root/dev"
        mount -t proc proc "$root/proc"
        mkdir -p "$root/cache" "$root/src"
        mount --bind "$cache" "$root/cache"
        mount --bind "$REEF_SRC" "$root/src"
        for dir in $REEF_GIT_MIRRORS; do
            mkdir -p "$root$dir"; mount --bind -o ro "$dir" "$root$dir"
        done
        exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
            PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin:/usr/libexec/swift/bin DEBIAN_FRONTEND=noninteractive "$@"
    ' in_chroot "$chroot_dir" "$cache" "$@"
}
export REEF_SRC="$repo"
# Local package mirrors the host's git configuration rewrites GitHub to (SwiftPM fetches
# through git, so inside the chroot the same rules and paths must exist).
git_rules="$(git config --system --get-regexp '^url\..*\.insteadof$' 2>/dev/null || true)"
REEF_GIT_MIRRORS=""
while read -r key _; do
    base="${key#url.}"; base="${base%.insteadof}"
    if [[ $base == /* && -d $base ]]; then REEF_GIT_MIRRORS+=" ${base%/}"; fi
done <<<"$git_rules"
export REEF_GIT_MIRRORS

# --- 1. the compiler: sid amd64 with swiftlang -------------------------------------------
if [[ ! -e "$chroot_dir/.reef-ready" ]]; then
    say "creating the sid chroot with Swift in $chroot_dir (once; a few minutes)"
    rm -rf "$chroot_dir"
    debootstrap --variant=minbase sid "$chroot_dir" "$mirror" >"$cache/debootstrap-sid.log" 2>&1 \
        || die "debootstrap of sid failed; see $cache/debootstrap-sid.log"
    # sid's Release file expires after a week; a machine whose clock lags the archive would
    # refuse it.
    printf 'Acquire::Check-Valid-Until "false";\nAPT::Install-Recommends "false";\n' \
        >"$chroot_dir/etc/apt/apt.conf.d/99reef-edge"
    in_chroot dpkg --add-architecture arm64
    in_chroot apt-get update -qq
    in_chroot apt-get install -y -qq swiftlang git ca-certificates libc6-dev >"$cache/swiftlang-install.log" 2>&1 \
        || die "installing swiftlang in the sid chroot failed; see $cache/swiftlang-install.log"
    date +%s >"$chroot_dir/.reef-refreshed"
    touch "$chroot_dir/.reef-ready"
fi
cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf" 2>/dev/null || true
if [[ -n "$git_rules" ]]; then
    while read -r key value; do
        git config --file "$chroot_dir/etc/gitconfig" --get-all "$key" | grep -qxF "$value" \
            || git config --file "$chroot_dir/etc/gitconfig" --add "$key" "$value"
    done <<<"$git_rules"
fi

# Follow sid: once a day (or when asked) re-read its index and move to its current swiftlang.
last_refresh=$(cat "$chroot_dir/.reef-refreshed" 2>/dev/null || echo 0)
if [[ ${REEF_ARM64_REFRESH:-0} == 1 || $(( $(date +%s) - last_refresh )) -gt 86400 ]]; then
    say "reading sid's package index for the current swiftlang"
    in_chroot apt-get update -qq || die "apt-get update in the sid chroot failed (network? $mirror)"
    in_chroot apt-get install -y -qq --only-upgrade swiftlang >"$cache/swiftlang-install.log" 2>&1 \
        || die "upgrading swiftlang in the sid chroot failed; see $cache/swiftlang-install.log"
    date +%s >"$chroot_dir/.reef-refreshed"
fi
flock -u 8
swift_pkg_version="$(in_chroot dpkg-query -W -f='${Version}' swiftlang)"
swift_version="$(in_chroot swift --version 2>/dev/null | sed -n 's/.*Swift version \([0-9][0-9.]*\).*/\1/p' | head -1)"
[[ -n "$swift_version" ]] || die "swift in the sid chroot does not run; remove $chroot_dir to rebuild it"

# The project and sid must agree: the compiler has to be sid's (its runtime is the only one
# Debian ships for arm64), so a Package.swift that needs a newer Swift cannot be built here.
tools_version="$(sed -n '1s/^\/\/ *swift-tools-version: *\([0-9.]*\).*/\1/p' "$repo/Package.swift")"
if [[ "$(printf '%s\n%s\n' "$tools_version" "$swift_version" | sort -V | head -1)" != "$tools_version" ]]; then
    die "sid's swiftlang is $swift_pkg_version (Swift $swift_version) but Package.swift needs swift-tools-version $tools_version.
  The arm64 build must use the Swift that matches the only arm64 runtime Debian ships (sid's).
  Wait until sid ships Swift $tools_version or newer (REEF_ARM64_REFRESH=1 re-checks), or keep
  Package.swift and its dependencies buildable with Swift $swift_version."
fi
say "compiler: sid swiftlang $swift_pkg_version (Swift $swift_version); target: $target $arch"

# --- 2. the target: a sysroot of the release, without emulation ----------------------------
sysroot_packages="libc6-dev,libgcc-$gcc_major-dev,libstdc++-$gcc_major-dev,libsqlite3-dev,libcurl4-openssl-dev,libi2c-dev,zlib1g-dev,libgpiod-dev,ca-certificates"
if [[ ! -e "$sysroot/.reef-ready" ]]; then
    say "creating the $target $arch sysroot in $sysroot (once)"
    rm -rf "$sysroot"
    # --foreign downloads the whole set but unpacks only the required packages, and runs
    # nothing: no emulation is needed for a tree that is only linked against.
    debootstrap --foreign --arch="$arch" --variant=minbase --include="$sysroot_packages" \
        "$target" "$sysroot" "$mirror" >"$cache/debootstrap-$target-$arch.log" 2>&1 \
        || die "debootstrap of $target $arch failed; see $cache/debootstrap-$target-$arch.log"
    for deb in "$sysroot"/var/cache/apt/archives/*.deb; do
        dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink -C "$sysroot"
    done
    # Absolute symlinks (libm.so -> /lib/…/libm.so.6) would point into the host: lld then
    # silently falls back to the static libm.a. Make them relative to the sysroot.
    while IFS= read -r -d '' link; do
        dest="$(readlink "$link")"
        ln -sfn "$(realpath -ms --relative-to="$(dirname "$link")" "$sysroot$dest")" "$link"
    done < <(find "$sysroot" -type l -lname '/*' -print0)
    rm -f "$sysroot"/var/cache/apt/archives/*.deb
    touch "$sysroot/.reef-ready"
fi

# sid's Swift runtime for the target architecture, of exactly the compiler's version: unpacked
# once per architecture and version into the cache, linked into each release's sysroot. A
# binary-only rebuild (+bN) of one architecture is the same source version.
if [[ "$(cat "$sysroot/.reef-swift" 2>/dev/null)" != "$swift_pkg_version" ]]; then
    runtime="$cache/runtime-$arch-$swift_pkg_version"
    if [[ ! -e "$runtime/.reef-ready" ]]; then
        runtime_version=""
        for v in $(in_chroot apt-cache show "swiftlang:$arch" 2>/dev/null | sed -n 's/^Version: //p'); do
            if [[ $v == "$swift_pkg_version" ]]; then runtime_version=$v; break; fi
            if [[ ${v%%+b*} == "${swift_pkg_version%%+b*}" ]]; then runtime_version=$v; fi
        done
        [[ -n "$runtime_version" ]] || die "sid has no swiftlang:$arch of version ${swift_pkg_version%%+b*} (the compiler's).
  It may be mid-upload or not yet built for $arch: retry later with REEF_ARM64_REFRESH=1."
        say "fetching sid's swiftlang:$arch $runtime_version runtime"
        mkdir -p "$cache/debs"
        rm -rf "$cache"/debs/swiftlang_*_"$arch".deb "$runtime"
        in_chroot /bin/sh -c "cd /cache/debs && apt-get download -q -o APT::Sandbox::User=root swiftlang:$arch=$runtime_version" >&2 \
            || die "downloading swiftlang:$arch $runtime_version from sid failed (network? $mirror)"
        mkdir -p "$runtime"
        dpkg-deb --fsys-tarfile "$cache"/debs/swiftlang_*_"$arch".deb \
            | tar -x -C "$runtime" --strip-components=5 ./usr/libexec/swift/lib/swift ./usr/libexec/swift/lib/swift_static ./usr/libexec/swift/lib/clang
        rm -f "$cache"/debs/swiftlang_*_"$arch".deb
        touch "$runtime/.reef-ready"
    fi
    rm -rf "$sysroot/usr/libexec/swift"
    mkdir -p "$sysroot/usr/libexec/swift"
    ln -sfn "$(realpath -ms --relative-to="$sysroot/usr/libexec/swift" "$runtime")" "$sysroot/usr/libexec/swift/lib"
    # swift-driver looks for the runtime (and swiftrt.o) under <sdk>/usr/lib/swift{,_static}.
    ln -sfn ../libexec/swift/lib/swift "$sysroot/usr/lib/swift"
    ln -sfn ../libexec/swift/lib/swift_static "$sysroot/usr/lib/swift_static"
    # Clang's module cache remembers where the runtime's headers were ("module '_Builtin_stddef'
    # is defined in both …" otherwise); SwiftPM itself rebuilds on a new compiler version.
    rm -rf "$work"/*/release/ModuleCache
    echo "$swift_pkg_version" >"$sysroot/.reef-swift"
fi

# --- 3. the Swift SDK bundle ---------------------------------------------------------------
variant="$sdks/$sdk_id.artifactbundle/$sdk_id/$triple"
mkdir -p "$variant"
ln -sfn "$(realpath -ms --relative-to="$variant" "$sysroot")" "$variant/sysroot"
cp "$repo/scripts/arm64/glibc-compat.c" "$variant/glibc-compat.c.new"
if ! cmp -s "$variant/glibc-compat.c.new" "$variant/glibc-compat.c" || [[ ! -e "$variant/glibc-compat.o" ]] \
        || [[ "$(cat "$variant/.reef-swift" 2>/dev/null)" != "$swift_pkg_version" ]]; then
    mv "$variant/glibc-compat.c.new" "$variant/glibc-compat.c"
    in_chroot clang --target="$triple" --sysroot="/cache/sysroot-$target-$arch" -O2 -fPIC -Wall -Werror \
        -c "/cache/sdks/$sdk_id.artifactbundle/$sdk_id/$triple/glibc-compat.c" \
        -o "/cache/sdks/$sdk_id.artifactbundle/$sdk_id/$triple/glibc-compat.o"
    echo "$swift_pkg_version" >"$variant/.reef-swift"
else
    rm -f "$variant/glibc-compat.c.new"
fi
cat >"$sdks/$sdk_id.artifactbundle/info.json" <<JSON
{
  "schemaVersion": "1.0",
  "artifacts": {
    "$sdk_id": { "type": "swiftSDK", "version": "$swift_version", "variants": [ { "path": "$sdk_id/$triple" } ] }
  }
}
JSON
cat >"$variant/swift-sdk.json" <<JSON
{
  "schemaVersion": "4.0",
  "targetTriples": {
    "$triple": {
      "sdkRootPath": "sysroot",
      "swiftResourcesPath": "sysroot/usr/lib/swift",
      "swiftStaticResourcesPath": "sysroot/usr/lib/swift_static",
      "toolsetPaths": ["toolset.json"]
    }
  }
}
JSON
cat >"$variant/toolset.json" <<JSON
{
  "schemaVersion": "1.0",
  "swiftCompiler": { "extraCLIOptions": ["-use-ld=lld"] },
  "linker": { "extraCLIOptions": ["/cache/sdks/$sdk_id.artifactbundle/$sdk_id/$triple/glibc-compat.o"] }
}
JSON

# --- 4. the build ------------------------------------------------------------------------
# Package.swift picks the GPIO backend from the libgpiod it finds through pkg-config's
# search path: the sysroot's, not the chroot's.
build_started=$SECONDS
say "building edge-agent (release, static Swift runtime) for $target $arch"
in_chroot /usr/bin/env EDGE_DEVICE_ONLY=1 \
    PKG_CONFIG_LIBDIR="/cache/sysroot-$target-$arch/usr/lib/$multiarch/pkgconfig:/cache/sysroot-$target-$arch/usr/share/pkgconfig" \
    swift build --package-path /src -c release --static-swift-stdlib --product edge-agent \
        --swift-sdk "$sdk_id" --swift-sdks-path /cache/sdks --scratch-path "/cache/work-$target-$arch" \
        --manifest-cache local \
    || die "swift build for $target $arch failed; the compiler's errors are above (it is sid's Swift
  $swift_version: code that needs a newer Swift does not build here until sid ships one)."
build_seconds=$((SECONDS - build_started))
built="$work/$triple/release/edge-agent"
[[ -x "$built" ]] || built="$work/release/edge-agent"
[[ -x "$built" ]] || die "swift build succeeded but no edge-agent binary is in $work"

# --- 5. checks: the release's glibc, its libraries ----------------------------------------
binary="$out/edge-agent"
if [[ ! "$binary" -nt "$built" ]]; then
    "$strip_tool" --strip-all --remove-section=.comment -o "$binary.tmp" "$built"
    mv "$binary.tmp" "$binary"
fi
glibc_floor="$(readelf -W --version-info "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)"
if [[ "$(printf '%s\n%s\n' "$glibc_floor" "$glibc_max" | sort -V | tail -1)" != "$glibc_max" ]]; then
    die "$binary needs GLIBC_$glibc_floor but $target has $glibc_max (scripts/arm64/glibc-compat.c lacks a symbol?)"
fi
missing_libs=""
for lib in $(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    compgen -G "$sysroot/usr/lib/$multiarch/$lib" >/dev/null || compgen -G "$sysroot/lib/$multiarch/$lib" >/dev/null \
        || missing_libs+=" $lib"
done
[[ -z "$missing_libs" ]] || die "$binary needs libraries $target does not have:$missing_libs"

deb_path=""
if [[ $make_deb -eq 1 ]]; then
    # Repackaged only when the binary or anything the package holds changed (xz takes a minute).
    previous="$(cat "$out/.reef-deb" 2>/dev/null || true)"
    if [[ -z "$previous" || ! -e "$previous" ]] || [[ -n "$(find "$binary" "$repo/packaging" "$repo/device-profiles" \
            "$repo/README.md" "$repo/Sources/edge-agent/CLI/EdgeAgent.swift" -newer "$previous" -print -quit)" ]]; then
        deb_path="$("$repo/packaging/deb/make-deb.sh" --binary "$binary" --arch "$arch" --target "$target" --out "$out")"
        echo "$deb_path" >"$out/.reef-deb"
    else
        deb_path="$previous"
    fi
fi

size_bytes=$(stat -c %s "$binary")
echo "binary:      $binary"
echo "target:      $target $arch (Swift $swift_version, sid swiftlang $swift_pkg_version, runtime static)"
echo "stripped:    $size_bytes bytes ($(awk -v b="$size_bytes" 'BEGIN { printf "%.1f MiB", b / 1048576 }'))"
echo "glibc floor: GLIBC_$glibc_floor (target has $glibc_max)"
echo "needs:       $(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
[[ -z "$deb_path" ]] || echo "package:     $deb_path"
echo "sysroot:     $sysroot"
echo "time:        $((SECONDS - started)) s (swift build $build_seconds s)"
