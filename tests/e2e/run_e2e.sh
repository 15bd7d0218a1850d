#!/usr/bin/env bash
# tests/e2e/run_e2e.sh SERVER_BIN WORKER_BIN — the dashboard in a real browser.
#
# Starts tradebench-server (with an API token, serving web/dist) and one
# tradebench-worker on a free loopback port against TB_TEST_DATABASE_URL
# (in a schema of their own, dropped afterwards),
# then runs tests/e2e/*.test.mjs with node's test runner: playwright-core
# driving Debian's headless chromium. Exit 77 (ctest: skipped) when the
# database, chromium, node or the npm packages are missing; setup.sh
# installs all of them, so CI runs the tests. Screenshots go to
# $TB_E2E_SHOTS (default: a temporary folder; docs/img to refresh the README's).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SERVER_BIN="${1:?usage: run_e2e.sh SERVER_BIN WORKER_BIN}"
WORKER_BIN="${2:?usage: run_e2e.sh SERVER_BIN WORKER_BIN}"
CHROMIUM="${TB_CHROMIUM:-/usr/bin/chromium}"

skip() { echo "e2e: SKIP: $*"; exit 77; }
[[ -x "$SERVER_BIN" && -x "$WORKER_BIN" ]] || { echo "e2e: $SERVER_BIN or $WORKER_BIN is not an executable"; exit 1; }

[[ -n "${TB_TEST_DATABASE_URL:-}" ]] || skip "TB_TEST_DATABASE_URL is not set"
[[ -x "$CHROMIUM" ]] || skip "$CHROMIUM not installed (apt-get install chromium)"
command -v node >/dev/null || skip "node not installed (apt-get install nodejs npm)"
[[ -d "$ROOT/web/node_modules/playwright-core" ]] || skip "web/node_modules missing (cd web && npm ci)"
if [[ ! -f "$ROOT/web/dist/index.html" ]]; then
    (cd "$ROOT/web" && npm run --silent build) || { echo "e2e: web build failed"; exit 1; }
fi

command -v psql >/dev/null || skip "psql not installed (apt-get install postgresql-client)"

# A private schema (PGOPTIONS search_path, inherited by server and worker):
# the worker sees only this test's runs, nothing left queued by others.
SCHEMA="tb_e2e_$$"
psql "$TB_TEST_DATABASE_URL" -Xq -v ON_ERROR_STOP=1 -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" \
    -c "CREATE SCHEMA $SCHEMA" || { echo "e2e: cannot create schema $SCHEMA"; exit 1; }
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tb-e2e-XXXXXX")"
SHOTS="${TB_E2E_SHOTS:-$WORK/shots}"
mkdir -p "$SHOTS"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
    PGOPTIONS= psql "$TB_TEST_DATABASE_URL" -Xq -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
}
trap cleanup EXIT

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

TOKEN="e2e-token-$$"
export TB_DATABASE_URL="$TB_TEST_DATABASE_URL"
export PGOPTIONS="-c search_path=$SCHEMA"
export TB_WEB_DIR="$ROOT/web/dist"
export TB_API_TOKEN="$TOKEN"
export TB_LOG_LEVEL=info
export TB_WORKER_CONCURRENCY="${TB_WORKER_CONCURRENCY:-1}"
# Every sweep chunk waits this long before it runs (tests only; the worker
# logs TEST CHUNK DELAY ON): the split sweep's page is seen before it is done.
export TB_TEST_CHUNK_DELAY_MS="${TB_TEST_CHUNK_DELAY_MS:-400}"

started=0
for attempt in 1 2 3; do  # the free port can be taken before the server binds it
    PORT="$(free_port)"
    export TB_LISTEN="127.0.0.1:$PORT"
    "$SERVER_BIN" >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do  # ASan start-up and migrations: up to 30 s
        if curl -fsS --max-time 2 "http://$TB_LISTEN/health" >/dev/null 2>&1; then started=1; break; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    [[ $started == 1 ]] && break
    kill -KILL "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null
    echo "e2e: server did not come up on port $PORT (attempt $attempt):"; tail -n 20 "$WORK/server.log"
done
[[ $started == 1 ]] || exit 1
PIDS+=("$SERVER_PID")
"$WORKER_BIN" >"$WORK/worker.log" 2>&1 &
PIDS+=("$!")
# A probe backtest through the API first: a worker that does not pick it up
# within 30 s fails here, with its log, rather than deep in a browser test.
probe="$(curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"strategy":"buy_and_hold","data":"synthetic","universe":2,"last_bars":20}' "http://$TB_LISTEN/backtests")"
probe_id="$(printf '%s' "$probe" | grep -o '"id":[0-9]*' | head -n1 | grep -o '[0-9]*$' || true)"
[[ -n "$probe_id" ]] || { echo "e2e: POST /backtests failed: $probe"; exit 1; }
for _ in $(seq 1 150); do
    status="$(curl -s "http://$TB_LISTEN/runs/$probe_id" | grep -o '"status":"[a-z]*"' || true)"
    status="${status#*:}"; status="${status//\"/}"
    [[ "$status" != queued ]] && break
    sleep 0.2
done
if [[ "$status" == queued ]]; then
    echo "e2e: the worker did not pick up probe run $probe_id within 30 s"
    tail -n 40 "$WORK/worker.log"
    exit 1
fi

echo "e2e: server $TB_LISTEN (pid $SERVER_PID), worker pid ${PIDS[1]}, chromium $("$CHROMIUM" --version 2>/dev/null | head -n1)"
rc=0
TB_E2E_BASE="http://$TB_LISTEN" TB_E2E_TOKEN="$TOKEN" TB_E2E_SHOTS="$SHOTS" TB_CHROMIUM="$CHROMIUM" \
TB_E2E_WEB="$ROOT/web" TB_E2E_DOWNLOADS="$WORK/downloads" \
    node --test --test-reporter=spec "$HERE"/*.test.mjs || rc=$?
# Both services must exit 0 on SIGTERM (under ASan this also catches leaks
# and memory errors during the browser session).
stop() {  # stop <pid> <name>: SIGTERM, wait up to 20 s, check the exit status
    local pid="$1" name="$2" st=0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; echo "e2e: $name did not stop on SIGTERM"; }
    wait "$pid" || st=$?
    if ((st != 0)); then echo "e2e: $name exited with status $st"; rc=1; fi
}
stop "${PIDS[1]}" tradebench-worker
stop "$SERVER_PID" tradebench-server
PIDS=()
if ((rc != 0)); then
    echo "---- server log (tail) ----"; tail -n 60 "$WORK/server.log"
    echo "---- worker log (tail) ----"; tail -n 60 "$WORK/worker.log"
fi
[[ -n "${TB_E2E_SHOTS:-}" ]] && echo "e2e: screenshots in $SHOTS"
exit "$rc"
