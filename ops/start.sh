#!/usr/bin/env bash
# npm start: install what is missing (npm packages, Debian packages), build, then run the
# supervisor (ops/stack.ts), which starts Redis/Postgres under CHORUS_DATA_DIR and every role.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "start: Node.js 20 or newer is required (found $(node --version))" >&2
  exit 1
fi

# npm records what it installed in node_modules/.package-lock.json: a newer lockfile means stale modules.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "start: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund
fi

echo "start: building" >&2
npx tsc -p tsconfig.json

node dist/ops/install.js

# Use the hard limit on open files: each websocket is a descriptor.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

exec node dist/ops/stack.js
