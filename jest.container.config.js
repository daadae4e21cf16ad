// Jest settings of the container tier (`npm run test:container`): the product image run by Podman through
// testcontainers. Its runner (test/container/tier.ts) builds the image and serves Podman's API first.
import unit from './jest.config.js';

export default {
  ...unit,
  testMatch: ['<rootDir>/test/container/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  // Containers share two cores with everything else on the machine.
  testTimeout: 5 * 60_000,
  maxWorkers: 1,
};
