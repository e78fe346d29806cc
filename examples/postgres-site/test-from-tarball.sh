#!/usr/bin/env bash
# Installs the package as a site would, from the tarball `npm pack` makes, and runs this
# site's tests (PostgreSQL and Redis from DATABASE_URL and REDIS_URL, or throwaway servers).
set -euo pipefail
cd "$(dirname "$0")"
tarball=$(cd ../.. && npm pack --silent --pack-destination "$OLDPWD" | tail -n 1)
mv -f "$tarball" session-server.tgz
rm -rf node_modules/session-server
npm install --no-audit --no-fund --no-package-lock
npm test
