// Loaded with --require into a server under load, to tell a page's own time from the time
// around it: for each request, from the request event to the last byte handed to the socket
// ("handling"), and from the previous response's last byte to this request ("gap": work after a
// response, or a request waiting for the process). SIGUSR2 writes both distributions to stderr
// and starts again. With one connection, what a load generator sees beyond handling + gap was
// spent outside this process.
const http = require("node:http");
const fs = require("node:fs");

const handling = [];
const gaps = [];
let lastFinish = 0n;
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, ...args) {
  if (event === "request") {
    const res = args[1];
    const started = process.hrtime.bigint();
    if (lastFinish) gaps.push(Number(started - lastFinish) / 1e6);
    res.on("finish", () => {
      lastFinish = process.hrtime.bigint();
      handling.push(Number(lastFinish - started) / 1e6);
    });
  }
  return emit.call(this, event, ...args);
};

function percentiles(name, times) {
  const sorted = times.splice(0).sort((a, b) => a - b);
  const at = (p) => (sorted[Math.floor(sorted.length * p)] ?? Number.NaN).toFixed(2);
  return `${name} (${sorted.length}): p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, p99 ${at(0.99)} ms`;
}

process.on("SIGUSR2", () => {
  fs.writeSync(2, `${percentiles("handling", handling)}; ${percentiles("gap", gaps)}\n`);
  lastFinish = 0n;
});
