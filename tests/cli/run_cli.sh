#!/usr/bin/env bash
# tests/cli/run_cli.sh — the command line as a user drives it (SPEC §12):
# run-daily with no flags on the synthetic default, data synth -> data import
# -> backtest round trip, the meta_filter from a trained model file (threshold
# 0 = the base run, 1 = no trade), a --grid sweep, and exit status 2 with a
# message naming the flag, parameter, file and line for bad input.
# usage: run_cli.sh <tradebench binary>
set -uo pipefail
tb=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
# expect <status> <stderr substring> <description> -- command...
expect() {
  local want=$1 needle=$2 what=$3; shift 4
  "$@" >"$work/out" 2>"$work/err"; local got=$?
  if [ "$got" = "$want" ] && grep -qF -- "$needle" "$work/err" "$work/out"; then ok "$what"
  else bad "$what (exit $got, want $want; stderr: $(head -c 300 "$work/err"))"; fi
}

# 1. run-daily with no flags: synthetic default, EOD_SMALL artifacts under output/
"$tb" run-daily >"$work/out" 2>"$work/err" && ok "run-daily exits 0" || bad "run-daily: $(cat "$work/err")"
for f in orders_1d.csv equity_curve_1d.csv metrics.json targets_1d.csv performance_report_1d.md; do
  [ -s "output/$f" ] && ok "run-daily wrote output/$f" || bad "run-daily did not write output/$f"
done
[ "$(wc -l <output/equity_curve_1d.csv)" = 505 ] && ok "EOD_SMALL covers 504 bars" || bad "equity rows: $(wc -l <output/equity_curve_1d.csv)"
[ "$(wc -l <output/targets_1d.csv)" = 101 ] && ok "targets for 100 symbols" || bad "targets rows"
grep -q '"sharpe"' output/metrics.json && ok "metrics.json has sharpe" || bad "metrics.json"
grep -q "## Metrics" output/performance_report_1d.md && grep -q "peak memory" output/performance_report_1d.md \
  && ok "report has metrics and profile" || bad "report content"

# 2. data synth -> data import -> backtest on the CSV equals backtest on synthetic
"$tb" data synth --symbols 12 --bars 400 --seed 7 --out synth >/dev/null && ok "data synth" || bad "data synth"
"$tb" data import --from synth >/dev/null 2>&1 && ok "data import accepts the synthetic export" || bad "data import"
"$tb" backtest --data synth --strategy trend_baseline --symbols 12 --out a >/dev/null || bad "backtest on csv"
# the same 12 symbols straight from the generator (prefix-stable in bars), cut at the export's last date
last=$(tail -1 synth/SYN000.csv | cut -d, -f1)
"$tb" backtest --data synthetic --seed 7 --strategy trend_baseline --symbols 12 --end "$last" --out b >/dev/null
cmp -s a/orders_1d.csv b/orders_1d.csv && cmp -s a/equity_curve_1d.csv b/equity_curve_1d.csv \
  && ok "CSV export round trip: same orders and equity as the generator" || bad "csv round trip differs"
"$tb" data synth --symbols 3 --bars 50 --freq 1h --out hourly >/dev/null && \
  "$tb" backtest --data hourly --freq 1h --strategy buy_and_hold --out h >/dev/null && \
  head -2 h/equity_curve_1h.csv | grep -q 'T14:30:00Z' && ok "1h data end to end" || bad "1h data"

# 3. bad input: exit 2, message names what is wrong
expect 2 "unknown strategy 'nope'" "unknown strategy" -- "$tb" backtest --strategy nope --out x
expect 2 "fast" "fast >= slow names the parameter" -- "$tb" backtest --strategy trend_baseline --param fast=50 --param slow=20 --out x
expect 2 "slow" "non-positive period" -- "$tb" backtest --strategy trend_baseline --param slow=0 --out x
expect 2 "has no parameter 'speed'" "unknown parameter" -- "$tb" backtest --strategy trend_baseline --param speed=3 --out x
expect 2 "unknown flag --frobnicate" "unknown flag" -- "$tb" backtest --strategy trend_baseline --frobnicate 1
expect 2 "--capital" "non-numeric capital" -- "$tb" backtest --strategy trend_baseline --capital abc --out x
expect 2 "capital" "negative capital" -- "$tb" backtest --strategy trend_baseline --capital -5 --out x
expect 2 "only 500" "too many symbols names both counts" -- "$tb" backtest --strategy trend_baseline --symbols 501 --out x
expect 2 "--start" "bad date" -- "$tb" backtest --strategy trend_baseline --start 2020-13-01 --out x
expect 2 "unknown command" "unknown command" -- "$tb" frobnicate
mkdir -p broken && cp synth/SYN000.csv broken/ && sed -i '5s/^\([^,]*\),[^,]*,/\1,abc,/' broken/SYN000.csv
expect 2 "broken/SYN000.csv:5:" "bad CSV names file and line" -- "$tb" backtest --data broken --strategy trend_baseline --out x
expect 2 "broken/SYN000.csv:5:" "data import names file and line" -- "$tb" data import --from broken
printf 'SYN001\n# comment\n\nSYN001\n' >wl.txt
expect 2 "wl.txt:4: duplicate symbol 'SYN001'" "duplicate in watchlist" -- "$tb" backtest --data synth --strategy trend_baseline --universe wl.txt --out x
expect 2 "--meta-threshold needs --meta-model" "meta threshold without a model" -- "$tb" backtest --strategy trend_baseline --meta-threshold 0.5 --out x
expect 2 "--meta-threshold must be in [0, 1]" "meta threshold out of range" -- "$tb" backtest --strategy trend_baseline --meta-model m.json --meta-threshold 2 --out x
expect 2 "--meta-model: cannot open" "missing meta-model file" -- "$tb" backtest --strategy trend_baseline --meta-model nope.json --out x
expect 2 "not buy_and_hold" "meta-model only for trend strategies" -- "$tb" backtest --strategy buy_and_hold --meta-model wl.txt --out x
expect 2 "not an XGBoost model" "meta-model file that is not a model" -- "$tb" backtest --data synth --strategy trend_baseline --meta-model wl.txt --out x
expect 2 "--grid fast[1]: fast must be in" "grid value out of bounds names the value" -- "$tb" backtest --strategy trend_baseline --grid fast=5,0 --out x
expect 2 "no parameter 'width'" "grid over an unknown parameter" -- "$tb" backtest --strategy trend_baseline --grid width=1,2 --out x
expect 2 "--grid takes NAME=V1,V2" "malformed grid" -- "$tb" backtest --strategy trend_baseline --grid fast --out x
expect 2 "no valid combination" "grid with no valid combination" -- "$tb" backtest --data synth --strategy trend_baseline --grid fast=60 --grid slow=20 --out x
expect 2 "--threads applies to a sweep" "threads without a grid" -- "$tb" backtest --strategy trend_baseline --threads 2 --out x
[ ! -e x ] && ok "no artifacts written on bad input" || bad "artifacts written for a failed run"

# 4. meta_filter from a trained model file (SPEC §3): threshold 0 = the base run, 1 = no trade
"$tb" build-ml-dataset --data synth --strategy trend_baseline --symbols 12 --out ml/ >/dev/null &&
  "$tb" train-meta-model --strategy trend_baseline --dataset ml/dataset_trend_baseline_1d.csv --n-rounds 10 --out ml >/dev/null &&
  ok "build-ml-dataset + train-meta-model" || bad "ML commands"
"$tb" backtest --data synth --strategy trend_baseline --symbols 12 --meta-model ml/trend_baseline_meta_model.json \
  --meta-threshold 0 --out f0 >/dev/null && cmp -s a/orders_1d.csv f0/orders_1d.csv \
  && ok "meta threshold 0 trades like the base run" || bad "meta threshold 0 differs from the base run"
"$tb" backtest --data synth --strategy trend_baseline --symbols 12 --meta-model ml/trend_baseline_meta_model.json \
  --meta-threshold 1 --out f1 >/dev/null && [ "$(wc -l <f1/orders_1d.csv)" = 1 ] \
  && grep -q "## Meta-model filter" f1/performance_report_1d.md && ok "meta threshold 1 trades nothing, report says so" \
  || bad "meta threshold 1"

# 5. a sweep: the member with the base run's parameters has the base run's metrics
"$tb" backtest --data synth --strategy trend_baseline --symbols 12 --grid fast=10,20,60 --grid slow=50 --out sw >"$work/out" \
  && grep -q "3 combinations, 2 run, 1 skipped" "$work/out" && ok "sweep runs the valid combinations, says how many were skipped" \
  || bad "sweep: $(cat "$work/out")"
for f in sweep_results.csv sweep_results.json sweep_report.md; do
  [ -s "sw/$f" ] && ok "sweep wrote sw/$f" || bad "sweep did not write sw/$f"
done
want=$(grep -o '"sharpe": [^,]*' a/metrics.json | cut -d' ' -f2)
got=$(awk -F, '$2 == 20 && $3 == 50 { print $4 }' sw/sweep_results.csv)
[ -n "$want" ] && awk -v a="$want" -v b="$got" 'BEGIN { exit !(a == b) }' \
  && ok "sweep member fast=20 slow=50 has the backtest's Sharpe" || bad "sweep member Sharpe $got vs backtest $want"

echo "cli: $fails failure(s)"
[ "$fails" = 0 ]
