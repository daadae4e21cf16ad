#!/usr/bin/env node
// The `istio-installer` bin: loads the single-file bundle that `npm run build` makes (one CommonJS file starts faster than hundreds of ES modules).
require('../dist/istio-installer.cjs');
