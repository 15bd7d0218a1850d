-- 004_profile_hotspots — function-level hotspots of a profiled iteration.
--
-- `tradebench profile-job --profiler perf|callgrind` runs each iteration
-- under `perf record -g` or `valgrind --tool=callgrind` and stores the
-- iteration's top functions here: by self time (perf report --no-children)
-- or by instructions (callgrind_annotate), as
--   [{"function": "simulate", "module": "tradebench", "share": 0.312}, ...]
-- (share of all samples / instructions, largest first, at most 10). NULL
-- for iterations profiled with the engine's stage timers only (the worker's,
-- and profile-job --profiler stages). GET /profiles and docs/PERFORMANCE.md
-- read it; the profiler and data source of a run are in runs.params.

ALTER TABLE run_iterations ADD COLUMN hotspots jsonb;

-- GET /profiles and GET /runs?phase=: runs of a phase, newest first.
CREATE INDEX runs_phase_created_idx ON runs (phase, created_at DESC, id DESC) WHERE phase IS NOT NULL;
