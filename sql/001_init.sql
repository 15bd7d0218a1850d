-- 001_init — the tradebench schema: runs and their results.
-- Applied by the migration runner (server/migrate.c) inside one transaction;
-- the runner itself creates schema_migrations(version, name, checksum,
-- applied_at) before applying any file. Never edit an applied migration:
-- add NNN_next.sql instead. Times are timestamptz (daily bars are stored at
-- 00:00 UTC of their date); prices and quantities are double precision.

-- A run: one unit of queued work (a standard job, a custom backtest, a model
-- training, or a sweep whose grid points are child runs via parent_id).
CREATE TABLE runs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('run', 'backtest', 'model', 'sweep')),
    job              text,                         -- EOD_SMALL | BACKTEST_MEDIUM | ML_JOB; NULL for custom work
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    params           jsonb NOT NULL DEFAULT '{}'::jsonb,   -- the validated request (with defaults filled in)
    phase            text,                         -- free tag for before/after comparisons
    iterations       integer NOT NULL DEFAULT 1 CHECK (iterations >= 1),
    progress         double precision NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    stage            text,                         -- current named stage while running
    error            text,                         -- why it failed (status = 'failed')
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    cancel_requested boolean NOT NULL DEFAULT false, -- set by POST /runs/{id}/cancel on a running run
    worker_id        text,                         -- "host:pid" of the claiming worker
    heartbeat_at     timestamptz,                  -- last heartbeat of that worker
    parent_id        bigint REFERENCES runs (id) ON DELETE CASCADE,
    idempotency_key  text UNIQUE,                  -- Idempotency-Key of the creating POST
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    CHECK (finished_at IS NULL OR started_at IS NULL OR finished_at >= started_at)
);
-- GET /runs: newest first, with (created_at, id) as the pagination cursor.
CREATE INDEX runs_created_idx ON runs (created_at DESC, id DESC);
CREATE INDEX runs_status_created_idx ON runs (status, created_at DESC, id DESC);
CREATE INDEX runs_job_created_idx ON runs (job, created_at DESC, id DESC);
CREATE INDEX runs_kind_created_idx ON runs (kind, created_at DESC, id DESC);
CREATE INDEX runs_parent_idx ON runs (parent_id) WHERE parent_id IS NOT NULL;
-- The worker queue: oldest queued first; running runs by heartbeat for the reaper.
CREATE INDEX runs_queue_idx ON runs (created_at, id) WHERE status = 'queued';
CREATE INDEX runs_heartbeat_idx ON runs (heartbeat_at) WHERE status = 'running';

-- One row per executed iteration: the run's profile.
CREATE TABLE run_iterations (
    run_id          bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    iteration       integer NOT NULL CHECK (iteration >= 1),
    wall_seconds    double precision NOT NULL CHECK (wall_seconds >= 0),
    cpu_seconds     double precision NOT NULL CHECK (cpu_seconds >= 0),
    peak_rss_bytes  bigint NOT NULL CHECK (peak_rss_bytes >= 0),
    stages          jsonb NOT NULL DEFAULT '[]'::jsonb,  -- [{"name": "simulate", "wall_seconds": 0.12}, ...] in execution order
    started_at      timestamptz,
    finished_at     timestamptz,
    PRIMARY KEY (run_id, iteration)
);

-- Executed orders (§8 orders_<f>.csv), seq = position in the artifact's order.
CREATE TABLE orders (
    run_id    bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq       integer NOT NULL CHECK (seq >= 0),
    ts        timestamptz NOT NULL,
    symbol    text NOT NULL,
    side      text NOT NULL CHECK (side IN ('BUY', 'SELL')),
    quantity  double precision NOT NULL CHECK (quantity > 0),
    price     double precision NOT NULL CHECK (price > 0),
    notional  double precision NOT NULL,
    cost      double precision NOT NULL CHECK (cost >= 0),
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX orders_run_ts_idx ON orders (run_id, ts);

-- The equity curve (§8 equity_curve_<f>.csv); ret is NULL on the first point.
CREATE TABLE equity_points (
    run_id    bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    ts        timestamptz NOT NULL,
    equity    double precision NOT NULL,
    cash      double precision NOT NULL,
    exposure  double precision NOT NULL,
    drawdown  double precision NOT NULL,
    ret       double precision,
    PRIMARY KEY (run_id, ts)
);

-- §5 metrics by name; value NULL when the metric is undefined (metrics.json null).
CREATE TABLE metrics (
    run_id  bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name    text NOT NULL,
    value   double precision,
    PRIMARY KEY (run_id, name)
);

-- Artifacts a run produced. Most are rendered on request from the tables
-- above; content holds the bytes only for those that cannot be (e.g. reports).
CREATE TABLE artifacts (
    run_id        bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name          text NOT NULL,                 -- e.g. orders_1d.csv
    content_type  text NOT NULL,                 -- text/csv | text/markdown | application/json
    rows          bigint CHECK (rows >= 0),      -- data rows (CSV), NULL otherwise
    bytes         bigint CHECK (bytes >= 0),
    content       bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, name)
);

-- Meta-labelling datasets (§6.1–6.2) and their rows.
CREATE TABLE datasets (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      bigint REFERENCES runs (id) ON DELETE CASCADE,
    strategy    text NOT NULL,
    freq        text NOT NULL CHECK (freq IN ('1d', '1h')),
    params      jsonb NOT NULL DEFAULT '{}'::jsonb,  -- source, universe, barrier params (pt, sl, h)
    n_rows      integer NOT NULL CHECK (n_rows >= 0),
    n_positive  integer CHECK (n_positive >= 0),
    first_ts    timestamptz,
    last_ts     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX datasets_run_idx ON datasets (run_id);

CREATE TABLE dataset_rows (
    dataset_id    bigint NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    seq           integer NOT NULL CHECK (seq >= 0),  -- dataset order: by ts, then symbol
    ts            timestamptz NOT NULL,               -- signal bar t
    symbol        text NOT NULL,
    ret_1         double precision NOT NULL,
    ret_5         double precision NOT NULL,
    ret_20        double precision NOT NULL,
    sma20_ratio   double precision NOT NULL,
    sma50_ratio   double precision NOT NULL,
    ema_spread    double precision NOT NULL,
    atr14_pct     double precision NOT NULL,
    rsi14         double precision NOT NULL,
    vol20         double precision NOT NULL,
    volume_ratio  double precision NOT NULL,
    label         smallint NOT NULL CHECK (label IN (0, 1)),
    t1            timestamptz NOT NULL,               -- bar at which the label was decided
    ret           double precision NOT NULL,
    PRIMARY KEY (dataset_id, seq)
);

-- Trained meta-models (§6.3): XGBoost JSON model bytes plus their evaluation.
CREATE TABLE models (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          bigint REFERENCES runs (id) ON DELETE CASCADE,
    dataset_id      bigint REFERENCES datasets (id) ON DELETE CASCADE,
    strategy        text NOT NULL,
    freq            text NOT NULL CHECK (freq IN ('1d', '1h')),
    features        text[] NOT NULL,                  -- §6.1 order
    params          jsonb NOT NULL DEFAULT '{}'::jsonb,  -- XGBoost parameters and n_rounds
    cv              jsonb NOT NULL DEFAULT '{}'::jsonb,  -- method, k, per-fold metrics, mean and std
    importances     jsonb NOT NULL DEFAULT '{}'::jsonb,  -- feature -> gain of the final model
    train_first_ts  timestamptz,                      -- data span, to flag overlap with backtests
    train_last_ts   timestamptz,
    n_rows          integer CHECK (n_rows >= 0),
    model           bytea NOT NULL,                   -- XGBoost's own JSON format
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX models_created_idx ON models (created_at DESC, id DESC);
CREATE INDEX models_run_idx ON models (run_id);
