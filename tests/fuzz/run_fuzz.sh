#!/usr/bin/env bash
# tests/fuzz/run_fuzz.sh — build the libFuzzer targets with clang and fuzz
# each for a bounded time from its seed corpus.
#
#   run_fuzz.sh [SOURCE_DIR] [BUILD_DIR]      (defaults: repo root, build-fuzz)
#   FUZZ_SECONDS=25   seconds per target (libFuzzer -max_total_time)
#   FUZZ_TARGETS="jobspec csv"
#
# New inputs go to a scratch corpus under BUILD_DIR (the seeds in
# tests/fuzz/corpus/<target>/ are read, never written); a crash, leak, UB
# report or timeout leaves its input in BUILD_DIR/artifacts/ and fails.
# Exit 77 (ctest: skipped) when clang or its fuzzer runtime is missing.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="${1:-$(cd "$HERE/../.." && pwd)}"
BUILD="${2:-$SRC/build-fuzz}"
SECONDS_PER="${FUZZ_SECONDS:-25}"
TARGETS="${FUZZ_TARGETS:-jobspec csv}"

CC_FUZZ="$(command -v clang || true)"
if [[ -z "$CC_FUZZ" ]]; then
    echo "run_fuzz.sh: clang not found (deploy/setup.sh installs clang and libclang-rt-14-dev); skipping" >&2
    exit 77
fi
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! "$CC_FUZZ" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err"; then
    echo "run_fuzz.sh: clang cannot link -fsanitize=fuzzer (libclang-rt-14-dev missing?); skipping" >&2
    cat "$probe/err" >&2
    exit 77
fi

FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
t0=$(date +%s)
cmake -S "$SRC" -B "$BUILD" -DCMAKE_C_COMPILER="$CC_FUZZ" -DCMAKE_BUILD_TYPE=Debug -DTB_FUZZ=ON \
    -DCMAKE_C_FLAGS="$FLAGS" >/dev/null
for t in $TARGETS; do
    cmake --build "$BUILD" -j"${JOBS:-2}" --target "fuzz_$t" >/dev/null
done
echo "run_fuzz.sh: built $(for t in $TARGETS; do printf 'fuzz_%s ' "$t"; done)in $(( $(date +%s) - t0 )) s"

mkdir -p "$BUILD/artifacts"
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
rc=0
for t in $TARGETS; do
    seeds="$HERE/corpus/$t"
    work="$BUILD/corpus-$t"
    mkdir -p "$work"
    log="$BUILD/fuzz_$t.log"
    echo "run_fuzz.sh: fuzz_$t for ${SECONDS_PER} s (seeds: $(ls "$seeds" | wc -l), scratch corpus: $(ls "$work" | wc -l))"
    if "$BUILD/fuzz_$t" -max_total_time="$SECONDS_PER" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/${t}-" "$work" "$seeds" >"$log" 2>&1; then
        grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$log" | tr '\n' ' '
        grep -E "^#[0-9]+.*DONE" "$log" | tail -n1 || true
        echo
    else
        rc=1
        echo "run_fuzz.sh: fuzz_$t FAILED — log $log, input in $BUILD/artifacts/:" >&2
        grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" >&2 || tail -n 40 "$log" >&2
    fi
done
exit "$rc"
