#!/usr/bin/env bash
# tests/tsan/run_tsan.sh — the ThreadSanitizer step of CI (deploy/setup.sh test).
#
# Builds only tradebench-server and tradebench-worker with -fsanitize=thread
# into build-tsan/, then drives them with loadtest/postmix.sh: 40 POST
# /backtests from 8 concurrent clients plus 4 reader threads on the server's
# thread pool (4 MHD threads, one libpq connection each, prepared-statement
# caches, lock-free request metrics), while one worker with
# TB_WORKER_CONCURRENCY=2 runs two runs at once (self-pipe signal handlers,
# children, persist). TSan halts the process at its first report (exit 66),
# so any data race fails the step, as does a lost or duplicated run.
#
# (Criterion's test runner cannot start under TSan: its inheritable arena
# wants an address inside TSan's shadow memory. Hence real processes driven
# from outside rather than the Criterion suites.)
#
#   tests/tsan/run_tsan.sh [SOURCE_DIR] [BUILD_DIR]   (defaults: repo root, build-tsan)
# Needs TB_TEST_DATABASE_URL (or TB_DATABASE_URL); exit 77 when unreachable.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="${1:-$(cd "$HERE/../.." && pwd)}"
BUILD="${2:-$SRC/build-tsan}"
t0=$(date +%s)
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS="-fsanitize=thread -fno-omit-frame-pointer -O1 -g" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build "$BUILD" -j"${JOBS:-2}" --target tradebench-server tradebench-worker >/dev/null
echo "run_tsan.sh: built $BUILD/tradebench-server and tradebench-worker with -fsanitize=thread in $(( $(date +%s) - t0 )) s"
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
exec "$SRC/loadtest/postmix.sh" --bin "$BUILD" --posts "${TSAN_POSTS:-40}" --clients 8 --workers 1 \
    --concurrency 2 --readers 4 --wait 600
