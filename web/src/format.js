// format.js — number, time and duration formatting, and the analytics the
// dashboard computes in the browser (monthly returns from an equity curve,
// a split sweep's chunk counts).

import { fmtNum } from './dom.js';

export { fmtNum };

export const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

export function pct(v, digits = 2) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '';
  return `${(v * 100).toFixed(digits)}%`;
}

// Seconds since the epoch from an API timestamp: ISO text, a date, or a number.
export function toSec(ts) {
  if (ts === null || ts === undefined || ts === '') return null;
  if (typeof ts === 'number') return ts > 1e11 ? ts / 1000 : ts;
  // PostgreSQL's text form ("2020-01-02 00:00:00+00") made ISO 8601.
  const s = String(ts).replace(/^(\d{4}-\d{2}-\d{2}) (\d)/, '$1T$2').replace(/(T\d\d:\d\d(?::\d\d(?:\.\d+)?)?)([+-]\d\d)(\d\d)?$/, (m, t, h, mm) => `${t}${h}:${mm || '00'}`);
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? null : ms / 1000;
}

export function fmtTime(ts) {
  const s = toSec(ts);
  if (s === null) return '';
  const d = new Date(s * 1000);
  return d.toISOString().replace('T', ' ').slice(0, 19);
}

export function fmtDate(ts) {
  const s = toSec(ts);
  return s === null ? '' : new Date(s * 1000).toISOString().slice(0, 10);
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - m * 60);
  if (m < 60) return `${m} min ${s} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

// A run's duration: finished - started, or now - started while running.
export function runDuration(run) {
  const a = toSec(run.started_at);
  if (a === null) return null;
  const b = toSec(run.finished_at) ?? Date.now() / 1000;
  return Math.max(0, b - a);
}

export function fmtBytes(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

// Metric names (SPEC §5) that read best as percentages.
const PCT_METRICS = new Set(['total_return', 'cagr', 'volatility', 'max_drawdown', 'turnover', 'exposure', 'hit_rate']);

export function fmtMetric(name, v) {
  if (v === null || v === undefined) return '—';
  if (typeof v !== 'number') return String(v);
  if (PCT_METRICS.has(name)) return pct(v);
  return fmtNum(v);
}

// Monthly returns from an equity curve [{t (seconds), equity}], sorted by t:
// each month's last equity over the previous month's last (the first month
// over the curve's first point). Returns {years: [{year, months[12], total}]}.
export function monthlyReturns(points) {
  const byMonth = new Map(); // 'YYYY-MM' -> last equity
  let first = null;
  for (const p of points) {
    if (p.t === null || !Number.isFinite(p.equity)) continue;
    if (first === null) first = p.equity;
    const d = new Date(p.t * 1000);
    byMonth.set(`${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`, p.equity);
  }
  const years = new Map();
  let prev = first;
  for (const [key, last] of byMonth) {
    const [y, m] = key.split('-').map(Number);
    if (!years.has(y)) years.set(y, { year: y, months: new Array(12).fill(null), start: prev, end: last });
    const row = years.get(y);
    row.months[m - 1] = prev > 0 ? last / prev - 1 : null;
    row.end = last;
    prev = last;
  }
  return {
    years: [...years.values()].map((r) => ({ year: r.year, months: r.months, total: r.start > 0 ? r.end / r.start - 1 : null })),
  };
}

// Background colour for a return in a heat-map cell (green up, red down).
export function heatColor(r, scale = 0.1) {
  if (r === null || r === undefined || !Number.isFinite(r)) return 'transparent';
  const a = Math.min(1, Math.abs(r) / scale) * 0.75 + 0.08;
  return r >= 0 ? `rgba(22, 163, 74, ${a.toFixed(3)})` : `rgba(220, 38, 38, ${a.toFixed(3)})`;
}

export function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// A split sweep's `chunks` object (GET /runs/{id}: {total, succeeded,
// items: [{id, seq, status, worker_id, attempts, members: [lo, hi)}]}) as
// counts: {total, done, byStatus: {status: n}, text: "3 / 8 chunks done"}.
// null when the run has no chunks (not a sweep, or one that was not split).
export function chunkProgress(chunks) {
  if (!chunks || typeof chunks !== 'object') return null;
  const items = Array.isArray(chunks.items) ? chunks.items : [];
  const byStatus = {};
  for (const c of items) byStatus[c.status] = (byStatus[c.status] || 0) + 1;
  const total = Number.isFinite(chunks.total) ? chunks.total : items.length;
  const done = Number.isFinite(chunks.succeeded) ? chunks.succeeded : byStatus.succeeded || 0;
  return { total, done, byStatus, text: `${done} / ${total} chunks done` };
}

// A chunk's member range [lo, hi) (valid combinations in grid order) as
// "[lo, hi)"; '' when absent.
export function fmtMembers(m) {
  if (!Array.isArray(m) || m.length !== 2) return '';
  return `[${m[0]}, ${m[1]})`;
}
