#!/usr/bin/env bash
# What importing the package costs a site, against what a site on express-session, connect-redis
# and node-redis pays for those three: the package's tarball (npm run pack:package) and the
# three are installed into a temporary directory, and each command runs RUNS times (7 by
# default), with hyperfine when it is installed, otherwise in a plain loop; the median wall
# time of each is printed. Also with Express loaded first, as a site has it anyway.
#
#   npm run bench:import
#   RUNS=15 bash bench/import-time.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-7}

npm run --silent pack:package >/dev/null
tarball=$(ls -t express-user-sessions-*.tgz | head -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$tarball" "$work/express-user-sessions.tgz"
versions=$(node -p 'const p = require("./package.json"); const d = { ...p.dependencies, ...p.devDependencies }; ["express", "express-session", "connect-redis", "redis"].map((n) => `${n}@${d[n]}`).join(" ")')
(cd "$work" && echo '{"name":"import-time","version":"1.0.0","private":true}' > package.json &&
  npm install --no-audit --no-fund --no-package-lock --loglevel=error ./express-user-sessions.tgz $versions >/dev/null)

commands=(
  "require('express-user-sessions')"
  "require('express-session'); require('connect-redis'); require('redis')"
  "require('express'); require('express-user-sessions')"
  "require('express'); require('express-session'); require('connect-redis'); require('redis')"
)
cd "$work"
if command -v hyperfine >/dev/null 2>&1; then
  args=()
  for c in "${commands[@]}"; do args+=("node -e \"$c\""); done
  hyperfine --runs "$RUNS" --warmup 1 --export-markdown /dev/stdout "${args[@]}"
  exit 0
fi
# Interleaved (each round runs every command once), so that a busy moment of a shared machine
# weighs on all of them alike; CPU time (user + system) beside wall time, as it is less noisy.
node -e '
  const { execFileSync } = require("node:child_process");
  const runs = Number(process.argv[1]);
  const commands = process.argv.slice(2);
  const run = (code) => {
    const start = process.hrtime.bigint();
    const out = execFileSync(process.execPath, ["-e", `${code}; const u = process.cpuUsage(); process.stdout.write(String((u.user + u.system) / 1000))`], { encoding: "utf8" });
    return { wall: Number(process.hrtime.bigint() - start) / 1e6, cpu: Number(out) };
  };
  for (const code of commands) run(code); // warm the file cache
  const results = commands.map(() => []);
  for (let i = 0; i < runs; i++) commands.forEach((code, k) => results[k].push(run(code)));
  const median = (list) => list.sort((a, b) => a - b)[Math.floor(list.length / 2)];
  const s = (ms) => `${(ms / 1000).toFixed(3)} s`;
  commands.forEach((code, k) => {
    const wall = results[k].map((r) => r.wall);
    console.log(`wall ${s(median(wall))} (${s(Math.min(...wall))} to ${s(Math.max(...wall))}), CPU ${s(median(results[k].map((r) => r.cpu)))}, median of ${runs}: node -e "${code}"`);
  });
' "$RUNS" "${commands[@]}"
