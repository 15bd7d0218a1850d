// sweep.js — a parameter sweep's pure computations, no DOM (node tests in
// web/test/sweep.test.mjs): the sweep form's grid text ("5,10,20") as the
// API's values, a grid's size, the grid's parameters in the engine's order,
// the ranked members' columns and their sort, and the Sharpe heat map's
// cells (rows = first parameter, columns = second; a combination the
// strategy rejected is a blank cell that says why). Input is the `sweep`
// object of GET /backtests/{id} (docs/API.md, Parameter sweeps).

import { fmtNum } from './format.js';

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

// A grid field's text as the API's array: numbers where a token is a
// decimal number, else the token itself, so the API names the bad entry
// (grid.fast[1]) instead of the browser dropping it. Tokens are separated by
// commas, semicolons or white space. undefined when blank (not in the grid).
export function parseGridValues(text) {
  const tokens = String(text ?? '').split(/[\s,;]+/).filter(Boolean);
  if (!tokens.length) return undefined;
  return tokens.map((t) => (NUMBER.test(t) ? Number(t) : t));
}

// Combinations of a grid {name: [values]}: the product of the list lengths
// (0 for an empty grid).
export function gridCombinations(grid) {
  const lists = Object.values(grid || {}).filter(Array.isArray);
  return lists.length ? lists.reduce((n, v) => n * v.length, 1) : 0;
}

// A member's position in the grid (row-major, the first parameter slowest)
// for parameter order `names`; -1 when a value is not in the grid.
export function comboIndex(grid, names, params) {
  let idx = 0;
  for (const name of names) {
    const i = (grid[name] || []).indexOf(params ? params[name] : undefined);
    if (i < 0) return -1;
    idx = idx * grid[name].length + i;
  }
  return idx;
}

function permutations(xs) {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

// The grid's parameters in the engine's order: [{name, values}]. The API's
// key order is the engine's (both come from the same stored JSON); checked
// against the members' grid positions (`member`), and where they disagree
// the order they agree with is used (at most 4 parameters are tried).
export function gridDims(sweep) {
  const grid = (sweep && sweep.grid) || {};
  const names = Object.keys(grid).filter((k) => Array.isArray(grid[k]));
  const ranked = (sweep && Array.isArray(sweep.ranked)) ? sweep.ranked : [];
  const fits = (order) => ranked.every((m) => !Number.isInteger(m.member) || comboIndex(grid, order, m.params) === m.member);
  let order = names;
  if (!fits(names) && names.length <= 4) order = permutations(names).find(fits) || names;
  return order.map((name) => ({ name, values: grid[name] }));
}

// The ranked table's columns: rank, the grid's parameters, then the
// metrics of sweep_results.csv. `metric` names the fmtMetric format.
export function memberColumns(dims) {
  return [
    { id: 'rank', label: 'Rank', get: (m) => m.rank },
    ...dims.map((d) => ({ id: `param:${d.name}`, label: d.name, param: d.name, get: (m) => (m.params ? m.params[d.name] : undefined) })),
    { id: 'sharpe', label: 'Sharpe', metric: 'sharpe', get: (m) => m.sharpe },
    { id: 'cagr', label: 'CAGR', metric: 'cagr', get: (m) => m.cagr },
    { id: 'max_drawdown', label: 'Max drawdown', metric: 'max_drawdown', get: (m) => m.max_drawdown },
    { id: 'turnover', label: 'Turnover', metric: 'turnover', get: (m) => m.turnover },
    { id: 'total_return', label: 'Total return', metric: 'total_return', get: (m) => m.total_return },
    { id: 'n_orders', label: 'Orders', metric: 'n_orders', get: (m) => m.n_orders },
  ];
}

// Members sorted by get(m), 'asc' or 'desc'; missing values (an undefined
// Sharpe is null) last either way, ties by rank. A new array.
export function sortMembers(members, get, dir = 'asc') {
  const sign = dir === 'desc' ? -1 : 1;
  const val = (m) => {
    const v = get(m);
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  };
  return members.slice().sort((a, b) => {
    const x = val(a);
    const y = val(b);
    if (x === null || y === null) {
      if (x !== y) return x === null ? 1 : -1;
    } else if (x !== y) {
      return sign * (x - y);
    }
    return (a.rank ?? Infinity) - (b.rank ?? Infinity);
  });
}

// The Sharpe heat map when exactly two of the grid's parameters have more
// than one value (a one-value parameter is fixed: one combination per
// cell), else null. {row, col: parameter names; cols: the column values;
// rows: [{value, cells: [{sharpe, member, rank, skipped, title}]}]; scale:
// the largest |Sharpe|, for the colours; fixed: [{name, value}]}. Cells come
// from the members' own parameters; a combination with no member was
// skipped (the strategy rejected it): blank, its title says why.
export function heatMapLayout(sweep) {
  const dims = gridDims(sweep);
  const varying = dims.filter((d) => d.values.length > 1);
  if (varying.length !== 2) return null;
  const [row, col] = varying;
  const ranked = Array.isArray(sweep.ranked) ? sweep.ranked : [];
  const at = new Map();
  for (const m of ranked) if (m.params) at.set(`${m.params[row.name]}|${m.params[col.name]}`, m);
  const finite = ranked.map((m) => m.sharpe).filter((s) => typeof s === 'number' && Number.isFinite(s));
  const scale = finite.length ? Math.max(...finite.map(Math.abs)) || 1 : 1;
  const n = ranked.length;
  const skipNote = sweep.skipped
    ? ` (${sweep.skipped} of ${sweep.combinations ?? gridCombinations(sweep.grid)} combinations skipped${sweep.skip_reason ? `; the first rejected: ${sweep.skip_reason}` : ''})`
    : '';
  return {
    row: row.name,
    col: col.name,
    cols: col.values,
    fixed: dims.filter((d) => d.values.length === 1).map((d) => ({ name: d.name, value: d.values[0] })),
    scale,
    rows: row.values.map((rv) => ({
      value: rv,
      cells: col.values.map((cv) => {
        const where = `${row.name} ${rv}, ${col.name} ${cv}`;
        const m = at.get(`${rv}|${cv}`);
        if (!m) {
          return { skipped: true, sharpe: null, member: null, rank: null, title: `${where}: not run — the strategy rejects this combination${skipNote}` };
        }
        const s = typeof m.sharpe === 'number' && Number.isFinite(m.sharpe) ? m.sharpe : null;
        return {
          skipped: false, sharpe: s, member: m.member, rank: m.rank,
          title: `${where}: Sharpe ${s === null ? 'undefined' : fmtNum(s, 4)}, rank ${m.rank} of ${n}`,
        };
      }),
    })),
  };
}

// A heat-map cell's text: Sharpe to 3 decimals as in sweep_report.md, 'n/a'
// when undefined, blank when skipped.
export function fmtHeatCell(cell) {
  if (cell.skipped) return '';
  return cell.sharpe === null ? 'n/a' : cell.sharpe.toFixed(3);
}
