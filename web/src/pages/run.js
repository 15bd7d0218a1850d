// pages/run.js — one run: status, stage and progress (polled until it ends),
// cancel, a split sweep's chunk runs (live, with the same polling) or a
// chunk's sweep, metrics, a succeeded sweep's ranked members and Sharpe heat
// map (./sweep.js), the equity curve with drawdown (+ universe benchmark),
// monthly returns heat-map (computed here from the curve), orders with
// paging and a symbol filter, the profile (stage timings, memory,
// hotspots) and artifact downloads. Results come from the JSON endpoints;
// where a run kind has none (404), from its CSV artifacts instead.

import { h, replace, errorBox, table, fmtNum } from '../dom.js';
import { get, getAll, post, qs, ApiError } from '../api.js';
import { equityChart, barChart } from '../charts.js';
import {
  fmtTime, fmtDate, fmtDuration, runDuration, fmtMetric, fmtBytes, pct, toSec,
  monthlyReturns, heatColor, median, chunkProgress, fmtMembers, TERMINAL,
} from '../format.js';
import { statusBadge, progressBar } from './runs.js';
import { sweepSection } from './sweep.js';

const POLL_MS = 1500;
const ORDERS_PAGE = 25;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// ---- CSV fallback (artifacts are §8 CSV with a header line) ------------------
function parseCsv(text) {
  const lines = text.split(/\r?\n/).filter((l) => l.length);
  if (!lines.length) return [];
  const head = lines[0].split(',');
  return lines.slice(1).map((l) => {
    const cells = l.split(',');
    const o = {};
    head.forEach((k, i) => {
      const v = cells[i];
      o[k] = v === undefined || v === '' ? null : /^-?[\d.]+(e[-+]?\d+)?$/i.test(v) ? Number(v) : v;
    });
    return o;
  });
}

async function artifactText(id, name) {
  const res = await fetch(`/runs/${id}/artifacts/${encodeURIComponent(name)}`);
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  return res.text();
}

function findArtifact(artifacts, prefix) {
  return (artifacts || []).find((a) => a.name.startsWith(prefix) && a.name.endsWith('.csv'));
}

// ---- sections -------------------------------------------------------------------
// A chunk's place in its sweep ({seq, total, members} from the sweep's
// chunks, or null while unknown): "sweep #512 · chunk 2 of 8, members [25, 50)".
function parentFacts(run, place) {
  if (!run.parent_id) return null;
  return [h('dt', 'Sweep'), h('dd', { id: 'run-parent' },
    h('a', { id: 'parent-link', href: `#/runs/${run.parent_id}` }, `sweep #${run.parent_id}`),
    place ? ` · chunk ${place.seq + 1} of ${place.total}, members ${fmtMembers(place.members)}` : null)];
}

function header(run, onCancel, place) {
  const cancellable = run.status === 'queued' || run.status === 'running';
  const title = run.job || [run.kind, run.params && run.params.strategy].filter(Boolean).join(' · ');
  const chunks = chunkProgress(run.chunks);
  return h('section.card.run-head', { id: 'run-head', dataset: { status: run.status } },
    h('div.title-row',
      h('h2', `Run #${run.id} `, h('span.muted', title)),
      statusBadge(run.status),
      cancellable ? h('button.danger', { id: 'cancel-run', type: 'button', onclick: onCancel }, 'Cancel') : null),
    progressBar(run),
    h('dl.facts',
      h('dt', 'Stage'), h('dd', { id: 'run-stage' }, run.stage || '—'),
      h('dt', 'Kind'), h('dd', run.kind || '—'),
      chunks ? [h('dt', 'Chunks'), h('dd', { id: 'chunks-done', dataset: { done: String(chunks.done), total: String(chunks.total) } }, chunks.text)] : null,
      parentFacts(run, place),
      run.phase ? [h('dt', 'Phase'), h('dd', run.phase)] : null,
      h('dt', 'Iterations'), h('dd', String(run.iterations ?? 1)),
      h('dt', 'Attempts'), h('dd', String(run.attempts ?? '')),
      h('dt', 'Created'), h('dd', fmtTime(run.created_at)),
      h('dt', 'Started'), h('dd', fmtTime(run.started_at) || '—'),
      h('dt', 'Finished'), h('dd', fmtTime(run.finished_at) || '—'),
      h('dt', 'Duration'), h('dd', fmtDuration(runDuration(run)) || '—')),
    run.error ? h('div.error-box', h('strong', 'Error'), h('pre', String(run.error))) : null,
    run.params ? h('details', h('summary', 'Parameters'), h('pre.json', JSON.stringify(run.params, null, 2))) : null);
}

// A split sweep's chunk runs, one row each: position, run, member range,
// status, the worker that claimed it last, attempts. Re-rendered on every
// poll with the header, so it is live while the sweep runs.
function chunksSection(run) {
  const c = chunkProgress(run.chunks);
  if (!c) return null;
  const items = (run.chunks.items || []).slice().sort((a, b) => a.seq - b.seq);
  const counts = Object.entries(c.byStatus).filter(([st]) => st !== 'succeeded').map(([st, n]) => `${n} ${st}`);
  return h('section.card', { id: 'sweep-chunks' },
    h('h3', 'Chunks ', h('small.muted', [c.text, ...counts].join(' · '))),
    h('div.scroll', h('table.data.chunks', { id: 'chunks-table' },
      h('thead', h('tr', ['Position', 'Run', 'Members', 'Status', 'Worker', 'Attempts'].map((x) => h('th', x)))),
      h('tbody', items.map((it) => h('tr', { dataset: { chunkId: String(it.id), seq: String(it.seq), status: it.status } },
        h('td.num', `${it.seq + 1} / ${c.total}`),
        h('td', h('a', { href: `#/runs/${it.id}` }, `#${it.id}`)),
        h('td.members', { title: Array.isArray(it.members) ? `${it.members[1] - it.members[0]} combinations` : '' }, fmtMembers(it.members)),
        h('td', statusBadge(it.status)),
        h('td.worker', it.worker_id || '—'),
        h('td.num', String(it.attempts ?? ''))))))));
}

function metricsSection(run) {
  let m = run.metrics || run.metrics_summary;
  if (Array.isArray(m)) m = Object.fromEntries(m.map((x) => [x.name, x.value]));
  if (!m || !Object.keys(m).length) return null;
  return h('section.card', h('h3', 'Metrics'),
    h('table.data.metrics', { id: 'metrics-table' }, h('tbody', Object.entries(m).map(([k, v]) => h('tr', h('th', k), h('td.num', fmtMetric(k, v)))))));
}

// Equity items -> chart series. A benchmark column, when the API gives one
// (a level, or per-bar returns), becomes a level starting at the first equity.
function equitySeries(items) {
  const pts = items.map((p) => ({ ...p, t: toSec(p.ts ?? p.time ?? p.date) })).filter((p) => p.t !== null);
  pts.sort((a, b) => a.t - b.t);
  const t = pts.map((p) => p.t);
  const equity = pts.map((p) => Number(p.equity));
  const drawdown = pts.map((p) => {
    const d = Number(p.drawdown);
    return Number.isFinite(d) ? -Math.abs(d) : null;
  });
  let benchmark = null;
  if (pts.some((p) => p.benchmark !== undefined && p.benchmark !== null)) {
    benchmark = pts.map((p) => (p.benchmark === null || p.benchmark === undefined ? null : Number(p.benchmark)));
  } else if (pts.some((p) => Number.isFinite(p.benchmark_return))) {
    let level = equity[0];
    benchmark = pts.map((p, i) => {
      if (i > 0 && Number.isFinite(p.benchmark_return)) level *= 1 + p.benchmark_return;
      return level;
    });
  }
  return { pts, series: { t, equity, drawdown, benchmark } };
}

function monthlySection(pts) {
  const { years } = monthlyReturns(pts.map((p) => ({ t: p.t, equity: Number(p.equity) })));
  if (!years.length) return null;
  return h('section.card', h('h3', 'Monthly returns'),
    h('div.scroll', h('table.data.heat', { id: 'monthly-returns' },
      h('thead', h('tr', h('th', 'Year'), MONTHS.map((m) => h('th', m)), h('th', 'Year'))),
      h('tbody', years.map((y) => h('tr',
        h('th', String(y.year)),
        y.months.map((r) => h('td.num', { style: { background: heatColor(r) }, title: r === null ? '' : pct(r, 3) }, r === null ? '' : pct(r, 1))),
        h('td.num.total', { style: { background: heatColor(y.total, 0.4) } }, y.total === null ? '' : pct(y.total, 1))))))));
}

async function equitySection(run, artifacts, charts) {
  let items;
  if (run.links && !run.links.equity && !findArtifact(artifacts, 'equity_curve')) return [];
  try {
    items = await getAll(`/backtests/${run.id}/equity`, { limit: 5000 });
  } catch (err) {
    if (err.status !== 404) throw err;
    const a = findArtifact(artifacts, 'equity_curve');
    if (!a) return [];
    items = parseCsv(await artifactText(run.id, a.name));
  }
  if (!items.length) return [];
  const { pts, series } = equitySeries(items);
  const el = h('div.chart', { id: 'equity-chart' });
  const card = h('section.card',
    h('h3', 'Equity and drawdown ', h('small.muted', `${pts.length} bars, ${fmtDate(pts[0].t)} – ${fmtDate(pts[pts.length - 1].t)}; drag to zoom, double-click to reset`)),
    el);
  return [card, monthlySection(pts), () => charts.push(equityChart(el, series))];
}

function ordersSection(run, artifacts) {
  const state = { symbol: '', cursors: [null], page: 0, next: null, csv: null };
  const body = h('div.scroll');
  const info = h('span.muted');
  const prev = h('button.secondary', { type: 'button', disabled: true, onclick: () => go(state.page - 1) }, '‹ Prev');
  const next = h('button.secondary', { type: 'button', disabled: true, onclick: () => go(state.page + 1) }, 'Next ›');
  const symbol = h('input', { type: 'search', name: 'symbol', placeholder: 'symbol', 'aria-label': 'Filter orders by symbol' });
  const form = h('form.filters', {
    onsubmit: (e) => {
      e.preventDefault();
      state.symbol = symbol.value.trim();
      state.cursors = [null];
      go(0);
    },
  }, symbol, h('button.secondary', { type: 'submit' }, 'Filter'), info);

  const cols = [
    { key: 'ts', label: 'Time', fmt: (v) => fmtDate(v) + (String(v).match(/T(\d\d:\d\d)/) && !String(v).includes('T00:00') ? ` ${String(v).match(/T(\d\d:\d\d)/)[1]}` : '') },
    { key: 'symbol', label: 'Symbol' },
    { key: 'side', label: 'Side', fmt: (v) => h(`span.side.side-${String(v).toLowerCase()}`, v) },
    { key: 'quantity', label: 'Quantity', cls: 'num', fmt: (v) => fmtNum(v, 6) },
    { key: 'price', label: 'Price', cls: 'num', fmt: (v) => fmtNum(v, 6) },
    { key: 'notional', label: 'Notional', cls: 'num', fmt: (v) => fmtNum(v, 6) },
    { key: 'cost', label: 'Cost', cls: 'num', fmt: (v) => fmtNum(v, 4) },
  ];

  async function fetchPage(page) {
    if (state.csv === null) {
      try {
        const res = await get(`/backtests/${run.id}/orders${qs({ limit: ORDERS_PAGE, cursor: state.cursors[page], symbol: state.symbol })}`);
        return { items: res.items || [], next: res.next_cursor || null };
      } catch (err) {
        if (err.status !== 404) throw err;
        const a = findArtifact(artifacts, 'orders');
        state.csv = a ? parseCsv(await artifactText(run.id, a.name)) : [];
      }
    }
    const rows = state.symbol ? state.csv.filter((o) => o.symbol === state.symbol) : state.csv;
    const start = page * ORDERS_PAGE;
    return { items: rows.slice(start, start + ORDERS_PAGE), next: start + ORDERS_PAGE < rows.length ? page + 1 : null };
  }

  async function go(page) {
    if (page < 0) return;
    try {
      const { items, next: nextCursor } = await fetchPage(page);
      state.page = page;
      state.cursors[page + 1] = nextCursor;
      replace(body, items.length ? table(items, cols, { id: 'orders-table' }) : h('p.muted', state.symbol ? `No orders for ${state.symbol}.` : 'No orders.'));
      info.textContent = items.length ? `page ${page + 1}, ${items.length} orders` : '';
      prev.disabled = page === 0;
      next.disabled = !nextCursor;
    } catch (err) {
      replace(body, errorBox(err));
    }
  }
  go(0);
  return h('section.card', { id: 'orders' }, h('h3', 'Orders'), form, body, h('div.pager', prev, next));
}

async function profileSection(run, charts) {
  let prof;
  try {
    prof = await get(`/runs/${run.id}/profile`);
  } catch (err) {
    if (err.status === 404) return [null];
    return [h('section.card', h('h3', 'Profile'), errorBox(err))];
  }
  const iters = prof.iterations || [];
  if (!iters.length) return [null];
  // Stage medians: from the API's per-stage summary, else computed here.
  let stageNames;
  let stageWall;
  if (Array.isArray(prof.stages) && prof.stages.length) {
    stageNames = prof.stages.map((s) => s.name);
    stageWall = prof.stages.map((s) => Number(s.median_wall_seconds ?? s.wall_seconds));
  } else {
    stageNames = [];
    for (const it of iters) for (const s of it.stages || []) if (!stageNames.includes(s.name)) stageNames.push(s.name);
    stageWall = stageNames.map((n) => median(iters.map((it) => {
      const s = (it.stages || []).find((x) => x.name === n);
      return s ? Number(s.wall_seconds) : NaN;
    })));
  }
  const sum = prof.summary || prof.median || {};
  const wall = sum.median_wall_seconds ?? sum.wall_seconds ?? median(iters.map((i) => i.wall_seconds));
  const cpu = sum.median_cpu_seconds ?? sum.cpu_seconds ?? median(iters.map((i) => i.cpu_seconds));
  const rss = sum.max_peak_rss_bytes ?? Math.max(...iters.map((i) => Number(i.peak_rss_bytes) || 0));
  const hot = (prof.hotspots || []).map((x) => (typeof x === 'object'
    ? { stage: x.name, 'median wall': fmtDuration(Number(x.wall_seconds)), share: Number.isFinite(x.share) ? pct(x.share, 1) : '' }
    : { hotspot: String(x) }));
  const el = h('div.chart', { id: 'stages-chart' });
  const card = h('section.card', { id: 'profile' },
    h('h3', 'Profile'),
    h('dl.facts',
      h('dt', 'Median wall'), h('dd', fmtDuration(wall)),
      h('dt', 'Median CPU'), h('dd', fmtDuration(cpu)),
      h('dt', 'Peak memory'), h('dd', { id: 'peak-rss' }, fmtBytes(rss)),
      h('dt', 'Iterations'), h('dd', String(iters.length))),
    stageNames.length ? [h('h4', 'Stage timings (median wall seconds)'), el] : null,
    hot.length ? [h('h4', 'Hotspots'), table(hot, null, { id: 'hotspots' })] : null,
    iters.length > 1 ? h('details', h('summary', 'Iterations'), table(iters.map((i) => ({
      iteration: i.iteration, wall: fmtDuration(i.wall_seconds), cpu: fmtDuration(i.cpu_seconds), peak_rss: fmtBytes(i.peak_rss_bytes),
    })))) : null);
  const draw = () => {
    if (stageNames.length) charts.push(barChart(el, stageNames, [{ label: 'median wall (s)', values: stageWall }], { fmt: (v) => fmtNum(v, 3), xLabel: 'stage' }));
  };
  return [card, draw];
}

function artifactsSection(run, artifacts) {
  if (!artifacts || !artifacts.length) return null;
  return h('section.card', { id: 'artifacts' }, h('h3', 'Artifacts'),
    h('ul.artifacts', artifacts.map((a) => h('li',
      h('a', { href: a.url || `/runs/${run.id}/artifacts/${encodeURIComponent(a.name)}`, download: a.name, dataset: { artifact: a.name } }, a.name),
      ' ', h('small.muted', [a.content_type, a.rows !== undefined && a.rows !== null ? `${a.rows} rows` : null, a.bytes !== undefined && a.bytes !== null ? fmtBytes(a.bytes) : null].filter(Boolean).join(' · '))))));
}

async function loadArtifacts(id) {
  try {
    const r = await get(`/runs/${id}/artifacts`);
    return Array.isArray(r) ? r : r.items || r.artifacts || [];
  } catch (err) {
    if (err.status === 404) return [];
    throw err;
  }
}

// A succeeded sweep's ranked members and heat map, from the `sweep` object
// of GET /backtests/{id} (GET /runs/{id} does not carry it).
async function sweepResults(run) {
  try {
    const bt = await get(`/backtests/${run.id}`);
    if (!bt.sweep) return h('section.card', h('h3', 'Sweep results'), h('p.muted', 'The server has no results for this sweep.'));
    return sweepSection(bt.sweep);
  } catch (err) {
    return h('section.card', h('h3', 'Sweep results'), errorBox(err));
  }
}

// ---- the page -------------------------------------------------------------------
// A chunk's place in its sweep, from the sweep's chunks (null when unknown).
async function chunkPlace(run) {
  try {
    const sweep = await get(`/runs/${run.parent_id}`);
    const c = chunkProgress(sweep.chunks);
    const it = c && sweep.chunks.items.find((x) => x.id === run.id);
    return it ? { seq: it.seq, total: c.total, members: it.members } : null;
  } catch {
    return null;
  }
}

export function mountRun(root, [id]) {
  const state = { stopped: false, timer: null, charts: [], shownTerminal: false, place: undefined };
  const head = h('div');
  const results = h('div', { id: 'run-results' });
  replace(root, h('p', h('a', { href: '#/runs' }, '‹ all runs')), head, results);

  async function cancel() {
    try {
      await post(`/runs/${id}/cancel`);
    } catch (err) {
      replace(results, errorBox(err));
    }
    refresh();
  }

  async function showResults(run) {
    replace(results, h('p.muted', 'Loading results…'));
    const artifacts = await loadArtifacts(id);
    const ok = run.status === 'succeeded';
    const [eqCard, monthly, drawEq] = ok ? await equitySection(run, artifacts, state.charts).catch((err) => [errorBox(err)]) : [];
    const sweepCards = ok && run.kind === 'sweep' ? await sweepResults(run) : null;
    const [profCard, drawProf] = await profileSection(run, state.charts);
    if (state.stopped) return;
    const hasTrading = ok && (eqCard || findArtifact(artifacts, 'orders'));
    replace(results,
      metricsSection(run),
      sweepCards,
      eqCard || null,
      monthly || null,
      hasTrading ? ordersSection(run, artifacts) : null,
      profCard,
      artifactsSection(run, artifacts));
    if (drawEq) drawEq();
    if (drawProf) drawProf();
  }

  async function refresh() {
    clearTimeout(state.timer);
    let run;
    try {
      run = await get(`/runs/${id}`);
    } catch (err) {
      if (state.stopped) return;
      replace(head, err instanceof ApiError && err.status === 404
        ? h('section.card', h('h2', `Run #${id}`), h('p.muted', err.detail || 'No such run.'))
        : errorBox(err));
      if (err.status !== 404) state.timer = setTimeout(refresh, POLL_MS * 2);
      return;
    }
    if (run.parent_id && state.place === undefined) state.place = await chunkPlace(run);
    if (state.stopped) return;
    replace(head, header(run, cancel, state.place), chunksSection(run));
    if (TERMINAL.has(run.status)) {
      if (!state.shownTerminal) {
        state.shownTerminal = true;
        await showResults(run);
      }
      return;
    }
    if (run.status === 'running' && !results.firstChild) replace(results, h('p.muted', 'Results appear when the run has finished.'));
    state.timer = setTimeout(refresh, POLL_MS);
  }
  refresh();
  return () => {
    state.stopped = true;
    clearTimeout(state.timer);
    for (const c of state.charts) c.destroy();
  };
}

