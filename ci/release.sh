#!/usr/bin/env bash
# Builds the palisade release artifact the buildpack installs, and pins it in the inventory.
#
#   ci/release.sh [--no-build] [--binary PATH] [--arch amd64|arm64] [--out DIR]
#                 [--inventory FILE | --no-inventory] [--base-url URL] [--keep-debug]
#
# The artifact is palisade-<version>-linux-<arch>.tar.gz holding
#   palisade-<version>-linux-<arch>/{bin/palisade, rulesets/*.yml, LICENSE}
# packed reproducibly (sorted names, fixed mtime/owner, gzip -n): the same binary always gives the
# same sha256. The binary's debug info (line tables, ~80% of its size) is split off into
# palisade-<version>-linux-<arch>.debug beside the tarball (publish it with the release to
# symbolicate crash reports; rename it to palisade.debug next to the binary for gdb): the slug stays
# small and a warm build stays fast. --keep-debug ships the binary unsplit. The inventory entry for <arch> gets the version, the download URL
# (<base-url>/palisade-<version>-linux-<arch>.tar.gz) and the sha256. Entries for other
# architectures that are not at the same version lose their sha256, so a stack on that
# architecture fails the build with a clear message instead of silently installing an older
# palisade; run this script on that architecture (or with --binary/--arch) to fill them in.
#
# Build machine: Debian bookworm (glibc 2.36) so the binary runs on heroku-24 and heroku-26. Only
# amd64 can be built on the project's CI machine today; arm64 needs an arm64 (or cross) build.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=1
binary=""
arch=""
out="$ROOT/ci/out/dist"
inventory="$ROOT/buildpack/inventory.toml"
base_url=""
keep_debug=0

die() {
  echo "release.sh: $*" >&2
  exit 1
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --no-build) build=0 ;;
    --binary) binary=${2:?--binary needs a path}; shift ;;
    --arch) arch=${2:?--arch needs amd64 or arm64}; shift ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    --inventory) inventory=${2:?--inventory needs a file}; shift ;;
    --no-inventory) inventory="" ;;
    --base-url) base_url=${2:?--base-url needs a URL}; shift ;;
    --keep-debug) keep_debug=1 ;;
    -h | --help) sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
  shift
done

if [[ -z $arch ]]; then
  case $(uname -m) in
    x86_64) arch=amd64 ;;
    aarch64) arch=arm64 ;;
    *) die "unsupported machine $(uname -m); pass --arch" ;;
  esac
fi
[[ $arch == amd64 || $arch == arm64 ]] || die "--arch must be amd64 or arm64, not '$arch'"

if [[ -z $binary ]]; then
  binary="${CARGO_TARGET_DIR:-$ROOT/target}/release/palisade"
  if [[ $build -eq 1 ]]; then
    locked=()
    if [[ -f $ROOT/Cargo.lock ]]; then
      locked=(--locked)
    else
      echo "release.sh: WARNING: no Cargo.lock: this build's dependency versions are not pinned" >&2
    fi
    (cd "$ROOT" && cargo build --release "${locked[@]}" -p palisade)
  fi
fi
[[ -x $binary ]] || die "no palisade binary at $binary: build it with 'cargo build --release -p palisade' (or drop --no-build)"

version_line=$("$binary" --version) || die "$binary --version failed"
[[ $version_line =~ ^palisade\ ([0-9]+\.[0-9]+\.[0-9]+[^[:space:]]*)$ ]] ||
  die "unexpected version line from $binary: '$version_line' (want 'palisade X.Y.Z')"
version=${BASH_REMATCH[1]}
name="palisade-$version-linux-$arch"
base_url=${base_url:-https://github.com/palisade-waf/palisade/releases/download/v$version}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/bin" "$stage/$name/rulesets" "$out"
install -m 755 "$binary" "$stage/$name/bin/palisade"
if [[ $keep_debug -eq 0 ]]; then
  command -v objcopy > /dev/null || die "objcopy (binutils) is needed to split debug info; or pass --keep-debug"
  objcopy --only-keep-debug "$stage/$name/bin/palisade" "$stage/palisade.debug"
  objcopy --strip-debug --add-gnu-debuglink="$stage/palisade.debug" "$stage/$name/bin/palisade"
  install -m 644 "$stage/palisade.debug" "$out/$name.debug"
fi
install -m 644 "$ROOT/LICENSE" "$stage/$name/LICENSE"
if compgen -G "$ROOT/rulesets/*.yml" > /dev/null; then
  install -m 644 "$ROOT"/rulesets/*.yml "$stage/$name/rulesets/"
fi
tarball="$out/$name.tar.gz"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
  -C "$stage" -cf - "$name" | gzip -n -9 > "$tarball"
sha=$(sha256sum "$tarball" | cut -d' ' -f1)
echo "$sha  $name.tar.gz" > "$tarball.sha256"
echo "artifact: $tarball ($(du -h "$tarball" | cut -f1))"
echo "sha256:   $sha"

[[ -n $inventory ]] || exit 0
[[ -f $inventory ]] || die "no inventory at $inventory"
url="$base_url/$name.tar.gz"
updated=$(mktemp)
awk -v arch="$arch" -v version="$version" -v url="$url" -v sha="$sha" '
  function flush(   i) {
    if (n == 0) return
    for (i = 1; i <= n; i++) {
      line = buf[i]
      if (a == arch) {
        if (line ~ /^version[[:space:]]*=/) line = "version = \"" version "\""
        else if (line ~ /^url[[:space:]]*=/) line = "url = \"" url "\""
        else if (line ~ /^sha256[[:space:]]*=/) line = "sha256 = \"" sha "\""
      } else if (v != version && line ~ /^sha256[[:space:]]*=/) {
        line = "sha256 = \"\""
      }
      print line
    }
    if (a == arch) done = 1
    n = 0
  }
  /^\[\[artifacts\]\]/ { flush(); inside = 1 }
  !inside { print; next }
  {
    buf[++n] = $0
    if ($0 ~ /^arch[[:space:]]*=/) { a = $0; sub(/^[^"]*"/, "", a); sub(/".*/, "", a) }
    if ($0 ~ /^version[[:space:]]*=/) { v = $0; sub(/^[^"]*"/, "", v); sub(/".*/, "", v) }
    if ($0 ~ /^\[\[artifacts\]\]/) { a = ""; v = "" }
  }
  END {
    flush()
    if (!done) {
      print ""
      print "[[artifacts]]"
      print "version = \"" version "\""
      print "os = \"linux\""
      print "arch = \"" arch "\""
      print "url = \"" url "\""
      print "sha256 = \"" sha "\""
    }
  }
' "$inventory" > "$updated"
mv "$updated" "$inventory"
echo "inventory: $inventory pins $name ($url)"
