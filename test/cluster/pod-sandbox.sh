#!/usr/bin/env bash
# Becomes one pod container: run by `unshare --mount` in a private mount namespace, it bind-mounts the pod's
# volumes at their mountPaths (one "source<TAB>target<TAB>rw|ro" line each), keeps the image's host paths
# visible, then execs the container command.
set -euo pipefail
mounts=$1
keep=$2
workdir=$3
shift 3
if [ "${1:-}" = "--" ]; then shift; fi

# Every source is bound into a private staging tmpfs before any volume is mounted: a volume over /tmp (the
# Jobs' emptyDir) would otherwise hide the sources and the image's files that live under /tmp on the host.
stage=/run/rancher-istio-pod-stage
mkdir -p "$stage"
mount -t tmpfs tmpfs "$stage"
i=0
staged=()
while IFS=$'\t' read -r src dst mode; do
  [ -n "$src" ] || continue
  i=$((i + 1))
  if [ -d "$src" ]; then mkdir -p "$stage/$i"; else : >"$stage/$i"; fi
  mount --bind "$src" "$stage/$i"
  staged+=("$stage/$i"$'\t'"$dst"$'\t'"$mode")
done <"$mounts"
k=0
kept=()
while IFS= read -r path; do
  [ -n "$path" ] && [ -d "$path" ] || continue
  k=$((k + 1))
  mkdir -p "$stage/keep$k"
  mount --rbind "$path" "$stage/keep$k"
  kept+=("$stage/keep$k"$'\t'"$path")
done <"$keep"

for line in "${staged[@]}"; do
  IFS=$'\t' read -r src dst mode <<<"$line"
  # Mount points that do not exist are created, as a kubelet would create them in a container's rootfs; only the
  # mounts themselves are private to this process.
  if [ -d "$src" ]; then
    mkdir -p "$dst"
  else
    mkdir -p "$(dirname "$dst")"
    [ -e "$dst" ] || : >"$dst"
  fi
  mount --bind "$src" "$dst"
  if [ "$mode" = ro ]; then mount -o remount,bind,ro "$dst"; fi
done
# The image's own files (this checkout's CLI, the bundled istioctls, node) come back where they were if a volume
# covered them, as they would sit in the image under any volume.
for line in "${kept[@]}"; do
  IFS=$'\t' read -r src path <<<"$line"
  if [ ! -e "$path" ]; then
    mkdir -p "$path"
    mount --rbind "$src" "$path"
  fi
done

cd "$workdir"
exec -- "$@"
