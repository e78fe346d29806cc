// Loaded by mocha (--require) before express-session's test/session.js, in the suite's copy
// that bench/express-session-suite.sh makes (ES_SUITE_DIR).
"use strict";

const Module = require("node:module");
const path = require("node:path");
const storeUnderTest = require("./store.cjs");

// One express-session in the process: the suite's. The stores (the package's dist and
// connect-redis) import its Store from "express-session", as they would in a site.
const suiteIndex = path.join(process.env.ES_SUITE_DIR, "index.js");
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === "express-session" ? suiteIndex : resolve.call(this, request, ...rest);
};

storeUnderTest.preload();

exports.mochaHooks = {
  async beforeAll() {
    await storeUnderTest.connect();
  },
  async afterAll() {
    // The suite ran on the store under test, never on express-session's MemoryStore.
    const memory = path.join(process.env.ES_SUITE_DIR, "session/memory.js");
    if (require.cache[memory]) throw new Error("express-session's MemoryStore was loaded: the store was not replaced");
    console.error(`stores made: ${storeUnderTest.stores.length}`);
    await storeUnderTest.close();
  },
};
