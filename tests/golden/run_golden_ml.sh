#!/usr/bin/env bash
# tests/golden/run_golden_ml.sh — ML_JOB against ../shared/golden/ml_dataset:
# builds the dataset with the golden README's command and compares it (1e-9),
# trains the meta-model with SPEC §6.3 defaults and compares cv_metrics.csv
# (1e-9) and feature_importance.csv (1e-6 relative, as the README allows), and
# checks every fold's n_train, n_test and n_purged against
# folds_walk_forward.csv (then the whole fold file with compare.py). Also
# retrains with --nthread 1 and --nthread 2 (each report must record its
# count) and requires the default's model bytes from both.
# Skips cleanly (exit 77, ctest SKIP) when ../shared or python3 is absent.
# usage: run_golden_ml.sh <tradebench binary> <shared dir>
set -euo pipefail
tb=$1
shared=$2
g=$shared/golden/ml_dataset
data=$shared/data/ohlcv_1d
if [ ! -d "$g" ] || [ ! -d "$data" ] || ! command -v python3 >/dev/null; then
  echo "SKIP: $g, $data or python3 not available"
  exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0
check() { # check <golden file> <our file> [compare.py options]
  local a=$1 b=$2
  shift 2
  if python3 "$shared/golden/compare.py" "$@" "$a" "$b"; then :; else echo "MISMATCH: $b vs $a"; fail=1; fi
}
ds=$out/dataset_trend_baseline_1d.csv
"$tb" build-ml-dataset --strategy trend_baseline --data "$data" --symbols 200 --out "$ds" >/dev/null
check "$g/dataset_trend_baseline_1d.csv" "$ds"

"$tb" train-meta-model --strategy trend_baseline --dataset "$ds" --out "$out/train" >/dev/null
check "$g/cv_metrics.csv" "$out/train/cv_metrics.csv"
check "$g/feature_importance.csv" "$out/train/feature_importance.csv" --rtol 1e-6
for f in trend_baseline_meta_model.json ml_training_report.md; do
  [ -s "$out/train/$f" ] || { echo "MISSING: $f"; fail=1; }
done

# fold sizes: n_train, n_test, n_purged per fold
if python3 - "$g/folds_walk_forward.csv" "$out/train/cv_folds.csv" <<'PY'; then :; else fail=1; fi
import csv, sys
def load(p):
    with open(p, newline="") as f:
        return {r["fold"]: r for r in csv.DictReader(f)}
want, got = load(sys.argv[1]), load(sys.argv[2])
bad = 0
for fold in sorted(set(want) | set(got), key=int):
    for col in ("n_train", "n_test", "n_purged"):
        a, b = want.get(fold, {}).get(col), got.get(fold, {}).get(col)
        if a != b:
            print(f"MISMATCH fold {fold} {col}: golden {a}, ours {b}")
            bad = 1
print("MISMATCH fold sizes" if bad else f"OK fold sizes of {len(want)} folds (n_train, n_test, n_purged)")
sys.exit(bad)
PY
check "$g/folds_walk_forward.csv" "$out/train/cv_folds.csv" --kind cv

# determinism: two explicit XGBoost thread counts (whatever the default is), same bytes as the default run
same=1
for n in 1 2; do
  "$tb" train-meta-model --strategy trend_baseline --dataset "$ds" --nthread "$n" --out "$out/train$n" >/dev/null
  if ! grep -q "nthread=$n |" "$out/train$n/ml_training_report.md"; then
    echo "MISMATCH: ml_training_report.md of --nthread $n does not record nthread=$n"; fail=1; same=0
  fi
  if ! cmp -s "$out/train/trend_baseline_meta_model.json" "$out/train$n/trend_baseline_meta_model.json"; then
    echo "MISMATCH: model JSON of --nthread $n differs from the default run's"; fail=1; same=0
  fi
done
[ "$same" = 1 ] && echo "OK model bytes identical across runs and thread counts (default, --nthread 1, --nthread 2)"
[ "$fail" = 0 ] && echo "golden ML: all artifacts match" || echo "golden ML: MISMATCHES above"
exit "$fail"
