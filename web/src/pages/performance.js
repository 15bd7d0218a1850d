// pages/performance.js — the performance tracking table (GET /profiles):
// run history per job and phase, and the median wall time of each
// (job, phase) over time as a chart. Says "not available yet" until the
// server has the endpoint.

import { h, replace, errorBox, table, fmtNum } from '../dom.js';
import { getAll } from '../api.js';
import { timeChart } from '../charts.js';
import { fmtTime, fmtDuration, fmtBytes, toSec } from '../format.js';
import { notAvailable } from './models.js';

function wallOf(p) {
  return Number(p.median_wall_seconds ?? p.wall_seconds ?? (p.median && p.median.wall_seconds));
}

export function mountPerformance(root) {
  let stopped = false;
  const charts = [];
  replace(root, h('p.muted', 'Loading profiles…'));
  getAll('/profiles', {}, 5000).then((items) => {
    if (stopped) return;
    if (!items.length) {
      replace(root, h('section.card', h('h2', 'Performance'), h('p.muted', 'No profiled runs yet.')));
      return;
    }
    // One series per (job, phase); x = when the run finished.
    const keyOf = (p) => [p.job || p.kind || 'run', p.phase || '—'].join(' / ');
    const pts = items.map((p) => ({ key: keyOf(p), t: toSec(p.finished_at ?? p.created_at ?? p.started_at), wall: wallOf(p) }))
      .filter((p) => p.t !== null && Number.isFinite(p.wall))
      .sort((a, b) => a.t - b.t);
    const keys = [...new Set(pts.map((p) => p.key))];
    const t = [...new Set(pts.map((p) => p.t))];
    const series = keys.map((k) => ({
      label: k,
      values: t.map((x) => {
        const p = pts.find((q) => q.key === k && q.t === x);
        return p ? p.wall : null;
      }),
    }));
    const el = h('div.chart', { id: 'runtime-chart' });
    replace(root,
      h('section.card', h('h2', 'Runtime over time'), h('p.muted', 'median wall seconds per run, by job / phase'), el),
      h('section.card', h('h2', 'Profiles'), h('div.scroll', table(items, [
        { key: 'run_id', label: 'Run', get: (p) => p.run_id ?? p.id, fmt: (v) => (v ? h('a', { href: `#/runs/${v}` }, `#${v}`) : '') },
        { key: 'job', label: 'Job', get: (p) => p.job || p.kind },
        { key: 'phase', label: 'Phase' },
        { key: 'iterations', label: 'Iterations' },
        { key: 'wall', label: 'Median wall', get: wallOf, fmt: (v) => fmtDuration(v) },
        { key: 'cpu', label: 'Median CPU', get: (p) => Number(p.median_cpu_seconds ?? p.cpu_seconds ?? (p.median && p.median.cpu_seconds)), fmt: (v) => fmtDuration(v) },
        { key: 'rss', label: 'Peak memory', get: (p) => Number(p.peak_rss_bytes ?? (p.median && p.median.peak_rss_bytes)), fmt: (v) => fmtBytes(v) },
        { key: 'finished_at', label: 'Finished', fmt: fmtTime },
      ], { id: 'profiles-table' }))));
    if (t.length) charts.push(timeChart(el, t, series, { fmt: (v) => fmtNum(v, 3), yLabel: 'seconds' }));
  }).catch((err) => {
    if (stopped) return;
    replace(root, err.status === 404 || err.status === 405 ? notAvailable('Performance') : errorBox(err));
  });
  return () => {
    stopped = true;
    for (const c of charts) c.destroy();
  };
}
