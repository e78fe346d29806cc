/** Tests run against real Redis servers and a real HTTP stack; see test/helpers. */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  // Redis Cluster and Sentinel: npm run test:topologies (jest.topologies.config.js); failovers: npm run test:failover.
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/test/failover/"],
  globalSetup: "<rootDir>/test/helpers/global-setup.ts",
  globalTeardown: "<rootDir>/test/helpers/global-teardown.ts",
  transform: { "^.+\\.ts$": "ts-jest" },
  testTimeout: 30000,
};
