#!/usr/bin/env bash
# loadtest/postmix.sh — load test (2): POST /backtests from concurrent clients
# while workers drain them, then prove in PostgreSQL that every accepted run
# completed exactly once: none lost, none executed twice, no duplicated
# orders or equity rows (orders per run = its n_orders metric, one equity
# point per timestamp, one run_iterations row per iteration), no 5xx.
#
#   loadtest/postmix.sh [--bin DIR] [--posts 200] [--clients 20] [--workers 2]
#                       [--concurrency 1] [--readers 0] [--wait 600] [--db URL]
#                       [--schema NAME] [--keep]
#
# Starts its own tradebench-server (free loopback port) and workers from
# --bin (default build/) in a private schema (--schema, default tbload_<pid>;
# PGOPTIONS search_path; dropped at the end unless --keep) of --db, or $TB_TEST_DATABASE_URL, or
# $TB_DATABASE_URL, or the database deploy/setup.sh creates. Exit 0 when everything holds.
# Also the engine of the ctest load_postmix_short (40 POSTs, 8 clients) and
# of the ThreadSanitizer step (tests/tsan/run_tsan.sh). Loopback only;
# bounded by --posts and --wait.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BIN="$ROOT/build"; DB=""; SCHEMA="tbload_$$"; POSTS=200; CLIENTS=20; WORKERS=2; CONC=1; READERS=0; WAIT=600; KEEP=0
while (($#)); do
    case "$1" in
        --bin) BIN="$(cd "$2" && pwd)"; shift 2 ;;
        --posts) POSTS="$2"; shift 2 ;;
        --clients) CLIENTS="$2"; shift 2 ;;
        --workers) WORKERS="$2"; shift 2 ;;
        --concurrency) CONC="$2"; shift 2 ;;
        --readers) READERS="$2"; shift 2 ;;
        --wait) WAIT="$2"; shift 2 ;;
        --db) DB="$2"; shift 2 ;;
        --schema) SCHEMA="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        *) echo "usage: $0 [--bin DIR] [--posts N] [--clients C] [--workers W] [--concurrency K] [--readers R] [--wait S] [--db URL] [--schema NAME] [--keep]" >&2; exit 2 ;;
    esac
done
DB="${DB:-${TB_TEST_DATABASE_URL:-${TB_DATABASE_URL:-postgresql://tradebench:tradebench@127.0.0.1:5432/tradebench}}}"
for b in tradebench-server tradebench-worker; do
    [[ -x "$BIN/$b" ]] || { echo "postmix.sh: $BIN/$b not built" >&2; exit 2; }
done
if ! pg_isready -q -d "$DB" 2>/dev/null; then
    echo "postmix.sh: database not reachable ($DB); skipping" >&2
    exit 77
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tb-postmix.XXXXXX")"
CLIENT="$WORK/postmix"
cc -O2 -Wall -Wextra -std=c11 -D_DEFAULT_SOURCE -o "$CLIENT" "$HERE/postmix.c" \
    $(pkg-config --cflags --libs libcurl jansson) -lpthread

psql_q() { PGOPTIONS="-c search_path=$SCHEMA" psql -X -q -v ON_ERROR_STOP=1 -tA -d "$DB" "$@"; }
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA" >/dev/null
export PGOPTIONS="-c search_path=$SCHEMA"

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    if ((KEEP == 0)); then
        env -u PGOPTIONS psql -X -q -d "$DB" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
        rm -rf "$WORK"
    else
        echo "postmix.sh: kept schema $SCHEMA and $WORK"
    fi
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
TB_LISTEN="127.0.0.1:$PORT" TB_DATABASE_URL="$DB" TB_HTTP_THREADS="${TB_HTTP_THREADS:-4}" TB_LOG_LEVEL=warn \
    "$BIN/tradebench-server" >"$WORK/server.log" 2>&1 &
SERVER=$!; PIDS+=("$SERVER")
for _ in $(seq 1 200); do
    curl -fsS -o /dev/null --max-time 2 "$URL/openapi.json" 2>/dev/null && break
    kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.1
done
WPIDS=()
for w in $(seq 1 "$WORKERS"); do
    TB_DATABASE_URL="$DB" TB_WORKER_CONCURRENCY="$CONC" TB_DATA= TB_LOG_LEVEL=info TB_FAULT_INJECT= \
        "$BIN/tradebench-worker" >"$WORK/worker$w.log" 2>&1 &
    WPIDS+=($!); PIDS+=($!)
done

echo "postmix.sh: $POSTS POSTs from $CLIENTS clients, $WORKERS worker(s) x $CONC, $READERS reader(s); server $BIN/tradebench-server on $URL, schema $SCHEMA"
rc=0
"$CLIENT" --url "$URL" --posts "$POSTS" --clients "$CLIENTS" --readers "$READERS" --wait "$WAIT" \
    --ids "$WORK/ids" || rc=1

# Exactly once, in the database.
IDS="{$(paste -sd, "$WORK/ids")}"
read -r n_runs n_succeeded n_attempts_gt1 n_bad_orders n_dup_orders n_dup_equity n_bad_iters n_bad_artifacts n_workers <<<"$(psql_q -F ' ' -c "
WITH r AS (SELECT * FROM runs WHERE id = ANY('$IDS'::bigint[]))
SELECT (SELECT count(*) FROM r),
       (SELECT count(*) FROM r WHERE status = 'succeeded'),
       (SELECT count(*) FROM r WHERE attempts <> 1),
       (SELECT count(*) FROM r WHERE (SELECT count(*) FROM orders o WHERE o.run_id = r.id)
            IS DISTINCT FROM (SELECT value::bigint FROM metrics m WHERE m.run_id = r.id AND m.name = 'n_orders')),
       (SELECT count(*) FROM (SELECT run_id, seq FROM orders WHERE run_id = ANY('$IDS'::bigint[])
            GROUP BY 1, 2 HAVING count(*) > 1) d),
       (SELECT count(*) FROM (SELECT run_id, ts FROM equity_points WHERE run_id = ANY('$IDS'::bigint[])
            GROUP BY 1, 2 HAVING count(*) > 1) d),
       (SELECT count(*) FROM r WHERE (SELECT count(*) FROM run_iterations i WHERE i.run_id = r.id) <> r.iterations),
       (SELECT count(*) FROM r WHERE (SELECT count(*) FROM artifacts a WHERE a.run_id = r.id) <> 4),
       (SELECT count(DISTINCT worker_id) FROM r)")"
n_ids="$(wc -l <"$WORK/ids")"
read -r orders_total equity_total <<<"$(psql_q -F ' ' -c "SELECT (SELECT count(*) FROM orders WHERE run_id = ANY('$IDS'::bigint[])), (SELECT count(*) FROM equity_points WHERE run_id = ANY('$IDS'::bigint[]))")"
echo "postmix.sh: accepted $n_ids; in PostgreSQL: $n_runs runs, $n_succeeded succeeded, $n_attempts_gt1 with attempts <> 1," \
     "$n_bad_orders with orders <> n_orders, $n_dup_orders duplicated order seqs, $n_dup_equity duplicated equity points," \
     "$n_bad_iters with missing/extra iterations, $n_bad_artifacts with artifacts <> 4; $orders_total orders and $equity_total equity points;" \
     "executed by $n_workers worker(s)"
psql_q -c "SELECT '  by worker: ' || string_agg(worker_id || ' ' || n, ', ') FROM (SELECT worker_id, count(*) n FROM runs WHERE id = ANY('$IDS'::bigint[]) GROUP BY 1 ORDER BY 1) s"
if [[ "$n_ids" != "$POSTS" || "$n_runs" != "$POSTS" || "$n_succeeded" != "$POSTS" || "$n_attempts_gt1" != 0 ||
      "$n_bad_orders" != 0 || "$n_dup_orders" != 0 || "$n_dup_equity" != 0 || "$n_bad_iters" != 0 || "$n_bad_artifacts" != 0 ]]; then
    echo "postmix.sh: FAILED: not every accepted run completed exactly once" >&2
    rc=1
fi

# Clean stop: SIGTERM, exit 0, and no sanitizer report in any log.
stop() {  # stop <pid> <name>
    local pid="$1" name="$2" st=0
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || st=$?
    if ((st != 0)); then echo "postmix.sh: $name exited $st after SIGTERM" >&2; rc=1; fi
}
for i in "${!WPIDS[@]}"; do stop "${WPIDS[$i]}" "worker$((i + 1))"; done
stop "$SERVER" server
PIDS=()
if grep -l -E "WARNING: ThreadSanitizer|ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$WORK"/*.log >/dev/null 2>&1; then
    echo "postmix.sh: FAILED: sanitizer reports:" >&2
    grep -h -A30 -E "WARNING: ThreadSanitizer|ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$WORK"/*.log | head -n 200 >&2
    rc=1
fi
if ((rc != 0)); then
    for f in "$WORK"/*.log; do echo "---- $f (tail) ----" >&2; tail -n 15 "$f" >&2; done
fi
echo "postmix.sh: $([[ $rc == 0 ]] && echo OK || echo FAILED)"
exit "$rc"
