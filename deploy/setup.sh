#!/usr/bin/env bash
# deploy/setup.sh — set up and run tradebench on a fresh Debian 12, as root.
#
#   deploy/setup.sh run    install missing packages, build Release into build/,
#                          start PostgreSQL (Debian cluster), create role + db,
#                          migrate, (re)start tradebench-server and one
#                          tradebench-worker in the background, print /health,
#                          run EOD_SMALL through the API (POST /runs, poll,
#                          download its report into output/) and, last, the
#                          dashboard URL (web/ is built by npm).
#   deploy/setup.sh test   the same, plus an ASan+UBSan Debug build in
#                          build-asan/, a tradebench_test database, a
#                          ThreadSanitizer step (build-tsan/) and ctest
#                          (which also builds and runs the fuzzers, build-fuzz/).
#   deploy/setup.sh stop   stop the server and worker started by `run`.
#
# Idempotent: a second run skips apt when everything is installed, builds
# incrementally and restarts the services on the new binaries. Pids and logs
# live under var/ (git-ignored). Environment overrides: TB_LISTEN,
# TB_DATABASE_URL, TB_API_TOKEN, TB_LOG_LEVEL, TB_WORKER_CONCURRENCY, JOBS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PACKAGES=(build-essential cmake pkg-config ca-certificates curl python3 procps
          postgresql postgresql-client libpq-dev libmicrohttpd-dev libjansson-dev
          libxgboost-dev libopenblas-dev libcriterion-dev libcurl4-openssl-dev chromium
          clang libclang-rt-14-dev wrk  # libFuzzer targets (tests/fuzz), load tests (loadtest/)
          linux-perf valgrind)          # tradebench profile-job --profiler perf|callgrind
# The dashboard's build (npm) and browser tests (chromium). Debian's nodejs/npm
# only when no node/npm is installed: a NodeSource nodejs bundles npm and
# conflicts with Debian's npm package.
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)
DB_NAME=tradebench
DB_TEST_NAME=tradebench_test
DB_USER=tradebench
DB_PASSWORD=tradebench
JOBS="${JOBS:-2}"
VAR="$ROOT/var"
export TB_LISTEN="${TB_LISTEN:-127.0.0.1:8080}"

if [[ -t 2 ]]; then log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }; else log() { printf '==> %s\n' "$*" >&2; }; fi
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }

require_root() {
    [[ $(id -u) -eq 0 ]] || die "run me as root (I install packages and start PostgreSQL)"
}

# ---- packages ---------------------------------------------------------------
install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]]; then
            missing+=("$p")
        fi
    done
    if ((${#missing[@]} == 0)); then
        log "packages: all ${#PACKAGES[@]} installed"
        return
    fi
    log "packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# ---- build ------------------------------------------------------------------
# build_tree <dir> <cmake args...>: configure once, then build incrementally.
build_tree() {
    local dir="$1"; shift
    log "build: $dir ($*)"
    cmake -S . -B "$dir" "$@" >/dev/null  # cheap when already configured
    cmake --build "$dir" -j"$JOBS"
}

# ---- web dashboard ----------------------------------------------------------------
# npm ci (only when package-lock.json changed: offline afterwards), then the
# esbuild bundle into web/dist, which tradebench-server serves at / (docs/DASHBOARD.md).
build_web() {
    if [[ ! -f web/node_modules/.package-lock.json || web/package-lock.json -nt web/node_modules/.package-lock.json ]]; then
        log "web: npm ci"
        (cd web && npm ci --no-audit --no-fund --loglevel=error)
    fi
    log "web: npm run build (web/dist)"
    (cd web && npm run --silent build)
}

# ---- PostgreSQL ---------------------------------------------------------------
PG_VER=""
PG_PORT=""
start_postgres() {
    PG_VER="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
    [[ -n "$PG_VER" ]] || die "no PostgreSQL server found under /usr/lib/postgresql"
    if ! pg_lsclusters -h | awk -v v="$PG_VER" '$1 == v && $2 == "main" { found = 1 } END { exit !found }'; then
        log "postgres: creating cluster $PG_VER/main"
        pg_createcluster "$PG_VER" main >/dev/null
    fi
    PG_PORT="$(pg_lsclusters -h | awk -v v="$PG_VER" '$1 == v && $2 == "main" { print $3 }')"
    if pg_ctlcluster "$PG_VER" main status >/dev/null 2>&1; then
        log "postgres: cluster $PG_VER/main already running on port $PG_PORT"
    else
        log "postgres: starting cluster $PG_VER/main on port $PG_PORT"
        # pg_ctlcluster runs the server as the cluster owner (postgres), not root.
        pg_ctlcluster "$PG_VER" main start
    fi
    local i
    for i in $(seq 1 60); do
        pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && return
        sleep 0.5
    done
    die "PostgreSQL did not become ready on 127.0.0.1:$PG_PORT (see /var/log/postgresql/)"
}

psql_admin() {  # run SQL as the postgres superuser over the local socket
    (cd /tmp && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres "$@")
}

ensure_database() {  # ensure_database <name>: owned by DB_USER
    local name="$1"
    if [[ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'")" != 1 ]]; then
        log "postgres: creating database $name"
        psql_admin -c "CREATE DATABASE $name OWNER $DB_USER"
    fi
}

ensure_role() {
    if [[ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" != 1 ]]; then
        log "postgres: creating role $DB_USER"
        psql_admin -c "CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD'"
    fi
    # Password auth over 127.0.0.1 (Debian's pg_hba.conf: scram-sha-256 for host).
    PGPASSWORD="$DB_PASSWORD" psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d postgres \
        -tAc 'SELECT 1' >/dev/null 2>&1 || psql_admin -c "ALTER ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD'"
}

db_url() { echo "postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$1"; }

# ---- migrations ---------------------------------------------------------------
migrate() {
    if [[ -x build/tradebench ]]; then
        log "migrate: build/tradebench migrate"
        TB_DATABASE_URL="$TB_DATABASE_URL" build/tradebench migrate
    else
        # The CLI is not built (yet): the server applies migrations at start.
        log "migrate: build/tradebench not built; tradebench-server will migrate at start"
    fi
}

# ---- services -----------------------------------------------------------------
# stop_service <name>: SIGTERM the pid in var/run/<name>.pid, wait, then SIGKILL.
stop_service() {
    local name="$1" pidfile="$VAR/run/$1.pid" pid i
    [[ -f "$pidfile" ]] || return 0
    pid="$(cat "$pidfile")"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null &&
        [[ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" == *"/$name"* ]]; then
        log "services: stopping $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "services: $name did not stop in 10 s; killing"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

start_service() {  # start_service <name>: build/<name> in the background
    local name="$1"
    mkdir -p "$VAR/run" "$VAR/log"
    stop_service "$name"
    # Another process on our address (a server started from another checkout,
    # whose pid file this one cannot see) would answer /health for us while
    # ours fails to bind: refuse plainly instead.
    if [[ "$name" == tradebench-server ]] &&
        (exec 3<>"/dev/tcp/${TB_LISTEN%:*}/${TB_LISTEN##*:}") 2>/dev/null; then
        die "$TB_LISTEN is already in use by another process (not this checkout's server: no var/run pid file for it); stop it (e.g. ./deploy/setup.sh stop in its checkout) or set TB_LISTEN"
    fi
    log "services: starting $name (log var/log/$name.log)"
    # setsid: own session, so the service outlives this script's terminal.
    setsid "build/$name" >>"$VAR/log/$name.log" 2>&1 </dev/null &
    echo $! >"$VAR/run/$name.pid"
}

wait_health() {
    local url="http://$TB_LISTEN/health" i body pid
    pid="$(cat "$VAR/run/tradebench-server.pid")"
    for i in $(seq 1 120); do
        if body="$(curl -fsS --max-time 5 "$url" 2>/dev/null)"; then
            log "health: $url -> 200"
            echo "$body"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$VAR/log/tradebench-server.log" >&2 || true
            die "tradebench-server exited during start-up (log above: var/log/tradebench-server.log)"
        fi
        sleep 0.5
    done
    tail -n 20 "$VAR/log/tradebench-server.log" >&2 || true
    die "$url did not answer 200 within 60 s"
}

# ---- EOD_SMALL through the API ------------------------------------------------
# json_get <expr>: evaluate a Python expression over the JSON document on stdin
# (bound to d), e.g. json_get 'd["id"]'.
json_get() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# POST {"job":"EOD_SMALL"}, poll the run until it finishes, download its report
# into output/ and print the run's URL, status, timings and headline metrics.
run_eod_small() {
    local base="http://$TB_LISTEN" body id url status i auth=()
    [[ -n "${TB_API_TOKEN:-}" ]] && auth=(-H "Authorization: Bearer $TB_API_TOKEN")
    log "api: POST $base/runs {\"job\":\"EOD_SMALL\"}"
    body="$(curl -sS --max-time 10 -X POST "$base/runs" -H 'Content-Type: application/json' \
        "${auth[@]}" -d '{"job":"EOD_SMALL"}')" || die "POST $base/runs failed"
    id="$(printf '%s' "$body" | json_get 'd["id"]' 2>/dev/null)" ||
        die "POST $base/runs did not queue a run: $body"
    url="$base/runs/$id"
    log "api: run $id queued; polling $url"
    for i in $(seq 1 600); do  # up to 5 minutes
        body="$(curl -fsS --max-time 5 "$url")" || die "GET $url failed"
        status="$(printf '%s' "$body" | json_get 'd["status"]')"
        case "$status" in succeeded | failed | cancelled) break ;; esac
        sleep 0.5
    done
    if [[ "$status" != succeeded ]]; then
        tail -n 20 "$VAR/log/tradebench-worker.log" >&2 || true
        die "EOD_SMALL run $id is $status: $(printf '%s' "$body" | json_get 'd["error"]')" \
            "(worker log: var/log/tradebench-worker.log)"
    fi
    mkdir -p output
    curl -fsS --max-time 30 "$url/artifacts/performance_report_1d.md" \
        -o output/performance_report_1d.md || die "downloading the report failed"
    printf '%s' "$body" | python3 -c '
import json, sys
d = json.load(sys.stdin)
m = d.get("metrics") or {}
def f(k, fmt="{:.4f}"):
    v = m.get(k)
    return "n/a" if v is None else fmt.format(v)
print("EOD_SMALL run %d: %s (created %s, finished %s)" % (d["id"], d["status"], d["created_at"], d["finished_at"]))
print("  total_return %s  cagr %s  sharpe %s  max_drawdown %s  n_orders %s" % (
    f("total_return"), f("cagr"), f("sharpe"), f("max_drawdown"), f("n_orders", "{}")))'
    echo "Run:     $url"
    echo "Report:  $url/artifacts/performance_report_1d.md"
    echo "         saved to $ROOT/output/performance_report_1d.md"
    echo "Also:    $url/artifacts (orders, equity curve, metrics, targets) and $url/profile"
}

# ---- subcommands --------------------------------------------------------------
setup_common() {
    require_root
    install_packages
    build_tree build -DCMAKE_BUILD_TYPE=Release
    build_web
    start_postgres
    ensure_role
    ensure_database "$DB_NAME"
    export TB_DATABASE_URL="${TB_DATABASE_URL:-$(db_url "$DB_NAME")}"
    migrate
    start_service tradebench-server
    # Model trainings run XGBoost (OpenMP) in the worker's children, which
    # inherit this: idle OpenMP threads sleep instead of spinning. It matters
    # only with TB_WORKER_XGB_THREADS above its default 1 (docs/ML.md).
    OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}" start_service tradebench-worker
    wait_health
}

cmd_run() {
    local t0; t0="$(now)"
    setup_common

    # >>> ENGINE HOOK — EOD_SMALL through the API ------------------------------
    run_eod_small
    # <<< ENGINE HOOK -------------------------------------------------------------

    log "ready in $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s:" \
        "server http://$TB_LISTEN (pid $(cat "$VAR/run/tradebench-server.pid"))," \
        "worker pid $(cat "$VAR/run/tradebench-worker.pid"); logs in var/log/"
    echo "Dashboard: http://$TB_LISTEN/"
}

cmd_test() {
    local t0; t0="$(now)"
    setup_common
    ensure_database "$DB_TEST_NAME"
    build_tree build-asan -DCMAKE_BUILD_TYPE=Debug -DTB_SANITIZE=ON
    local rc=0
    # ThreadSanitizer: server + worker (concurrency 2) under concurrent requests (docs/RELIABILITY.md).
    log "test: ThreadSanitizer step (tests/tsan/run_tsan.sh, build-tsan/)"
    TB_TEST_DATABASE_URL="$(db_url "$DB_TEST_NAME")" tests/tsan/run_tsan.sh "$ROOT" "$ROOT/build-tsan" || rc=$?
    log "test: ThreadSanitizer over a sweep's member threads (tests/tsan/run_tsan_sweep.sh, build-tsan/)"
    tests/tsan/run_tsan_sweep.sh "$ROOT" "$ROOT/build-tsan" || rc=$?
    log "test: ctest --test-dir build-asan"
    TB_TEST_DATABASE_URL="$(db_url "$DB_TEST_NAME")" \
    TB_BUILD_DIR="$ROOT/build-asan" \
    ASAN_OPTIONS="detect_leaks=1" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        ctest --test-dir build-asan --output-on-failure -j"$JOBS" || rc=$?
    log "test: finished in $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s (exit $rc)"
    return "$rc"
}

cmd_stop() {
    require_root
    stop_service tradebench-worker
    stop_service tradebench-server
}

case "${1:-}" in
    run) cmd_run ;;
    test) cmd_test ;;
    stop) cmd_stop ;;
    *) echo "usage: $0 run|test|stop" >&2; exit 2 ;;
esac
