#!/bin/sh
# shellcheck disable=SC2086 # lists are split on spaces on purpose: see `set -f` below.
# Assembles the image's files under OUT: downloads the Istio archives, verifies each against pinned sha256s, fills the
# release mirror, lays out istioctl per version for TARGETARCH and installs the CLI. Runs in the image build and tests.
set -euf
# Lists (versions, arches, files) are split on spaces on purpose; -f above turns globbing off, and each item is
# validated before use.

: "${ISTIO_VERSIONS:?space-separated Istio versions, e.g. 1.29.4 1.30.3}"
: "${TARGETARCH:?amd64 or arm64 (set by the image builder)}"
: "${CHECKSUMS:?file of pinned sha256s in sha256sum format (docker/istio-sha256sums.txt)}"
: "${APP_SRC:?directory holding the built CLI: bin/, dist/bundle/, dist/snapshot/, package.json and docker/istio-installer}"
ISTIO_RELEASE_URL="${ISTIO_RELEASE_URL:-https://github.com/istio/istio/releases/download}"
# The mirror serves every arch side by side, whatever arch this image is for.
MIRROR_ARCHES="${MIRROR_ARCHES:-amd64 arm64}"
# Everything is written under OUT as it will appear in the image's root.
OUT="${OUT:?directory to write usr/share/istio-mirror, usr/local/lib/istioctl and usr/local/bin into}"
DOWNLOADS="${DOWNLOADS:-$OUT/.downloads}"

fail() {
  echo "build-rootfs: $*" >&2
  exit 1
}

case "$TARGETARCH" in amd64 | arm64) ;; *) fail "unsupported TARGETARCH '$TARGETARCH' (amd64, arm64)" ;; esac
for arch in $MIRROR_ARCHES; do
  case "$arch" in amd64 | arm64) ;; *) fail "unsupported arch '$arch' in MIRROR_ARCHES" ;; esac
done
case " $MIRROR_ARCHES " in *" $TARGETARCH "*) ;; *) fail "MIRROR_ARCHES '$MIRROR_ARCHES' lacks TARGETARCH $TARGETARCH" ;; esac
[ -r "$CHECKSUMS" ] || fail "cannot read CHECKSUMS file $CHECKSUMS"

mkdir -p "$DOWNLOADS"
files=""
for version in $ISTIO_VERSIONS; do
  case "$version" in
    *[!0-9a-z.-]* | "") fail "'$version' is not an Istio version" ;;
  esac
  for arch in $MIRROR_ARCHES; do
    for name in "istio-$version-linux-$arch.tar.gz" "istioctl-$version-linux-$arch.tar.gz"; do
      # A download is accepted only if its name is pinned; an unpinned file must never reach the image.
      expected=$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1; exit }' "$CHECKSUMS")
      [ -n "$expected" ] || fail "no pinned sha256 for $name in $CHECKSUMS (run docker/pin-checksums.sh and review the diff)"
      echo "build-rootfs: downloading $ISTIO_RELEASE_URL/$version/$name" >&2
      curl --fail --silent --show-error --location --proto '=https,http' --retry 3 --retry-delay 2 \
        --connect-timeout 20 --max-time 900 --output "$DOWNLOADS/$name" "$ISTIO_RELEASE_URL/$version/$name" ||
        fail "download of $ISTIO_RELEASE_URL/$version/$name failed"
      actual=$(sha256sum "$DOWNLOADS/$name" | cut -d' ' -f1)
      [ "$actual" = "$expected" ] || fail "sha256 mismatch for $name: got $actual, pinned $expected"
      files="$files $DOWNLOADS/$name"
    done
  done
done

mirror_dir="$OUT/usr/share/istio-mirror"
node "$APP_SRC/bin/istio-installer.js" mirror add --dir "$mirror_dir" $files >/dev/null
node "$APP_SRC/bin/istio-installer.js" mirror verify --dir "$mirror_dir"

# istioctl per version for this image's arch: relative links into the mirror, so each binary is stored once.
istioctl_dir="$OUT/usr/local/lib/istioctl"
for version in $ISTIO_VERSIONS; do
  mkdir -p "$istioctl_dir/$version"
  binary="$mirror_dir/releases/$version/istioctl-$version-linux-$TARGETARCH"
  [ -x "$binary" ] || fail "no istioctl extracted for $version linux-$TARGETARCH"
  ln -sfn "../../../../share/istio-mirror/releases/$version/istioctl-$version-linux-$TARGETARCH" "$istioctl_dir/$version/istioctl"
done

# /usr/local/bin/istioctl is the newest release; pre-releases only when there is nothing else.
newest=$(printf '%s\n' $ISTIO_VERSIONS | grep -v -- '-' | sort -V | tail -n 1)
[ -n "$newest" ] || newest=$(printf '%s\n' $ISTIO_VERSIONS | sort -V | tail -n 1)
mkdir -p "$OUT/usr/local/bin"
ln -sfn "../lib/istioctl/$newest/istioctl" "$OUT/usr/local/bin/istioctl"

# The CLI: the esbuild bundles need no node_modules. /usr/local/bin/istio-installer, the image's entrypoint, starts Node
# from the start-up snapshot that the runtime stage builds from dist/snapshot (Dockerfile).
mkdir -p "$OUT/opt/istio-installer/dist"
cp -R "$APP_SRC/bin" "$APP_SRC/package.json" "$OUT/opt/istio-installer/"
cp -R "$APP_SRC/dist/bundle" "$APP_SRC/dist/snapshot" "$OUT/opt/istio-installer/dist/"
cp "$APP_SRC/docker/istio-installer" "$OUT/usr/local/bin/istio-installer"
chmod 755 "$OUT/usr/local/bin/istio-installer"
rm -rf "$DOWNLOADS"
echo "build-rootfs: istioctl $ISTIO_VERSIONS for linux-$TARGETARCH; mirror with $MIRROR_ARCHES; default $newest" >&2
