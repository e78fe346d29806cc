/**
 * npm run test:topologies: the store contracts and the HTTP tests again, once on a Redis
 * Cluster (3 masters, a replica each) and once behind Redis Sentinel (a master, a replica,
 * three sentinels). Each project's globalSetup (test/helpers/global-setup-<topology>.ts)
 * starts its topology; tests read which one from globals.topology (test/helpers/topology.ts).
 */
const base = require("./jest.config");

const files = [
  "<rootDir>/test/http/**/*.test.ts",
  "<rootDir>/test/session-store.test.ts",
  "<rootDir>/test/user-repository.test.ts",
  "<rootDir>/test/hostile-input.test.ts",
];

module.exports = {
  // A run-wide option: project entries cannot set it.
  testTimeout: base.testTimeout,
  projects: ["cluster", "sentinel"].map((topology) => ({
    ...base,
    displayName: topology,
    testMatch: files,
    testPathIgnorePatterns: ["/node_modules/"],
    globals: { topology },
    globalSetup: `<rootDir>/test/helpers/global-setup-${topology}.ts`,
  })),
};
