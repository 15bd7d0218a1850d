// pages/runs.js — the Runs page: recent runs (filters, live polling,
// cursor paging), the Start-run panel (POST /runs), the Backtest form
// (POST /backtests, every option, the API's field errors beside fields)
// and the Sweep form (./sweep.js).

import { h, replace, select, errorBox } from '../dom.js';
import { get, post, qs, ApiError } from '../api.js';
import { field, input, clearErrors, showErrors, showOk, num, text, compact, universeFields } from '../forms.js';
import { fmtTime, fmtDuration, runDuration, fmtMetric, chunkProgress, TERMINAL } from '../format.js';
import { STRATEGIES } from '../strategies.js';
import { sweepForm } from './sweep.js';

const JOBS = ['EOD_SMALL', 'BACKTEST_MEDIUM', 'ML_JOB'];
const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];
// sweep_chunk: GET /runs lists a split sweep's chunk runs only when asked.
const KINDS = ['run', 'backtest', 'model', 'sweep', 'sweep_chunk'];
const POLL_MS = 2000;
const PAGE = 25;


const KEY_METRICS = [['cagr', 'CAGR'], ['sharpe', 'Sharpe'], ['max_drawdown', 'Max DD']];

export function statusBadge(status) {
  return h(`span.status.status-${status || 'unknown'}`, { dataset: { status: status || '' } }, status || '?');
}

// A split sweep (run.chunks, on GET /runs/{id}) counts chunks: "3 / 8 chunks".
export function progressBar(run) {
  const p = Math.max(0, Math.min(1, Number(run.progress) || 0));
  const shown = run.status === 'succeeded' ? 1 : p;
  const chunks = chunkProgress(run.chunks);
  const live = run.status === 'running' || run.status === 'queued';
  return h('div.progress', { title: chunks ? chunks.text : `${Math.round(shown * 100)}%`, dataset: { progress: String(shown) } },
    h('div.progress-fill', { class: `status-${run.status}`, style: { width: `${(shown * 100).toFixed(1)}%` } }),
    h('span.progress-text', !live ? '' : chunks ? `${chunks.done} / ${chunks.total} chunks` : `${Math.round(p * 100)}%`));
}

function metricsOf(run) {
  const m = run.metrics || run.metrics_summary || {};
  return Array.isArray(m) ? Object.fromEntries(m.map((x) => [x.name, x.value])) : m;
}

function runLabel(run) {
  if (run.job) return run.job;
  // List items carry "strategy" (GET /runs/{id} has the full params).
  const strategy = run.strategy || (run.params && run.params.strategy);
  return [run.kind || 'run', strategy].filter(Boolean).join(' · ');
}

function runRow(run) {
  const m = metricsOf(run);
  return h('tr', { dataset: { runId: String(run.id), status: run.status } },
    h('td', h('a', { href: `#/runs/${run.id}` }, `#${run.id}`)),
    h('td', runLabel(run), run.phase ? h('span.tag', run.phase) : null,
      run.parent_id ? h('span.tag', { title: 'a chunk of this sweep' }, `of #${run.parent_id}`) : null),
    h('td', statusBadge(run.status)),
    h('td', progressBar(run), run.stage && run.status === 'running' ? h('small.stage', run.stage) : null),
    h('td', fmtTime(run.started_at || run.created_at)),
    h('td', fmtDuration(runDuration(run))),
    KEY_METRICS.map(([k]) => h('td.num', m[k] === undefined ? '' : fmtMetric(k, m[k]))));
}

function runsTable(state) {
  const filters = h('form.filters', { onsubmit: (e) => e.preventDefault() },
    h('label', 'Job ', select({ name: 'job', onchange: (e) => { state.filter.job = e.target.value; state.reload(); } },
      [['', 'all'], ...JOBS], state.filter.job)),
    h('label', 'Kind ', select({ name: 'kind', onchange: (e) => { state.filter.kind = e.target.value; state.reload(); } },
      [['', 'all'], ...KINDS], state.filter.kind)),
    h('label', 'Status ', select({ name: 'status', onchange: (e) => { state.filter.status = e.target.value; state.reload(); } },
      [['', 'all'], ...STATUSES], state.filter.status)),
    h('span.live', { title: `refreshed every ${POLL_MS / 1000} s` }, '● live'));
  const body = h('tbody');
  const tbl = h('table.data.runs', { id: 'runs-table' },
    h('thead', h('tr', ['Run', 'Job', 'Status', 'Progress', 'Started', 'Duration', ...KEY_METRICS.map(([, l]) => l)].map((c) => h('th', c)))),
    body);
  const more = h('button.secondary', { type: 'button', hidden: true, onclick: () => state.more() }, 'Load more');
  const msg = h('div.table-msg');
  return { el: h('section.card', h('h2', 'Runs'), filters, msg, h('div.scroll', tbl), more), body, more, msg };
}

function startRunPanel(onStarted) {
  const form = h('form.start-run', { id: 'start-run', novalidate: true },
    h('h2', 'Start a run'),
    h('div.row',
      field('job', 'Job', select({}, JOBS, 'EOD_SMALL')),
      field('iterations', 'Iterations', input({ inputmode: 'numeric', placeholder: '1' })),
      field('phase', 'Phase', input({ placeholder: 'e.g. baseline' }), 'a tag to compare runs before/after a change')),
    h('div.actions', h('button', { type: 'submit' }, 'Start run')),
    h('div.form-status'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const body = compact({ job: text(form, 'job'), iterations: num(form, 'iterations'), phase: text(form, 'phase') });
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const res = await post('/runs', body);
      const id = res.data && res.data.id;
      showOk(form, `${body.job} queued as `, h('a', { href: `#/runs/${id}` }, `run #${id}`));
      onStarted(id);
    } catch (err) {
      if (err instanceof ApiError) showErrors(form, err);
      else throw err;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function backtestForm(onStarted) {
  const strategy = select({}, Object.keys(STRATEGIES), 'trend_baseline');
  const params = h('div.row.params');
  const renderParams = () => replace(params, STRATEGIES[strategy.value].length
    ? STRATEGIES[strategy.value].map(([k, label, def]) => field(`params.${k}`, label, input({ inputmode: 'decimal', placeholder: def })))
    : h('p.muted', 'no parameters'));
  strategy.addEventListener('change', renderParams);
  renderParams();

  const universe = universeFields('f-');

  const costs = select({}, [['default', 'default'], ['none', 'none'], ['custom', 'custom']], 'default');
  const costFields = h('div.row.costs',
    field('costs.commission_bps', 'Commission (bps)', input({ inputmode: 'decimal' })),
    field('costs.spread_w', 'Spread weight', input({ inputmode: 'decimal' })),
    field('costs.impact_w', 'Impact weight', input({ inputmode: 'decimal' })));
  const syncCosts = () => { costFields.hidden = costs.value !== 'custom'; };
  costs.addEventListener('change', syncCosts);
  syncCosts();

  const form = h('form.backtest', { id: 'backtest-form', novalidate: true },
    h('h2', 'Backtest'),
    h('div.row',
      field('strategy', 'Strategy', strategy),
      field('freq', 'Frequency', select({}, ['1d', '1h'], '1d')),
      field('data', 'Data', select({}, [['default', 'server default'], ['synthetic', 'synthetic']], 'default')),
      field('seed', 'Seed (synthetic)', input({ inputmode: 'numeric', placeholder: '42' }))),
    h('h3', 'Strategy parameters'),
    params,
    h('h3', 'Universe and range'),
    h('div.row', universe.els),
    h('div.row',
      field('start', 'Start', input({ type: 'date' })),
      field('end', 'End', input({ type: 'date' })),
      field('last_bars', 'Last bars', input({ inputmode: 'numeric', placeholder: 'all' }))),
    h('h3', 'Portfolio and costs'),
    h('div.row',
      field('capital', 'Capital', input({ inputmode: 'decimal', placeholder: '10000' })),
      field('max_weight', 'Max weight', input({ inputmode: 'decimal', placeholder: '1' }), '0..1 of equity per symbol'),
      field('rebalance_band', 'Rebalance band', input({ inputmode: 'decimal', placeholder: '0' }), '0..1, no trade inside the band'),
      field('costs', 'Costs', costs)),
    costFields,
    h('details.meta',
      h('summary', 'Meta-filter (optional)'),
      h('div.row',
        field('meta_filter', 'Model id', input({ name: 'meta_model', inputmode: 'numeric', placeholder: 'none' }), 'a trained meta-model from Models'),
        field('meta_filter.threshold', 'Threshold', input({ name: 'meta_threshold', inputmode: 'decimal', placeholder: '0.5' })))),
    h('div.actions', h('button', { type: 'submit' }, 'Run backtest')),
    h('div.form-status'));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const p = {};
    for (const [k] of STRATEGIES[strategy.value]) {
      const v = num(form, `params.${k}`);
      if (v !== undefined) p[k] = v;
    }
    const body = compact({
      strategy: strategy.value,
      params: Object.keys(p).length ? p : undefined,
      freq: text(form, 'freq'),
      data: text(form, 'data'),
      seed: num(form, 'seed'),
      start: text(form, 'start'),
      end: text(form, 'end'),
      last_bars: num(form, 'last_bars'),
      capital: num(form, 'capital'),
      max_weight: num(form, 'max_weight'),
      rebalance_band: num(form, 'rebalance_band'),
    });
    universe.add(form, body);
    if (costs.value === 'custom') {
      body.costs = compact({
        commission_bps: num(form, 'costs.commission_bps'),
        spread_w: num(form, 'costs.spread_w'),
        impact_w: num(form, 'costs.impact_w'),
      });
    } else {
      body.costs = costs.value;
    }
    const model = num(form, 'meta_model');
    if (model !== undefined) body.meta_filter = compact({ model_id: model, threshold: num(form, 'meta_threshold') });

    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const res = await post('/backtests', body);
      const id = res.data && res.data.id;
      showOk(form, 'Backtest queued as ', h('a', { href: `#/runs/${id}` }, `run #${id}`));
      onStarted(id);
    } catch (err) {
      if (err instanceof ApiError) showErrors(form, err);
      else throw err;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export function mountRuns(root) {
  const state = {
    filter: { job: '', kind: '', status: '' },
    cursor: null,     // next_cursor of the last page loaded by "Load more"
    extra: [],        // rows loaded by "Load more" (not refreshed by polling)
    timer: null,
    stopped: false,
    seq: 0,
  };
  const view = runsTable(state);

  async function load({ append = false } = {}) {
    const seq = ++state.seq;
    const params = { ...state.filter, limit: PAGE, cursor: append ? state.cursor : undefined };
    try {
      const page = await get(`/runs${qs(params)}`);
      if (seq !== state.seq || state.stopped) return;
      const items = page.items || [];
      if (append) {
        state.extra.push(...items);
      } else {
        state.first = items;
        if (!state.extra.length) state.cursor = page.next_cursor || null;
      }
      if (append) state.cursor = page.next_cursor || null;
      const rows = [...state.first, ...state.extra.filter((r) => !state.first.some((f) => f.id === r.id))];
      replace(view.body, rows.length ? rows.map(runRow) : h('tr', h('td.muted', { colspan: 9 }, 'No runs yet: start one below.')));
      view.more.hidden = !state.cursor;
      replace(view.msg);
    } catch (err) {
      if (seq !== state.seq || state.stopped) return;
      replace(view.msg, err.status === 404
        ? h('p.muted', 'The runs API is not available on this server yet.')
        : errorBox(err));
    }
  }

  function schedule() {
    clearTimeout(state.timer);
    if (state.stopped) return;
    state.timer = setTimeout(async () => {
      if (!document.hidden) await load();
      schedule();
    }, POLL_MS);
  }

  state.reload = () => {
    state.extra = [];
    state.cursor = null;
    load().then(schedule);
  };
  state.more = () => load({ append: true });
  state.first = [];

  const started = () => state.reload();
  replace(root,
    view.el,
    h('div.grid2', startRunPanel(started), h('div.card.help',
      h('h3', 'Jobs'),
      h('dl',
        h('dt', 'EOD_SMALL'), h('dd', 'ema_trend on 100 symbols, last 2 × 252 bars: orders, equity, report and next-session targets'),
        h('dt', 'BACKTEST_MEDIUM'), h('dd', 'trend_baseline on 200 symbols over the whole history'),
        h('dt', 'ML_JOB'), h('dd', 'meta-labelling dataset, purged cross-validation and an XGBoost meta-model')),
      h('p.muted', 'Iterations repeat the job to profile it (median wall time on Performance).'))),
    h('section.card', backtestForm(started)),
    h('section.card', sweepForm(started)));
  state.reload();
  return () => {
    state.stopped = true;
    clearTimeout(state.timer);
  };
}

export { TERMINAL };
