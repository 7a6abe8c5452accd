#!/usr/bin/env bash
# npm test: install what is missing, build (which is the typecheck), lint, then run every compiled
# test (dist/test/**/*.test.js) one file at a time against a private Redis and Postgres under
# CHORUS_TEST_DATA_DIR (default .data-test), wiped at the start so every run begins empty.
# It never uses npm start's CHORUS_DATA_DIR: different data dir, different unix sockets.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
phase() { printf '\n== test: %s (t+%ss)\n' "$1" "$((SECONDS - started))" >&2; }
failed=()

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  phase "npm ci"
  npm ci --no-audit --no-fund
fi

phase "build + typecheck"
npx tsc -p tsconfig.json || failed+=(typecheck)
# The SDK once more as a browser sees it (DOM, no Node types): a Node-only API fails here.
npx tsc -p client/tsconfig.json || failed+=(client-typecheck)
# tsc never deletes outputs: drop compiled tests whose source is gone, so they do not run.
while IFS= read -r f; do
  src="${f#dist/}"
  [ -f "${src%.js}.ts" ] || rm -f "$f" "$f.map"
done < <(find dist/test dist/benchmarks/test -name '*.test.js' 2>/dev/null)

phase "system packages"
node dist/ops/install.js

phase "lint"
npx eslint . || failed+=(lint)

# The test environment: its own data dir and port; external services only when asked for explicitly.
export CHORUS_DATA_DIR="${CHORUS_TEST_DATA_DIR:-.data-test}"
export PORT="${CHORUS_TEST_PORT:-18080}"
export NODE_ENV=test
unset REDIS_URL REDIS_CLUSTER_NODES DATABASE_URL
if [ -n "${CHORUS_TEST_REDIS_URL:-}" ]; then export REDIS_URL="$CHORUS_TEST_REDIS_URL"; fi
if [ -n "${CHORUS_TEST_DATABASE_URL:-}" ]; then export DATABASE_URL="$CHORUS_TEST_DATABASE_URL"; fi
if [ "$(realpath -m "$CHORUS_DATA_DIR")" = "$(realpath -m .data)" ]; then
  echo "test: refusing to use .data (npm start's data dir) for tests: it is wiped" >&2
  exit 2
fi

phase "services ($CHORUS_DATA_DIR)"
services_down() { node dist/ops/cli.js services down >/dev/null || echo "test: stopping services failed" >&2; }
# Leftovers of an interrupted run are stopped before their files are wiped.
services_down
rm -rf "$CHORUS_DATA_DIR"
trap services_down EXIT
trap 'exit 130' INT TERM
node dist/ops/cli.js services up

mapfile -t tests < <(find dist/test dist/benchmarks/test -name '*.test.js' | sort)
phase "tests (${#tests[@]} files)"
rc=0
if [ "${#tests[@]}" -gt 0 ]; then
  node --test --test-reporter=spec --test-concurrency=1 --test-timeout=120000 "${tests[@]}" || rc=$?
fi

phase "done"
if [ "$rc" -ne 0 ]; then failed+=(tests); fi
if [ "${#failed[@]}" -gt 0 ]; then
  echo "test: FAILED: ${failed[*]} ($((SECONDS - started))s)" >&2
  [ "$rc" -ne 0 ] && exit "$rc"
  exit 1
fi
echo "test: all passed ($((SECONDS - started))s)" >&2
