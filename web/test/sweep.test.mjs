// sweep.test.mjs — a parameter sweep's pure computations (web/src/sweep.js):
// the form's grid text, grid sizes, the parameter order, the ranked table's
// sort and the Sharpe heat map's cells.
// Run: node --test web/test/sweep.test.mjs (ctest web_unit runs it through
// format.test.mjs, which imports this file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseGridValues, gridCombinations, comboIndex, gridDims, memberColumns, sortMembers, heatMapLayout, fmtHeatCell,
} from '../src/sweep.js';

// The sweep of the e2e test's shape: fast 5,10,20,60 x slow 30,60,90 for
// trend_baseline (fast < slow), so (60, 30) and (60, 60) are skipped.
function sweepOf(rows) {
  const grid = { fast: [5, 10, 20, 60], slow: [30, 60, 90] };
  const ranked = rows.map(([fast, slow, sharpe, n], k) => ({
    rank: k + 1, member: comboIndex(grid, ['fast', 'slow'], { fast, slow }), params: { fast, slow }, sharpe,
    cagr: sharpe === null ? null : sharpe / 10, max_drawdown: 0.1 + k / 100, turnover: 3 + k, total_return: 0.05 - k / 100, n_orders: n,
  }));
  return {
    strategy: 'trend_baseline', grid, combinations: 12, members: ranked.length, skipped: 12 - ranked.length,
    skip_reason: 'parameter fast (60) must be < slow (30)', ranked,
  };
}
const TEN = [[60, 90, -0.405, 46], [20, 60, -0.498, 96], [20, 90, -0.570, 77], [10, 90, -0.751, 106], [5, 90, -0.947, 152],
  [10, 60, -1.176, 140], [20, 30, -1.330, 136], [5, 60, -1.370, 183], [5, 30, -1.566, 231], [10, 30, -1.593, 190]];

test('grid text: numbers separated by commas, semicolons or spaces; a bad token kept for the API; blank is no grid', () => {
  assert.deepEqual(parseGridValues('5,10,20'), [5, 10, 20]);
  assert.deepEqual(parseGridValues(' 5, 10 ;20 , '), [5, 10, 20]);
  assert.deepEqual(parseGridValues('0.25 .5 1e1 -2 +3'), [0.25, 0.5, 10, -2, 3]);
  assert.deepEqual(parseGridValues('5,abc,20'), [5, 'abc', 20]);
  assert.deepEqual(parseGridValues('0x10,1.2.3,Infinity'), ['0x10', '1.2.3', 'Infinity']);
  assert.equal(parseGridValues(''), undefined);
  assert.equal(parseGridValues('  , ;'), undefined);
  assert.equal(parseGridValues(undefined), undefined);
});

test('grid size and a member\'s grid position (row-major, first parameter slowest)', () => {
  assert.equal(gridCombinations({ fast: [5, 10, 20], slow: [30, 60, 90] }), 9);
  assert.equal(gridCombinations({ n: [10, 20], band: [0.25, 0.5, 1], atr_n: [14] }), 6);
  assert.equal(gridCombinations({}), 0);
  assert.equal(gridCombinations(undefined), 0);
  const grid = { fast: [5, 10, 20, 60], slow: [30, 60, 90] };
  assert.equal(comboIndex(grid, ['fast', 'slow'], { fast: 5, slow: 30 }), 0);
  assert.equal(comboIndex(grid, ['fast', 'slow'], { fast: 20, slow: 60 }), 7);
  assert.equal(comboIndex(grid, ['slow', 'fast'], { fast: 20, slow: 60 }), 6);
  assert.equal(comboIndex(grid, ['fast', 'slow'], { fast: 7, slow: 60 }), -1);
});

test('parameter order: the API\'s key order when the members agree, else the order they agree with', () => {
  const s = sweepOf(TEN);
  assert.deepEqual(gridDims(s).map((d) => d.name), ['fast', 'slow']);
  assert.deepEqual(gridDims(s)[0].values, [5, 10, 20, 60]);
  // The same members with the keys listed the other way round.
  const swapped = { ...s, grid: { slow: s.grid.slow, fast: s.grid.fast } };
  assert.deepEqual(gridDims(swapped).map((d) => d.name), ['fast', 'slow']);
  // Members whose positions say slow is first.
  const slowFirst = { ...s, ranked: s.ranked.map((m) => ({ ...m, member: comboIndex(s.grid, ['slow', 'fast'], m.params) })) };
  assert.deepEqual(gridDims(slowFirst).map((d) => d.name), ['slow', 'fast']);
  // No members: the key order.
  assert.deepEqual(gridDims({ grid: { n: [1, 2], band: [0.5] }, ranked: [] }).map((d) => d.name), ['n', 'band']);
  assert.deepEqual(gridDims(undefined), []);
});

test('ranked table: rank, the grid parameters, then the metrics of sweep_results.csv', () => {
  const cols = memberColumns(gridDims(sweepOf(TEN)));
  assert.deepEqual(cols.map((c) => c.id),
    ['rank', 'param:fast', 'param:slow', 'sharpe', 'cagr', 'max_drawdown', 'turnover', 'total_return', 'n_orders']);
  const m = sweepOf(TEN).ranked[1];
  assert.deepEqual(cols.map((c) => c.get(m)), [2, 20, 60, -0.498, m.cagr, m.max_drawdown, 4, m.total_return, 96]);
});

test('sorting: by any column either way, missing values last, ties by rank', () => {
  const s = sweepOf(TEN);
  const cols = Object.fromEntries(memberColumns(gridDims(s)).map((c) => [c.id, c]));
  const by = (id, dir) => sortMembers(s.ranked, cols[id].get, dir).map((m) => m.rank);
  assert.deepEqual(by('rank', 'asc'), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(by('rank', 'desc'), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  assert.deepEqual(by('n_orders', 'asc'), [1, 3, 2, 4, 7, 6, 5, 8, 10, 9]);
  assert.deepEqual(by('sharpe', 'asc'), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  // fast ascending: ties (same fast) in rank order.
  assert.deepEqual(sortMembers(s.ranked, cols['param:fast'].get, 'asc').map((m) => m.params.fast), [5, 5, 5, 10, 10, 10, 20, 20, 20, 60]);
  assert.deepEqual(by('param:fast', 'asc'), [5, 8, 9, 4, 6, 10, 2, 3, 7, 1]);
  assert.deepEqual(by('param:fast', 'desc'), [1, 2, 3, 7, 4, 6, 10, 5, 8, 9]);
  // An undefined Sharpe (null) is last both ways; the input is not changed.
  const withNull = sweepOf([[5, 30, 0.5, 1], [5, 60, null, 2], [5, 90, 1.5, 3]]).ranked;
  assert.deepEqual(sortMembers(withNull, (m) => m.sharpe, 'asc').map((m) => m.rank), [1, 3, 2]);
  assert.deepEqual(sortMembers(withNull, (m) => m.sharpe, 'desc').map((m) => m.rank), [3, 1, 2]);
  assert.deepEqual(withNull.map((m) => m.rank), [1, 2, 3]);
});

test('heat map: rows the first parameter, columns the second, one cell per combination, skipped ones blank with the reason', () => {
  const s = sweepOf(TEN);
  const hm = heatMapLayout(s);
  assert.equal(hm.row, 'fast');
  assert.equal(hm.col, 'slow');
  assert.deepEqual(hm.cols, [30, 60, 90]);
  assert.deepEqual(hm.rows.map((r) => r.value), [5, 10, 20, 60]);
  assert.deepEqual(hm.fixed, []);
  const cells = hm.rows.flatMap((r) => r.cells);
  assert.equal(cells.length, 12);
  // As the markdown report prints it (sweep_report.md, "Sharpe heat map").
  assert.deepEqual(hm.rows.map((r) => r.cells.map(fmtHeatCell)), [
    ['-1.566', '-1.370', '-0.947'],
    ['-1.593', '-1.176', '-0.751'],
    ['-1.330', '-0.498', '-0.570'],
    ['', '', '-0.405'],
  ]);
  const skipped = cells.filter((c) => c.skipped);
  assert.equal(skipped.length, 2);
  assert.equal(skipped[0].title,
    'fast 60, slow 30: not run — the strategy rejects this combination (2 of 12 combinations skipped; the first rejected: parameter fast (60) must be < slow (30))');
  assert.match(skipped[1].title, /^fast 60, slow 60: not run/);
  const best = hm.rows[3].cells[2];
  assert.deepEqual([best.rank, best.member, best.sharpe], [1, 11, -0.405]);
  assert.equal(best.title, 'fast 60, slow 90: Sharpe -0.405, rank 1 of 10');
  assert.equal(hm.scale, 1.593);
  // Each member sits in the cell of its own parameters.
  for (const m of s.ranked) {
    const c = hm.rows.find((r) => r.value === m.params.fast).cells[hm.cols.indexOf(m.params.slow)];
    assert.equal(c.member, m.member);
  }
});

test('heat map: only for two parameters with several values; a one-value parameter is fixed', () => {
  assert.equal(heatMapLayout({ grid: { fast: [5, 10, 20] }, ranked: [] }), null);
  assert.equal(heatMapLayout({ grid: { n: [10, 20], band: [0.25, 0.5], atr_n: [10, 14] }, ranked: [] }), null);
  const grid = { n: [10, 20], band: [0.25, 0.5, 1], atr_n: [14] };
  const names = ['n', 'band', 'atr_n'];
  const ranked = [];
  for (const n of grid.n) for (const band of grid.band) ranked.push({ params: { n, band, atr_n: 14 }, sharpe: n / 100 + band });
  ranked.sort((a, b) => b.sharpe - a.sharpe).forEach((m, k) => Object.assign(m, { rank: k + 1, member: comboIndex(grid, names, m.params) }));
  const hm = heatMapLayout({ grid, combinations: 6, skipped: 0, ranked });
  assert.deepEqual([hm.row, hm.col], ['n', 'band']);
  assert.deepEqual(hm.fixed, [{ name: 'atr_n', value: 14 }]);
  assert.equal(hm.rows.flatMap((r) => r.cells).length, 6);
  assert.equal(hm.rows.flatMap((r) => r.cells).filter((c) => c.skipped).length, 0);
  assert.equal(fmtHeatCell(hm.rows[1].cells[2]), '1.200');
  // An undefined Sharpe reads n/a (the report's text), not blank.
  const na = heatMapLayout({ grid: { fast: [5, 10], slow: [30, 60] }, ranked: [
    { rank: 1, member: 0, params: { fast: 5, slow: 30 }, sharpe: 0.5 },
    { rank: 2, member: 1, params: { fast: 5, slow: 60 }, sharpe: 0.25 },
    { rank: 3, member: 2, params: { fast: 10, slow: 30 }, sharpe: 0.125 },
    { rank: 4, member: 3, params: { fast: 10, slow: 60 }, sharpe: null },
  ] });
  assert.equal(fmtHeatCell(na.rows[1].cells[1]), 'n/a');
  assert.equal(na.rows[1].cells[1].skipped, false);
  assert.match(na.rows[1].cells[1].title, /Sharpe undefined, rank 4 of 4/);
});
