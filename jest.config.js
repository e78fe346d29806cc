/** Tests run against real Redis servers and a real HTTP stack; see test/helpers. */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  // Redis Cluster and other topologies run with npm run test:topologies.
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/test/topologies/"],
  globalSetup: "<rootDir>/test/helpers/global-setup.ts",
  globalTeardown: "<rootDir>/test/helpers/global-teardown.ts",
  transform: { "^.+\\.ts$": "ts-jest" },
  testTimeout: 30000,
};
