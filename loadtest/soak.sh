#!/usr/bin/env bash
# loadtest/soak.sh — load test (3), run by hand (not in CI): a steady mixed
# load for 10 minutes while sampling the RSS of the server and of each
# worker process (VmRSS from /proc every --sample seconds), then the growth
# between the second minute and the last one. Loopback only, bounded.
#
#   loadtest/soak.sh [--bin DIR] [--db URL] [--seconds 600] [--rate 300]
#                    [--post-every 5] [--posts 4] [--sample 5]
#
# Load: wrk -t1 -c5 paced to --rate GETs/s over GET /runs/{id}, GET
# /runs?limit=50, GET /backtests/{id}/orders?limit=100 and GET /health in
# turn (loadtest/soak.lua), plus --posts POST /backtests every --post-every
# seconds (loadtest/postmix.c) that two workers execute. Own server and
# workers from --bin (default build/) in a private schema of --db (default
# $TB_DATABASE_URL or deploy/setup.sh's database), dropped at the end.
# Verdict "flat" when each process grew by less than max(4 MiB, 10 %) from
# the second minute's mean to the last minute's mean, every run succeeded and
# no request failed; exit 1 otherwise.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BIN="$ROOT/build"; DB="${TB_DATABASE_URL:-postgresql://tradebench:tradebench@127.0.0.1:5432/tradebench}"
SECS=600; RATE=300; EVERY=5; NPOST=4; SAMPLE=5
while (($#)); do
    case "$1" in
        --bin) BIN="$(cd "$2" && pwd)"; shift 2 ;;
        --db) DB="$2"; shift 2 ;;
        --seconds) SECS="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --post-every) EVERY="$2"; shift 2 ;;
        --posts) NPOST="$2"; shift 2 ;;
        --sample) SAMPLE="$2"; shift 2 ;;
        *) echo "usage: $0 [--bin DIR] [--db URL] [--seconds N] [--rate N] [--post-every S] [--posts N] [--sample S]" >&2; exit 2 ;;
    esac
done
((SECS >= 30 && SECS <= 7200)) || { echo "soak.sh: --seconds must be 30..7200" >&2; exit 2; }
command -v wrk >/dev/null || { echo "soak.sh: wrk not installed" >&2; exit 2; }
SCHEMA="tbsoak_$$"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tb-soak.XXXXXX")"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    env -u PGOPTIONS psql -X -q -d "$DB" -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
cc -O2 -Wall -std=c11 -D_DEFAULT_SOURCE -o "$WORK/postmix" "$HERE/postmix.c" \
    $(pkg-config --cflags --libs libcurl jansson) -lpthread
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA" >/dev/null
export PGOPTIONS="-c search_path=$SCHEMA"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
TB_LISTEN="127.0.0.1:$PORT" TB_DATABASE_URL="$DB" TB_LOG_LEVEL=warn "$BIN/tradebench-server" >"$WORK/server.log" 2>&1 &
SERVER=$!; PIDS+=("$SERVER")
for _ in $(seq 1 100); do curl -fsS -o /dev/null "$URL/openapi.json" 2>/dev/null && break; sleep 0.1; done
W=()
for w in 1 2; do
    TB_DATABASE_URL="$DB" TB_DATA= TB_LOG_LEVEL=warn "$BIN/tradebench-worker" >"$WORK/worker$w.log" 2>&1 &
    W+=($!); PIDS+=($!)
done
# Seed: one finished backtest for the read paths.
"$WORK/postmix" --url "$URL" --posts 4 --clients 2 --wait 60 --ids "$WORK/seed" >/dev/null
ID="$(head -n1 "$WORK/seed")"
rss() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }

CONNS=5
DELAY=$(( CONNS * 1000 / RATE )); ((DELAY >= 1)) || DELAY=1
echo "soak.sh: ${SECS} s; GET ~$RATE/s (wrk -c$CONNS, ${DELAY} ms between requests per connection) + $NPOST POST /backtests every $EVERY s; server pid $SERVER, workers ${W[*]}; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
LOADTEST_PATHS="/runs/$ID,/runs?limit=50,/backtests/$ID/orders?limit=100,/health" LOADTEST_DELAY_MS="$DELAY" \
    wrk -t1 -c"$CONNS" -d"${SECS}s" --timeout 10s -s "$HERE/soak.lua" "$URL" >"$WORK/wrk.out" 2>&1 &
WRK=$!; PIDS+=("$WRK")
(
    end=$(( $(date +%s) + SECS ))
    while (( $(date +%s) < end )); do
        "$WORK/postmix" --url "$URL" --posts "$NPOST" --clients 2 --ids "$WORK/ids.part" >>"$WORK/posts.log" 2>&1 || echo FAIL >>"$WORK/posts.fail"
        cat "$WORK/ids.part" >>"$WORK/ids"
        sleep "$EVERY"
    done
) &
POSTER=$!; PIDS+=("$POSTER")

printf '%8s %12s %12s %12s %8s\n' "t (s)" "server MiB" "worker1 MiB" "worker2 MiB" "runs" | tee "$WORK/samples"
t0=$(date +%s)
while kill -0 "$WRK" 2>/dev/null; do
    t=$(( $(date +%s) - t0 ))
    runs="$(psql -X -tA -d "$DB" -c 'SELECT count(*) FROM runs' 2>/dev/null || echo '?')"
    printf '%8d %12s %12s %12s %8s\n' "$t" "$(rss "$SERVER")" "$(rss "${W[0]}")" "$(rss "${W[1]}")" "$runs" | tee -a "$WORK/samples"
    sleep "$SAMPLE"
done
wait "$POSTER" || true
sleep 3  # let the workers drain the last POSTs
grep "^lua:" "$WORK/wrk.out"

rc=0
verdict() {  # verdict <column> <name>: second minute's mean vs last minute's mean
    awk -v c="$1" -v name="$2" -v secs="$SECS" 'NR > 1 && $1 >= 60 && $1 < 120 { a += $c; na++ }
        NR > 1 && $1 >= secs - 60 { b += $c; nb++ }
        END { if (!na || !nb) { print name ": too few samples"; exit 1 }
              a /= na; b /= nb; g = b - a; lim = (a * 0.10 > 4) ? a * 0.10 : 4
              printf "soak.sh: %-8s RSS %.1f MiB (minute 2) -> %.1f MiB (last minute): %+.1f MiB (%+.1f %%) %s\n",
                     name, a, b, g, 100 * g / a, (g < lim) ? "flat" : "GROWING"
              exit !(g < lim) }' "$WORK/samples"
}
verdict 2 server || rc=1
verdict 3 worker1 || rc=1
verdict 4 worker2 || rc=1
n_ids=$(sort -u "$WORK/ids" | wc -l)
read -r n_runs n_ok <<<"$(psql -X -tA -F ' ' -d "$DB" -c "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded') FROM runs")"
echo "soak.sh: $n_ids POSTs accepted during the soak; $n_runs runs in the schema, $n_ok succeeded"
errs="$(awk '/^lua: errors/ { print $4 + $6 + $8 + $10 + $12 }' "$WORK/wrk.out")"
[[ "${errs:-1}" == 0 ]] || { echo "soak.sh: $errs failed GETs" >&2; rc=1; }
[[ ! -e "$WORK/posts.fail" ]] || { echo "soak.sh: $(wc -l <"$WORK/posts.fail") POST rounds failed" >&2; rc=1; }
[[ "$n_runs" == "$n_ok" ]] || { echo "soak.sh: not every run succeeded" >&2; rc=1; }
for p in "${W[@]}" "$SERVER"; do
    kill -TERM "$p"; st=0; wait "$p" || st=$?
    ((st == 0)) || { echo "soak.sh: pid $p exited $st after SIGTERM" >&2; rc=1; }
done
PIDS=()
echo "soak.sh: $([[ $rc == 0 ]] && echo 'memory flat, no errors' || echo FAILED)"
exit "$rc"
