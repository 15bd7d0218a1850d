// pages/sweep.js — parameter sweeps in the dashboard: the Sweep form of the
// Runs page (POST /backtests with a `grid`, the API's field errors beside
// the fields) and, on a succeeded sweep's run page, its results from the
// `sweep` object of GET /backtests/{id}: what ran, the ranked members
// (sortable by any column, the best highlighted) and, for two parameters,
// the Sharpe heat map. The computations are in ../sweep.js; this file only
// builds elements.

import { h, replace, select, fmtNum } from '../dom.js';
import { post, ApiError } from '../api.js';
import { field, input, clearErrors, showErrors, showOk, num, text, compact, universeFields } from '../forms.js';
import { fmtMetric, fmtDuration, heatColor } from '../format.js';
import { STRATEGIES } from '../strategies.js';
import {
  parseGridValues, gridCombinations, gridDims, memberColumns, sortMembers, heatMapLayout, fmtHeatCell,
} from '../sweep.js';

// Example grids shown as placeholders (trend_baseline skips fast >= slow).
const GRID_EXAMPLES = { fast: '5, 10, 20', slow: '50, 100, 200', n: '20, 50, 100', atr_n: '14', band: '0.25, 0.5, 1' };

// ---- the form -------------------------------------------------------------------
// Field ids start with "sw-" (the Backtest form on the same page has the
// same field names).
function swField(name, label, control, hint) {
  control.id = `sw-${name.replace(/[^a-z0-9_-]/gi, '_')}`;
  return field(name, label, control, hint);
}

export function sweepForm(onStarted) {
  const swept = Object.keys(STRATEGIES).filter((k) => STRATEGIES[k].length);
  const strategy = select({}, swept, 'trend_baseline');
  const size = h('small.muted', { id: 'sweep-size' });
  // Errors naming the grid as a whole ("no combination is valid").
  const gridError = h('div.field.wide', { dataset: { field: 'grid' } }, h('div.field-error', { role: 'alert', 'aria-live': 'polite' }));
  const gridRow = h('div.row.grid-params');
  const grid = () => {
    const g = {};
    for (const [k] of STRATEGIES[strategy.value]) {
      const v = parseGridValues(gridRow.querySelector(`[name="grid.${k}"]`)?.value);
      if (v !== undefined) g[k] = v;
    }
    return g;
  };
  const showSize = () => {
    const n = gridCombinations(grid());
    size.textContent = n ? `${n} combination${n === 1 ? '' : 's'}` : 'fill in at least one parameter';
  };
  const renderGrid = () => {
    replace(gridRow, STRATEGIES[strategy.value].map(([k, label, def]) => swField(`grid.${k}`, `${label} (${k})`,
      input({ placeholder: GRID_EXAMPLES[k] || def }), `comma-separated values; blank: the default, ${def}`)), gridError);
    showSize();
  };
  // Capture: cleared before the edited field's own listener looks for the
  // form's remaining errors (with none left it clears the form's error box).
  gridRow.addEventListener('input', () => {
    gridError.classList.remove('invalid');
    gridError.querySelector('.field-error').textContent = '';
    showSize();
  }, true);
  strategy.addEventListener('change', renderGrid);
  renderGrid();
  const universe = universeFields('sw-');

  const form = h('form.backtest.sweep', { id: 'sweep-form', novalidate: true },
    h('h2', 'Parameter sweep'),
    h('p.muted', 'Every combination of the grid\'s values runs as one backtest on the same data, ranked by Sharpe; combinations the strategy rejects (trend_baseline: fast ≥ slow) are skipped. Capital, costs and weights are the API\'s defaults.'),
    h('div.row',
      swField('strategy', 'Strategy', strategy),
      swField('freq', 'Frequency', select({}, ['1d', '1h'], '1d')),
      swField('data', 'Data', select({}, [['default', 'server default'], ['synthetic', 'synthetic']], 'default')),
      swField('seed', 'Seed (synthetic)', input({ inputmode: 'numeric', placeholder: '42' }))),
    h('h3', 'Grid ', size),
    gridRow,
    h('h3', 'Universe and range'),
    h('div.row', universe.els),
    h('div.row',
      swField('start', 'Start', input({ type: 'date' })),
      swField('end', 'End', input({ type: 'date' })),
      swField('last_bars', 'Last bars', input({ inputmode: 'numeric', placeholder: 'all' })),
      swField('chunk_size', 'Chunk size', input({ inputmode: 'numeric', placeholder: 'server default' }),
        'split into chunk runs of at most this many combinations (1..1000)')),
    h('div.actions', h('button', { type: 'submit' }, 'Run sweep')),
    h('div.form-status'));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const g = grid();
    const body = compact({
      strategy: strategy.value,
      // An empty grid is sent as such: the API names the field.
      grid: g,
      freq: text(form, 'freq'),
      data: text(form, 'data'),
      seed: num(form, 'seed'),
      start: text(form, 'start'),
      end: text(form, 'end'),
      last_bars: num(form, 'last_bars'),
      chunk_size: num(form, 'chunk_size'),
    });
    universe.add(form, body);
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const res = await post('/backtests', body);
      const run = res.data || {};
      const chunks = run.chunks && run.chunks.total ? `, ${run.chunks.total} chunk runs` : '';
      showOk(form, `Sweep of ${gridCombinations(g)} combinations${chunks} queued as `, h('a', { href: `#/runs/${run.id}` }, `run #${run.id}`));
      onStarted(run.id);
    } catch (err) {
      if (err instanceof ApiError) showErrors(form, err);
      else throw err;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

// ---- the results ----------------------------------------------------------------
// A table cell: Sharpe to 4 decimals as in sweep_report.md (the column
// lines up), the other metrics as on the metrics table, parameters as given.
function cellText(col, v) {
  if (v === null || v === undefined) return '—';
  if (col.metric === 'sharpe' && typeof v === 'number') return v.toFixed(4);
  if (col.metric) return fmtMetric(col.metric, v);
  return fmtNum(v, 6);
}

function paramsText(dims, params) {
  return dims.map((d) => `${d.name} ${fmtNum(params ? params[d.name] : undefined, 6)}`).join(', ');
}

// What ran: combinations (and why some were skipped), data, speed, the best.
function summary(sweep, dims) {
  const best = (sweep.ranked || [])[0];
  const range = [sweep.first_ts, sweep.last_ts].filter(Boolean).join(' – ');
  return h('dl.facts.stacked', { id: 'sweep-summary' },
    h('dt', 'Combinations'), h('dd', { id: 'sweep-counts' },
      `${sweep.combinations}: ${sweep.members} run, ${sweep.skipped} skipped`,
      sweep.skipped && sweep.skip_reason ? h('small.muted', ` (first rejected: ${sweep.skip_reason})`) : null),
    h('dt', 'Data'), h('dd', `${fmtNum(sweep.symbols)} symbols × ${fmtNum(sweep.bars)} bars (${sweep.freq})${range ? `, ${range}` : ''}`),
    h('dt', 'Members'), h('dd', `${fmtDuration(sweep.members_seconds)} on ${sweep.threads} thread${sweep.threads === 1 ? '' : 's'}`,
      Number.isFinite(sweep.backtests_per_second) ? `, ${fmtNum(Math.round(sweep.backtests_per_second))} backtests/s` : ''),
    best ? [h('dt', 'Best'), h('dd', { id: 'sweep-best' }, `${paramsText(dims, best.params)}: Sharpe ${cellText({ metric: 'sharpe' }, best.sharpe)}`)] : null);
}

// The ranked members; a click on a column header sorts by it (again: the
// other way), the rank-1 row stays highlighted.
function membersTable(sweep, dims) {
  const cols = memberColumns(dims);
  const members = Array.isArray(sweep.ranked) ? sweep.ranked : [];
  const state = { col: 'rank', dir: 'asc' };
  const tbody = h('tbody');
  const heads = cols.map((c) => h('th.num.sortable', { dataset: { col: c.id } },
    h('button.sort', { type: 'button', title: `sort by ${c.label}`, onclick: () => sortBy(c.id) }, c.label, h('span.arrow'))));
  function render() {
    const col = cols.find((c) => c.id === state.col);
    for (const th of heads) {
      const on = th.dataset.col === state.col;
      th.setAttribute('aria-sort', on ? (state.dir === 'asc' ? 'ascending' : 'descending') : 'none');
      th.querySelector('.arrow').textContent = on ? (state.dir === 'asc' ? ' ▲' : ' ▼') : '';
    }
    replace(tbody, sortMembers(members, col.get, state.dir).map((m) => h('tr', {
      class: m.rank === 1 ? 'best' : null, title: m.rank === 1 ? 'best Sharpe' : null,
      dataset: { rank: String(m.rank), member: String(m.member) },
    }, cols.map((c) => {
      const v = c.get(m);
      return h('td.num', { dataset: { col: c.id, value: v === null || v === undefined ? '' : String(v) } }, cellText(c, v));
    }))));
  }
  function sortBy(id) {
    state.dir = state.col === id && state.dir === 'asc' ? 'desc' : 'asc';
    state.col = id;
    render();
  }
  render();
  return h('div.scroll', h('table.data.sweep-members', { id: 'sweep-table' }, h('thead', h('tr', heads)), tbody));
}

// The Sharpe heat map (two parameters with several values), like
// sweep_report.md's: green for a positive Sharpe, red for a negative one,
// the strongest |Sharpe| of the grid at full colour; skipped combinations
// blank, the tooltip says why.
function heatMapCard(sweep) {
  const hm = heatMapLayout(sweep);
  if (!hm) return null;
  const fixed = hm.fixed.map((f) => `${f.name} ${fmtNum(f.value, 6)}`).join(', ');
  return h('section.card', { id: 'sweep-heat' },
    h('h3', `Sharpe heat map (${hm.row} × ${hm.col}) `,
      h('small.muted', `rows ${hm.row}, columns ${hm.col}${fixed ? `, ${fixed} fixed` : ''}; hover a cell for its rank, a blank cell for why it was skipped`)),
    h('div.scroll', h('table.data.heat.sweep-heat', { id: 'sweep-heatmap' },
      h('thead', h('tr', h('th', `${hm.row} \\ ${hm.col}`), hm.cols.map((v) => h('th.num', fmtNum(v, 6))))),
      h('tbody', hm.rows.map((r) => h('tr',
        h('th', fmtNum(r.value, 6)),
        r.cells.map((c) => h('td.num.cell', {
          class: [c.skipped ? 'skipped' : null, c.rank === 1 ? 'best' : null].filter(Boolean).join(' ') || null,
          style: c.skipped ? null : { background: heatColor(c.sharpe, hm.scale) },
          title: c.title,
          dataset: { member: c.member === null ? '' : String(c.member), rank: c.rank === null ? '' : String(c.rank), skipped: String(c.skipped) },
        }, fmtHeatCell(c)))))))));
}

// A succeeded sweep's result cards: [ranked table, heat map or null].
export function sweepSection(sweep) {
  const dims = gridDims(sweep);
  const n = Array.isArray(sweep.ranked) ? sweep.ranked.length : 0;
  return [
    h('section.card', { id: 'sweep-results' },
      h('h3', 'Ranked by Sharpe ', h('small.muted', `${n} members of ${sweep.strategy}; click a column to sort`)),
      summary(sweep, dims),
      membersTable(sweep, dims)),
    heatMapCard(sweep),
  ];
}
