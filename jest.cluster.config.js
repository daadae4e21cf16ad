// Jest settings of the cluster tier (`npm run test:cluster`): the rig's smoke tests, one at a time on real clusters.
import unit from './jest.config.js';

export default {
  ...unit,
  testMatch: [
    '<rootDir>/test/cluster/**/*.test.ts',
    '<rootDir>/test/chart/**/*.test.ts',
    '<rootDir>/test/e2e/**/*.test.ts',
  ],
  testPathIgnorePatterns: ['/node_modules/'],
  // Every test file refuses to run where a route leads off this machine; `npm run test:cluster` runs jest where
  // none does.
  setupFiles: ['<rootDir>/test/cluster/offline-guard.ts'],
  // Each file starts its own control plane and runs real helm/istioctl on two shared cores.
  testTimeout: 15 * 60_000,
  maxWorkers: 1,
};
