/** Jest: unit, integration, e2e, real-data and browser suites; TypeScript through SWC (keeps decorator metadata). */
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
  },
];
// hyparquet and jose ship ES modules only; transform them too.
const transformIgnorePatterns = ['/node_modules/(?!(hyparquet|hyparquet-compressors|jose)/)'];
const common = {
  transform: { '^.+\\.(t|j)sx?$': swc },
  transformIgnorePatterns,
  testEnvironment: 'node',
  // Sources import siblings as `./x.js` (Node ESM-style resolution); map them back to the .ts files.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  setupFiles: ['<rootDir>/test/support/setup.ts'],
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
    // The API Lambda's console test reads the built console (dist/console): `npm test` builds first.
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
    { ...common, displayName: 'realdata', testMatch: ['<rootDir>/test/realdata/**/*.test.ts'] },
    // Headless Debian Chromium (scripts/ensure-chromium.sh) driven by playwright-core; needs `npm run build`.
    { ...common, displayName: 'browser', testMatch: ['<rootDir>/test/browser/**/*.test.ts'] },
  ],
  testTimeout: 60000,
};
