#!/usr/bin/env node
// The `istio-installer` bin: loads the bundle `npm run build` makes; one module plus lazily loaded chunks (the
// Kubernetes client only for commands that talk to a cluster) start faster than hundreds of separate modules.
import '../dist/bundle/entry.mjs';
