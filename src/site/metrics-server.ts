import { createServer, type Server } from "node:http";
import type { PromMetrics } from "../package/metrics-entry";

/**
 * /metrics on a listener of its own (METRICS_HOST:METRICS_PORT), never on the site's: what
 * the site serves publicly cannot reach it. Each scrape reads only this process's counters.
 */
export function serveMetrics(metrics: PromMetrics, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("Only /metrics is served here.\n");
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": metrics.registry.contentType, "cache-control": "no-store" }).end(text),
      () => res.writeHead(500, { "content-type": "text/plain" }).end("The metrics could not be collected.\n"),
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
