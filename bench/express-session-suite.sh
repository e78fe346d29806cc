#!/usr/bin/env bash
# express-session's own test suite (test/session.js of expressjs/session) with its store
# replaced, three times: the package's RedisSessionStore, its EmbeddedSessionStore, and
# connect-redis as the control, both Redis ones on a throwaway redis-server. Prints, for each,
# passed/failed/pending and the titles of the failing tests. Results in docs/storage.md.
#
#   npm run test:express-session -- /path/to/expressjs/session
#   bash bench/express-session-suite.sh /path/to/expressjs/session [ref]
#   ES_SUITE_OUT=dir keeps each run's mocha report (json) and output.
#
# The suite is not in express-session's npm tarball: pass a checkout of its repository (a work
# tree, or a git directory: then `ref` is taken, by default the tag of the project's
# express-session version, v1.19.0). The package's stores come from dist/package (npm run
# build), made with the options createSessions gives them for a site that keeps its own
# sign-in (keepCookie: true), see bench/express-session-suite/store.cjs. The suite's own
# dependencies (mocha, express 4, supertest, ...) are installed into a temporary directory,
# at the versions its package.json names; nothing is added to this project.
#
# How the store is replaced: in the temporary copy, index.js requires the store under test
# where it required './session/memory', so `new session.MemoryStore()` in every test and
# the default store of `session()` are the store under test (the run fails if MemoryStore is
# loaded at all). One express-session in the process: the stores import the suite's.
# mocha runs as the suite's `npm test` does (--require test/support/env --check-leaks), but
# with --exit (a timed-out test may leave a server open) and the json reporter.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 <expressjs/session checkout or git dir> [ref]" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
source=$(cd "$1" && pwd)
here="$root/bench/express-session-suite"
stores=(redis embedded connect-redis)

for f in dist/package/session-store/redis-session-store.js dist/package/session-store/embedded-session-store.js dist/package/config.js; do
  [ -f "$root/$f" ] || { echo "$root/$f is missing: run npm run build first" >&2; exit 2; }
done
# The stores measured are the sources': each file of src/package built after its last change.
while IFS= read -r ts; do
  js="$root/dist/package/${ts#"$root/src/package/"}"
  js="${js%.ts}.js"
  if [ ! "$js" -nt "$ts" ]; then
    echo "${js#"$root/"} is older than ${ts#"$root/"}: run npm run build first" >&2
    exit 2
  fi
done < <(find "$root/src/package" -name '*.ts' ! -name '*.d.ts')

work=$(mktemp -d)
redis_pid=""
cleanup() {
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The suite, as released.
suite="$work/session"
mkdir -p "$suite"
if [ -f "$source/test/session.js" ]; then
  (cd "$source" && tar --exclude=node_modules --exclude=.git -cf - .) | tar -xf - -C "$suite"
  described=$( (git -C "$source" describe --tags --always 2>/dev/null) || echo "work tree")
else
  wanted=v$(node -p "require('$root/node_modules/express-session/package.json').version")
  ref=${2:-$wanted}
  git -C "$source" rev-parse --verify --quiet "$ref^{commit}" >/dev/null || { echo "$source has no $ref" >&2; exit 2; }
  git -C "$source" archive "$ref" | tar -x -C "$suite"
  described="$ref ($(git -C "$source" rev-parse --short "$ref^{commit}"))"
fi
version=$(node -p "require('$suite/package.json').name + ' ' + require('$suite/package.json').version")
echo "suite: $version, $described: test/session.js and test/cookie.js, as its npm test runs them"

# Its dependencies and devDependencies that the tests use, at the versions it names.
node -e '
  const fs = require("fs");
  const file = process.argv[1] + "/package.json";
  const p = JSON.parse(fs.readFileSync(file, "utf8"));
  const used = ["after", "cookie-parser", "express", "mocha", "supertest"];
  p.devDependencies = Object.fromEntries(used.map((name) => [name, p.devDependencies[name]]));
  delete p.scripts;
  fs.writeFileSync(file, JSON.stringify(p, null, 2));
' "$suite"
(cd "$suite" && npm install --no-audit --no-fund --no-package-lock --ignore-scripts --loglevel=error >/dev/null)
echo "installed: $(cd "$suite" && node -p '["express", "supertest", "mocha", "cookie-parser", "after"].map((n) => n + " " + require("./node_modules/" + n + "/package.json").version).join(", ")')"

# Its HTTPS tests' certificate (test/support/gencert.sh).
mkdir -p "$suite/test/fixtures"
openssl req -x509 -nodes -newkey rsa:2048 -keyout "$suite/test/fixtures/server.key" -out "$suite/test/fixtures/server.crt" -days 3650 \
  -subj "/C=US/ST=Illinois/L=Chicago/O=node-express-session/CN=express-session.local" 2>/dev/null

# The store in place of MemoryStore.
grep -q "require('./session/memory')" "$suite/index.js" || { echo "index.js no longer requires './session/memory'" >&2; exit 1; }
sed -i "s#require('./session/memory')#require('$here/store.cjs')#" "$suite/index.js"
if grep -rn "session/memory" "$suite/test" "$suite/index.js" "$suite/session"; then
  echo "something else still requires session/memory" >&2
  exit 1
fi

# A Redis of its own on a free port, stopped on exit.
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --logfile "$work/redis.log" &
redis_pid=$!
for _ in $(seq 1 100); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$port" ping >/dev/null || { echo "redis-server did not start on port $port" >&2; exit 1; }
echo "redis-server $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/') on 127.0.0.1:$port (pid $redis_pid)"
echo

# One run after another: each is a process of its own.
for store in "${stores[@]}"; do
  (cd "$suite" && ES_STORE=$store ES_SUITE_DIR="$suite" ES_REDIS_URL="redis://127.0.0.1:$port" \
    timeout 900 ./node_modules/.bin/mocha --require test/support/env --require "$here/hooks.cjs" --check-leaks --exit \
    --reporter json --reporter-option "output=$work/$store.json" test/ >"$work/$store.log" 2>&1) || true
done

# ES_SUITE_OUT=<dir>: keep each run's mocha report (json) and output there.
if [ -n "${ES_SUITE_OUT:-}" ]; then
  mkdir -p "$ES_SUITE_OUT"
  for store in "${stores[@]}"; do cp "$work/$store".* "$ES_SUITE_OUT/" 2>/dev/null || true; done
fi

status=0
for store in "${stores[@]}"; do
  if [ ! -s "$work/$store.json" ]; then
    echo "$store: no result"
    sed -n '1,40p' "$work/$store.log"
    status=1
    continue
  fi
  node -e '
    const [file, name] = process.argv.slice(1);
    const r = require(file);
    const s = r.stats;
    console.log(`${name}: ${s.passes} passed, ${s.failures} failed, ${s.pending} pending (${s.tests} tests)`);
    for (const f of r.failures) {
      const why = String(f.err.message ?? "").split("\n")[0].slice(0, 160);
      // Two tests share a title: the line the failure was raised at tells them apart.
      const at = String(f.err.stack ?? "").match(/test\/(?:session|cookie)\.js:\d+/);
      console.log(`  failed: ${f.fullTitle}${at ? ` (${at[0]})` : ""}\n          ${why}`);
    }
  ' "$work/$store.json" "$store"
  grep -E "^stores made|MemoryStore was loaded" "$work/$store.log" | sed 's/^/  /' || true
done
exit $status
