#!/usr/bin/env bash
# tests/golden/run_golden.sh — runs the SPEC §12 commands whose outputs an
# independent implementation of SPEC.md produced (../shared/golden) and checks
# every artifact with ../shared/golden/compare.py (1e-9 relative). Skips
# cleanly (exit 77, ctest SKIP) when ../shared or python3 is absent.
# usage: run_golden.sh <tradebench binary> <shared dir>
set -euo pipefail
tb=$1
shared=$2
g=$shared/golden
data=$shared/data/ohlcv_1d
if [ ! -d "$g" ] || [ ! -d "$data" ] || ! command -v python3 >/dev/null; then
  echo "SKIP: $g, $data or python3 not available"
  exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0
check() { # check <golden file> <our file>
  if python3 "$g/compare.py" "$1" "$2"; then :; else echo "MISMATCH: $2 vs $1"; fail=1; fi
}
"$tb" backtest --data "$data" --strategy trend_baseline --symbols 200 --capital 10000 --out "$out/bm" >/dev/null
for f in orders_1d.csv equity_curve_1d.csv metrics.json; do check "$g/backtest_medium/$f" "$out/bm/$f"; done
"$tb" backtest --data "$data" --strategy ema_trend --symbols 100 --last-bars 504 --capital 10000 --out "$out/eod" >/dev/null
for f in orders_1d.csv equity_curve_1d.csv metrics.json; do check "$g/eod_small/$f" "$out/eod/$f"; done
for s in AAPL ABMD; do
  "$tb" indicators --data "$data" --symbol "$s" --out "$out/$s.csv" >/dev/null
  check "$g/indicators/$s.csv" "$out/$s.csv"
done
[ "$fail" = 0 ] && echo "golden: all artifacts match" || echo "golden: MISMATCHES above"
exit "$fail"
