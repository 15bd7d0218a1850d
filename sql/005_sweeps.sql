-- 005_sweeps — parameter sweeps: POST /backtests with a "grid", a run of
-- kind 'sweep' executed by a worker (engine/sweep.c). One sweeps row holds
-- what ran (grid, counts, why combinations were skipped, timing); one
-- sweep_members row per valid combination holds its parameters, its rank by
-- Sharpe and its SPEC §5 metrics. The ranked table's headline metrics are
-- columns (sorting, filtering), all 15 are in metrics (jsonb, null when
-- undefined). Written by the worker's results transaction, which first locks
-- the run row; a re-executed run deletes its rows before inserting. The
-- artifacts sweep_results.csv and sweep_report.md are artifacts rows with
-- their bytes (written by the engine, as the command line writes them).

CREATE TABLE sweeps (
    run_id           bigint PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    strategy         text NOT NULL,
    freq             text NOT NULL CHECK (freq IN ('1d', '1h')),
    grid             jsonb NOT NULL,                 -- {"fast": [5, 10], "slow": [50, 100]} as run
    n_combinations   integer NOT NULL CHECK (n_combinations >= 1),
    n_members        integer NOT NULL CHECK (n_members >= 1),  -- valid combinations, run
    n_skipped        integer NOT NULL CHECK (n_skipped >= 0),  -- rejected by the strategy (e.g. fast >= slow)
    skip_reason      text,                           -- why the first skipped one was rejected
    threads          integer NOT NULL CHECK (threads >= 1),
    members_seconds  double precision NOT NULL CHECK (members_seconds >= 0),
    n_symbols        integer NOT NULL CHECK (n_symbols >= 0),
    n_bars           integer NOT NULL CHECK (n_bars >= 0),  -- panel length
    first_ts         timestamptz,
    last_ts          timestamptz,
    CHECK (n_members + n_skipped = n_combinations)
);

CREATE TABLE sweep_members (
    run_id        bigint NOT NULL REFERENCES sweeps (run_id) ON DELETE CASCADE,
    member        integer NOT NULL CHECK (member >= 0),  -- position in the grid (row-major, first parameter slowest)
    rank          integer NOT NULL CHECK (rank >= 1),    -- 1 = highest Sharpe; undefined Sharpe ranks last
    params        jsonb NOT NULL,                        -- every strategy parameter of this member
    metrics       jsonb NOT NULL,                        -- the SPEC §5 metrics by name
    sharpe        double precision,
    cagr          double precision,
    max_drawdown  double precision,
    turnover      double precision,
    total_return  double precision,
    n_orders      integer NOT NULL CHECK (n_orders >= 0),
    PRIMARY KEY (run_id, member),
    UNIQUE (run_id, rank)
);
