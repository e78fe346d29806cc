#!/usr/bin/env bash
# Installs the package as a site would, from the tarball `npm run pack:package` makes, into a
# copy of each example site on each Express it runs on, and runs the site's tests there. Each
# copy also checks what the package brings: one Express in the site (its own), and how much it
# adds to node_modules (at most 50 MB). The examples' services come from DATABASE_URL and
# REDIS_URL, or are throwaway servers. Results, TAP: <example>/test-results.tap.
#   postgres-site: its users in PostgreSQL, the package's own sign-in; Express 4 and 5.
#   passport-site: Passport, Handlebars and SQLite, keeping its own sign-in, csurf on every route; Express 4 and 5.
#   typescript-site: strict TypeScript (skipLibCheck off) with only express, express-session and
#   the package: its types compile without the optional peers (redis, prom-client).
# Express 4 is the lowest release the package's peer range admits; 5 the newest. A version
# written "^5:5" also puts the site on node-redis 5 beside connect-redis 9 (a site that has not
# switched yet, with the client it already has): the tarball installs there with no ERESOLVE.
set -euo pipefail
cd "$(dirname "$0")"
EXPRESS_4=$(node -p 'require("../src/package/package.publish.json").peerDependencies.express.match(/\^(4\.[0-9.]+)/)[1]')
(cd .. && npm run --silent pack:package >/dev/null)
tarball=$(pwd)/express-user-sessions.tgz
mv -f "$(ls -t ../express-user-sessions-*.tgz | head -n 1)" "$tarball"
status=0

run_example() { # run_example <example> <express version or range[:node-redis major]>...
  local example=$1
  shift
  local tap="$example/test-results.tap" checks=0
  : > "$tap"
  check() { # check <ok:0|1> <description>
    checks=$((checks + 1))
    if [ "$1" -eq 0 ]; then echo "ok $checks - $2" | tee -a "$tap"; else echo "not ok $checks - $2" | tee -a "$tap"; status=1; fi
  }
  # The site before it takes the package: its own dependencies, on each Express, installed side
  # by side (each install mostly waits on the registry, or builds one native module on one core:
  # better-sqlite3 for passport-site).
  local works=() installs=() work major failed=0
  for major in "$@"; do
    work=$(mktemp -d)
    works+=("$work")
    (cd "$example" && tar --exclude=node_modules --exclude='*.tgz' --exclude='*.tap' --exclude=package-lock.json --exclude='*.db' -cf - .) | tar -xf - -C "$work"
    cp "$tarball" "$work/"
    node -e '
      const p = require(process.argv[2] + "/package.json");
      const [express, redis] = process.argv[1].split(":");
      delete p.dependencies["express-user-sessions"];
      p.dependencies.express = express;
      if (redis) Object.assign(p.dependencies, { redis: `^${redis}`, "connect-redis": "^9.0.0" });
      require("fs").writeFileSync(process.argv[2] + "/package.json", JSON.stringify(p, null, 2));
    ' "$major" "$work"
    (cd "$work" && npm install --no-audit --no-fund --no-package-lock --loglevel=error) &
    installs+=($!)
  done
  for pid in "${installs[@]}"; do wait "$pid" || failed=1; done
  if [ "$failed" -ne 0 ]; then
    echo "$example: installing its own dependencies failed" >&2
    exit 1
  fi
  for major in "$@"; do
    work=${works[0]}
    works=("${works[@]:1}")
    local before after added_mb expresses version ok redis_version
    before=$(du -sk "$work/node_modules" | cut -f1)
    (cd "$work" && npm install --no-audit --no-fund --no-package-lock --loglevel=error ./express-user-sessions.tgz) && ok=0 || ok=1
    redis_version=$(node -p "require('$work/node_modules/redis/package.json').version" 2>/dev/null || echo none)
    check $ok "Express $major: the tarball installs beside the site's own peers (node-redis $redis_version)"
    [ "$ok" -eq 0 ] || continue
    after=$(du -sk "$work/node_modules" | cut -f1)
    added_mb=$(( (after - before + 1023) / 1024 ))
    expresses=$(find "$work/node_modules" -path "*/express/package.json" -not -path "*/express/node_modules/*" -not -path "*/@types/*" | wc -l)
    version=$(node -p "require('$work/node_modules/express/package.json').version")
    echo "$example, Express $version: the package adds ${added_mb} MB (${before} KB before, ${after} KB after); Express copies: $expresses"
    [ "$expresses" -eq 1 ] && ok=0 || ok=1
    check $ok "Express $major: one Express after installing the package ($expresses found)"
    [ "$added_mb" -le 50 ] && ok=0 || ok=1
    check $ok "Express $major: the package adds at most 50 MB to node_modules (${added_mb} MB)"
    (cd "$work" && npm test) || status=1
    sed -E "s/^(not )?ok [0-9]+ - /&Express $major: /" "$work/test-results.tap" | grep -E '^(not )?ok [0-9]' >> "$tap" || true
    rm -rf "$work"
  done
}

run_example postgres-site "$EXPRESS_4" ^5 ^5:5
run_example passport-site "$EXPRESS_4" ^5
run_example typescript-site "$EXPRESS_4"
exit $status
