// format.test.mjs — the dashboard's pure computations, in Node (no browser):
// monthly returns from an equity curve, timestamps, durations, metric formats,
// a split sweep's chunk counts.
// Run: node --test web/test/ (ctest: web_unit runs every *.test.mjs there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { monthlyReturns, toSec, fmtDuration, fmtMetric, pct, median, runDuration, heatColor, chunkProgress, fmtMembers } from '../src/format.js';

const day = (s) => Date.parse(`${s}T00:00:00Z`) / 1000;
const close = (a, b) => Math.abs(a - b) < 1e-12;

test('monthly returns: each month over the previous month-end, the first over the first point', () => {
  const pts = [
    { t: day('2020-01-02'), equity: 100 },
    { t: day('2020-01-31'), equity: 110 },
    { t: day('2020-02-03'), equity: 99 },
    { t: day('2020-02-28'), equity: 121 },
    { t: day('2020-12-31'), equity: 133.1 },
    { t: day('2021-01-04'), equity: 133.1 },
    { t: day('2021-03-31'), equity: 119.79 },
  ];
  const { years } = monthlyReturns(pts);
  assert.deepEqual(years.map((y) => y.year), [2020, 2021]);
  const [y20, y21] = years;
  assert.ok(close(y20.months[0], 0.1));          // 110 / 100
  assert.ok(close(y20.months[1], 0.1));          // 121 / 110
  assert.equal(y20.months[2], null);             // no bars in March..November
  assert.ok(close(y20.months[11], 0.1));         // 133.1 / 121
  assert.ok(close(y20.total, 0.331));            // 133.1 / 100
  assert.ok(close(y21.months[0], 0));            // 133.1 / 133.1
  assert.equal(y21.months[1], null);
  assert.ok(close(y21.months[2], -0.1));         // 119.79 / 133.1
  assert.ok(close(y21.total, -0.1));             // over the 2020 year-end
});

test('monthly returns compound to the curve total', () => {
  const pts = [];
  let e = 1000;
  for (let i = 0; i < 800; i++) {
    e *= 1 + Math.sin(i / 7) * 0.01;
    pts.push({ t: day('2018-03-05') + i * 86400, equity: e });
  }
  const { years } = monthlyReturns(pts);
  let g = 1;
  for (const y of years) for (const m of y.months) if (m !== null) g *= 1 + m;
  assert.ok(Math.abs(g - e / 1000) < 1e-9, `${g} vs ${e / 1000}`);
  let gy = 1;
  for (const y of years) gy *= 1 + y.total;
  assert.ok(Math.abs(gy - e / 1000) < 1e-9);
});

test('monthly returns skip unusable points', () => {
  assert.deepEqual(monthlyReturns([]).years, []);
  const { years } = monthlyReturns([{ t: null, equity: 1 }, { t: day('2020-05-01'), equity: NaN }, { t: day('2020-05-04'), equity: 50 }, { t: day('2020-06-01'), equity: 55 }]);
  assert.equal(years.length, 1);
  assert.ok(close(years[0].months[4], 0));
  assert.ok(close(years[0].months[5], 0.1));
});

test('timestamps from the API: dates, ISO, Postgres text, numbers', () => {
  assert.equal(toSec('2020-01-02'), day('2020-01-02'));
  assert.equal(toSec('2020-01-02T00:00:00Z'), day('2020-01-02'));
  assert.equal(toSec('2020-01-02 00:00:00+00'), day('2020-01-02'));
  assert.equal(toSec(1577923200), 1577923200);
  assert.equal(toSec(1577923200000), 1577923200);
  assert.equal(toSec(null), null);
  assert.equal(toSec('not a date'), null);
});

test('durations and run durations', () => {
  assert.equal(fmtDuration(0.0456), '46 ms');
  assert.equal(fmtDuration(3.14159), '3.14 s');
  assert.equal(fmtDuration(42.3), '42.3 s');
  assert.equal(fmtDuration(125), '2 min 5 s');
  assert.equal(fmtDuration(3 * 3600 + 120), '3 h 2 min');
  assert.equal(fmtDuration(null), '');
  assert.equal(runDuration({ started_at: '2026-01-01T00:00:00Z', finished_at: '2026-01-01T00:00:02.5Z' }), 2.5);
  assert.equal(runDuration({ started_at: null }), null);
});

test('metrics: fractions as percentages, the rest as numbers', () => {
  assert.equal(fmtMetric('cagr', 0.0548), '5.48%');
  assert.equal(fmtMetric('max_drawdown', 0.2881), '28.81%');
  assert.equal(fmtMetric('max_drawdown_duration', 826), '826');
  assert.equal(fmtMetric('sharpe', 0.48641), '0.4864');
  assert.equal(fmtMetric('beta', null), '—');
  assert.equal(pct(-0.1234, 1), '-12.3%');
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([]), null);
  assert.match(heatColor(0.05), /^rgba\(22, 163, 74/);
  assert.match(heatColor(-0.05), /^rgba\(220, 38, 38/);
  assert.equal(heatColor(null), 'transparent');
});

test('chunk counts: the API\'s total and succeeded, the other statuses counted from the items', () => {
  const chunks = {
    total: 4, succeeded: 2, items: [
      { id: 13, seq: 0, status: 'succeeded', worker_id: 'a:1', attempts: 1, members: [0, 3] },
      { id: 14, seq: 1, status: 'succeeded', worker_id: 'b:2', attempts: 2, members: [3, 6] },
      { id: 15, seq: 2, status: 'running', worker_id: 'a:1', attempts: 1, members: [6, 8] },
      { id: 16, seq: 3, status: 'queued', worker_id: null, attempts: 0, members: [8, 10] },
    ],
  };
  const c = chunkProgress(chunks);
  assert.equal(c.total, 4);
  assert.equal(c.done, 2);
  assert.deepEqual(c.byStatus, { succeeded: 2, running: 1, queued: 1 });
  assert.equal(c.text, '2 / 4 chunks done');
  // Without the summary fields: counted from the items.
  assert.equal(chunkProgress({ items: chunks.items }).text, '2 / 4 chunks done');
  // Not a split sweep.
  assert.equal(chunkProgress(undefined), null);
  assert.equal(chunkProgress(null), null);
  assert.equal(fmtMembers([25, 50]), '[25, 50)');
  assert.equal(fmtMembers(undefined), '');
});
