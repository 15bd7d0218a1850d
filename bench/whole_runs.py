#!/usr/bin/env python3
"""whole_runs.py — the standard runs as a user runs them: one `tradebench`
process per run, timed from spawn to exit, interleaved, medians.

  bench/whole_runs.py [--bin build/tradebench] [--data ../shared/data/ohlcv_1d] [-n 21]

Kinds: BACKTEST_MEDIUM warm (panel and factor caches present) and cold (an
empty TB_CACHE_DIR every run), EOD_SMALL on the CSV set warm and cold,
EOD_SMALL on the default synthetic source, and `tradebench help` (process
start). Goals (issue 6): BACKTEST_MEDIUM warm <= 50 ms, cold <= 200 ms,
EOD_SMALL <= 50 ms. Prints figures only; never fails on a slow machine.
Skips the CSV kinds when the data is absent."""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument('--bin', default='build/tradebench')
ap.add_argument('--data', default='../shared/data/ohlcv_1d')
ap.add_argument('-n', type=int, default=21)
a = ap.parse_args()

scratch = tempfile.mkdtemp(prefix='tb-whole-runs-')
warm = dict(os.environ, TB_CACHE_DIR=os.path.join(scratch, 'cache'))


def run(args, env):
    t = time.perf_counter()
    subprocess.run([a.bin] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    return (time.perf_counter() - t) * 1000


def cold_env():
    return dict(os.environ, TB_CACHE_DIR=tempfile.mkdtemp(dir=scratch, prefix='cold-'))


out = lambda name: ['--out', os.path.join(scratch, name)]
kinds = []
if os.path.isdir(a.data):
    bm = ['backtest', '--data', a.data, '--strategy', 'trend_baseline', '--symbols', '200', '--capital', '10000'] + out('bm')
    eod = ['run-daily', '--data', a.data] + out('eod')
    kinds += [('BACKTEST_MEDIUM warm', bm, lambda: warm), ('BACKTEST_MEDIUM cold', bm, cold_env),
              ('EOD_SMALL warm', eod, lambda: warm), ('EOD_SMALL cold', eod, cold_env)]
else:
    print(f'{a.data}: absent, CSV runs skipped')
kinds += [('EOD_SMALL synthetic', ['run-daily'] + out('eods'), lambda: warm), ('help', ['help'], lambda: os.environ)]
try:
    for _, args, env in kinds:  # warm the caches
        run(args, env())
    times = {k[0]: [] for k in kinds}
    for _ in range(a.n):
        for name, args, env in kinds:
            times[name].append(run(args, env()))
    print(f'load average {os.getloadavg()[0]:.2f}; {a.n} rounds, interleaved; ms')
    print('| run | median | min | p90 |\n|---|---|---|---|')
    for name, v in times.items():
        v.sort()
        print(f'| {name} | {statistics.median(v):.1f} | {v[0]:.1f} | {v[int(len(v) * 0.9)]:.1f} |')
finally:
    shutil.rmtree(scratch, ignore_errors=True)
