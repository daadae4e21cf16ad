#!/bin/sh
# shellcheck disable=SC2086 # lists are split on spaces on purpose: see `set -f` below.
# Writes the sha256 pins fetch-artifacts.sh requires, from the .sha256 files Istio publishes next to each archive.
# Run it on a connected machine when ISTIO_VERSIONS changes, and have a second person review the diff.
set -euf

: "${ISTIO_VERSIONS:?space-separated Istio versions, e.g. 1.30.3 1.31.0}"
ISTIO_RELEASE_URL="${ISTIO_RELEASE_URL:-https://github.com/istio/istio/releases/download}"
ARCHES="${ARCHES:-amd64 arm64}"
CHECKSUMS="${CHECKSUMS:-$(dirname "$0")/istio-sha256sums.txt}"

pins=$(mktemp)
trap 'rm -f "$pins"' EXIT
for version in $ISTIO_VERSIONS; do
  case "$version" in *[!0-9a-z.-]* | "") echo "pin-checksums: '$version' is not an Istio version" >&2 && exit 1 ;; esac
  for arch in $ARCHES; do
    for name in "istio-$version-linux-$arch.tar.gz" "istioctl-$version-linux-$arch.tar.gz"; do
      published=$(curl --fail --silent --show-error --location --retry 3 "$ISTIO_RELEASE_URL/$version/$name.sha256")
      hash=$(printf '%s\n' "$published" | awk 'NR == 1 { print $1 }')
      case "$hash" in
        [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]*) ;;
        *) echo "pin-checksums: $name.sha256 does not start with a sha256" >&2 && exit 1 ;;
      esac
      [ ${#hash} -eq 64 ] || { echo "pin-checksums: $name.sha256 does not start with a sha256" >&2 && exit 1; }
      printf '%s  %s\n' "$hash" "$name" >>"$pins"
    done
  done
done
{
  echo "# sha256 of every Istio archive the image build may download; written by docker/pin-checksums.sh, reviewed by hand."
  sort -k2 "$pins"
} >"$CHECKSUMS"
echo "pin-checksums: wrote $(grep -c -v '^#' "$CHECKSUMS") pins to $CHECKSUMS" >&2
