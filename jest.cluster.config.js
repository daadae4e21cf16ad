// Jest settings of the cluster tier (`npm run test:cluster`): the tests that need the pinned tools, one file at a time:
// real istioctl offline (test/istioctl), the chart with real helm (test/chart), the rig's clusters, and Rancher Fleet
// over them (test/fleet).
import unit from './jest.config.js';

export default {
  ...unit,
  testMatch: [
    '<rootDir>/test/cluster/**/*.test.ts',
    '<rootDir>/test/chart/**/*.test.ts',
    '<rootDir>/test/e2e/**/*.test.ts',
    '<rootDir>/test/istioctl/**/*.test.ts',
    '<rootDir>/test/fleet/**/*.test.ts',
  ],
  testPathIgnorePatterns: ['/node_modules/'],
  // Every test file refuses to run where a route leads off this machine; `npm run test:cluster` runs jest where
  // none does.
  setupFiles: ['<rootDir>/test/cluster/offline-guard.ts'],
  // Each file starts its own control plane and runs real helm/istioctl on two shared cores.
  testTimeout: 15 * 60_000,
  maxWorkers: 1,
};
