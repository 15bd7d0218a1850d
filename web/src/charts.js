// charts.js — uPlot charts: the equity curve with drawdown (and benchmark),
// bar charts (stage timings, feature importance) and time-series lines
// (runtime over time). Each returns the uPlot instance and sets
// data-points on its container (what the browser tests read); charts follow
// their container's width.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { fmtNum, pct } from './format.js';

const COLORS = ['#2563eb', '#d97706', '#059669', '#7c3aed', '#db2777', '#0891b2', '#65a30d', '#dc2626'];

function widthOf(el) {
  return Math.max(320, Math.floor(el.getBoundingClientRect().width || el.clientWidth || 800));
}

function follow(el, chart, height) {
  const ro = new ResizeObserver(() => {
    const w = widthOf(el);
    if (Math.abs(w - chart.width) > 2) chart.setSize({ width: w, height });
  });
  ro.observe(el);
  const destroy = chart.destroy.bind(chart);
  chart.destroy = () => {
    ro.disconnect();
    destroy();
  };
  return chart;
}

// series: {t: seconds[], equity[], drawdown[] (<= 0, fraction), benchmark?: []}
// Drag to zoom (x), double-click to reset.
export function equityChart(el, series, { height = 360 } = {}) {
  const hasBench = Array.isArray(series.benchmark) && series.benchmark.some((v) => v !== null);
  const data = [series.t, series.equity, series.drawdown];
  const s = [
    {},
    { label: 'Equity', scale: 'eq', stroke: COLORS[0], width: 1.5, value: (u, v) => fmtNum(v, 6) },
    {
      label: 'Drawdown', scale: 'dd', stroke: '#dc2626', width: 1, fill: 'rgba(220, 38, 38, 0.15)',
      value: (u, v) => (v === null ? '' : pct(v)),
    },
  ];
  if (hasBench) {
    data.push(series.benchmark);
    s.push({ label: 'Benchmark (universe)', scale: 'eq', stroke: COLORS[1], width: 1, dash: [6, 4], value: (u, v) => fmtNum(v, 6) });
  }
  const opts = {
    width: widthOf(el),
    height,
    cursor: { drag: { x: true, y: false, setScale: true } },
    scales: { x: { time: true }, dd: { range: (u, min) => [Math.min(min, -0.01) * 1.05, 0] } },
    series: s,
    axes: [
      {},
      { scale: 'eq', label: 'Equity', size: 70, values: (u, ticks) => ticks.map((v) => fmtNum(v, 6)) },
      { scale: 'dd', side: 1, label: 'Drawdown', size: 60, grid: { show: false }, values: (u, ticks) => ticks.map((v) => pct(v, 0)) },
    ],
    legend: { live: true },
  };
  const chart = new uPlot(opts, data, el);
  el.dataset.points = String(series.t.length);
  if (series.t.length) {
    el.dataset.from = new Date(series.t[0] * 1000).toISOString().slice(0, 10);
    el.dataset.to = new Date(series.t[series.t.length - 1] * 1000).toISOString().slice(0, 10);
  }
  return follow(el, chart, height);
}

// Vertical bars, one per label; series: [{label, values[]}] (one series:
// a second one would share the axis, so callers draw one chart per unit).
export function barChart(el, labels, series, { height = 260, fmt = (v) => fmtNum(v), xLabel = '' } = {}) {
  const x = labels.map((_, i) => i);
  const bars = uPlot.paths.bars({ size: [0.6, 60], gap: 1 });
  const opts = {
    width: widthOf(el),
    height,
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: false, range: [-0.5, labels.length - 0.5] }, y: { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
    series: [
      { label: xLabel, value: (u, v) => (v === null ? '' : labels[v] ?? '') },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: COLORS[i % COLORS.length],
        fill: COLORS[i % COLORS.length] + 'b0',
        width: 1,
        paths: bars,
        points: { show: false },
        value: (u, v) => (v === null ? '' : fmt(v)),
      })),
    ],
    axes: [
      { splits: () => x, values: (u, ticks) => ticks.map((t) => labels[t] ?? ''), rotate: labels.length > 8 ? -35 : 0, size: labels.length > 8 ? 80 : 40, gap: 4 },
      { values: (u, ticks) => ticks.map((v) => fmt(v)), size: 70 },
    ],
  };
  const chart = new uPlot(opts, [x, ...series.map((s) => s.values)], el);
  el.dataset.points = String(labels.length);
  return follow(el, chart, height);
}

// Lines over time; t: seconds[], series: [{label, values[]}] aligned on t.
export function timeChart(el, t, series, { height = 300, fmt = (v) => fmtNum(v), yLabel = '' } = {}) {
  const opts = {
    width: widthOf(el),
    height,
    cursor: { drag: { x: true, y: false, setScale: true } },
    scales: { x: { time: true } },
    series: [{}, ...series.map((s, i) => ({
      label: s.label,
      stroke: COLORS[i % COLORS.length],
      width: 1.5,
      spanGaps: true,
      points: { show: true, size: 5 },
      value: (u, v) => (v === null ? '' : fmt(v)),
    }))],
    axes: [{}, { label: yLabel, values: (u, ticks) => ticks.map((v) => fmt(v)), size: 70 }],
  };
  const chart = new uPlot(opts, [t, ...series.map((s) => s.values)], el);
  el.dataset.points = String(t.length);
  return follow(el, chart, height);
}
