#!/usr/bin/env node
// The `istio-installer` bin: loads the bundle `npm run build` makes; one module plus lazily loaded chunks (the
// Kubernetes client only for commands that talk to a cluster) start faster than hundreds of separate modules.
// On Node 22.1+ (the image runs 24) V8's compile cache in $TMPDIR skips re-compiling the bundle on later runs.
import module from 'node:module';

module.enableCompileCache?.();
await import('../dist/bundle/entry.mjs');
