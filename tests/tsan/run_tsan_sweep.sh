#!/usr/bin/env bash
# tests/tsan/run_tsan_sweep.sh — ThreadSanitizer over the engine's threads:
# a parameter sweep (engine/sweep.c: the cost-table and signal threads, the
# member pool with its atomic counters, the calling thread's progress and
# cancellation polling) and a single backtest (its two signal threads and
# the cost-statistics helper beside the simulation, simulate.c). Builds
# `tradebench` with -fsanitize=thread into BUILD_DIR (the same flags and
# directory as run_tsan.sh), runs one sweep of 12 members on 4 threads and
# the same on 1 thread over a small synthetic market, and a backtest;
# requires clean exits (TSan halts with 66 at its first report) and
# byte-identical sweep_results.csv. Needs no database. ~10 s after the build.
#
# (A Criterion suite cannot start under TSan — see run_tsan.sh — hence the CLI.)
#
#   tests/tsan/run_tsan_sweep.sh [SOURCE_DIR] [BUILD_DIR]   (defaults: repo root, build-tsan)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="${1:-$(cd "$HERE/../.." && pwd)}"
BUILD="${2:-$SRC/build-tsan}"
t0=$(date +%s)
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS="-fsanitize=thread -fno-omit-frame-pointer -O1 -g" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build "$BUILD" -j"${JOBS:-2}" --target tradebench >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export OPENBLAS_NUM_THREADS=1
sweep() { # sweep <threads> <dir>
    "$BUILD/tradebench" backtest --data synthetic --strategy trend_baseline --symbols 40 --last-bars 800 \
        --grid fast=5,10,20,40 --grid slow=30,60,120 --threads "$1" --out "$2"
}
sweep 4 "$out/t4"
sweep 1 "$out/t1"
# a single backtest: its signal threads and the statistics helper that runs beside the simulation
"$BUILD/tradebench" backtest --data synthetic --strategy trend_baseline --symbols 60 --out "$out/bt" >/dev/null
if ! cmp -s "$out/t4/sweep_results.csv" "$out/t1/sweep_results.csv"; then
    echo "run_tsan_sweep.sh: 4 threads and 1 thread disagree" >&2
    diff "$out/t1/sweep_results.csv" "$out/t4/sweep_results.csv" >&2 || true
    exit 1
fi
echo "run_tsan_sweep.sh: sweep on 4 threads and a backtest clean under ThreadSanitizer, sweep identical to 1 thread ($(( $(date +%s) - t0 )) s)"
