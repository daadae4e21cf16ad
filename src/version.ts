// The rancher-istio version, kept equal to package.json's by a test; recorded in the state the installer writes.
export const VERSION = '0.1.0';
