// Loaded with --require by the benchmarks' profiles: the first SIGUSR2 starts V8's CPU profiler,
// the next stops it and writes the profile to PROFILE_FILE.1 (then .2, ...: one per start and
// stop). Start-up and sign-in stay out of it.
const fs = require("node:fs");
const inspector = require("node:inspector");

const session = new inspector.Session();
session.connect();
let running = false;
let written = 0;
process.on("SIGUSR2", () => {
  if (!running) {
    running = true;
    session.post("Profiler.enable", () => session.post("Profiler.setSamplingInterval", { interval: 200 }, () => session.post("Profiler.start")));
    return;
  }
  running = false;
  session.post("Profiler.stop", (err, result) => {
    if (err) throw err;
    written += 1;
    fs.writeFileSync(`${process.env.PROFILE_FILE}.${written}`, JSON.stringify(result.profile));
  });
});
