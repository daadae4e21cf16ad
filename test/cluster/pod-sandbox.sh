#!/usr/bin/env bash
# Becomes one pod container: run by `unshare --mount` in a private mount namespace, it bind-mounts the pod's
# volumes at their mountPaths (one "source<TAB>target<TAB>rw|ro" line each), then execs the container command.
set -euo pipefail
mounts=$1
workdir=$2
shift 2
if [ "${1:-}" = "--" ]; then shift; fi

while IFS=$'\t' read -r src dst mode; do
  [ -n "$src" ] || continue
  # Mount points that do not exist are created on the host, as a kubelet would create them in a container's rootfs;
  # only the mounts themselves are private to this process.
  if [ -d "$src" ]; then
    mkdir -p "$dst"
  else
    mkdir -p "$(dirname "$dst")"
    [ -e "$dst" ] || : >"$dst"
  fi
  mount --bind "$src" "$dst"
  if [ "$mode" = ro ]; then mount -o remount,bind,ro "$dst"; fi
done <"$mounts"

cd "$workdir"
exec -- "$@"
