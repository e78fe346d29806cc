/**
 * The package's second door, "express-user-sessions/metrics": Prometheus counters of sign-ins,
 * endings, store timings and the cache, with prom-client (an optional peer: install it to use
 * this entry). Pass what createMetrics() returns to createSessions as `metrics`, and serve
 * `registry.metrics()` to your scraper.
 */
export { createMetrics, type PromMetrics } from "./metrics";
