// Jest settings: TypeScript tests run as ESM through ts-jest; type checking is `npm run typecheck`'s job.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // A guard against hangs, not a speed check: CLI-spawning tests took over 5 s on this shared 2-core machine.
  testTimeout: 30_000,
  testPathIgnorePatterns: [
    '/node_modules/',
    '<rootDir>/test/cluster/',
    '<rootDir>/test/e2e/',
    '<rootDir>/test/chart/',
    '<rootDir>/test/istioctl/',
    '<rootDir>/test/fleet/',
    '<rootDir>/test/container/',
  ],
};
