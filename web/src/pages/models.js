// pages/models.js — the model registry (GET /models) and one model
// (GET /models/{id}): CV metrics per fold, feature importance (gain and
// permutation) as a bar chart, the feature correlation matrix as a
// heat-map, and the report link. Until the server has these endpoints
// (404), the pages say so and light up by themselves once it does.

import { h, replace, errorBox, table, fmtNum } from '../dom.js';
import { get } from '../api.js';
import { barChart } from '../charts.js';
import { fmtTime, heatColor } from '../format.js';

export function notAvailable(what) {
  return h('section.card.not-available', { dataset: { notAvailable: what } },
    h('h2', what),
    h('p', `${what} is not available yet: this server does not answer its endpoint. `,
      'The page fills in by itself once the server has it.'));
}

function cvSummary(m) {
  const cv = m.cv || m.cv_metrics || {};
  const mean = cv.mean || cv;
  return ['auc', 'logloss', 'accuracy', 'f1'].map((k) => {
    const v = mean[k] ?? m[k];
    return typeof v === 'number' ? `${k} ${fmtNum(v, 3)}` : null;
  }).filter(Boolean).join(' · ');
}

export function mountModels(root) {
  let stopped = false;
  replace(root, h('p.muted', 'Loading models…'));
  get('/models').then((res) => {
    if (stopped) return;
    const items = Array.isArray(res) ? res : res.items || [];
    replace(root, h('section.card', h('h2', 'Models'),
      items.length
        ? table(items, [
          { key: 'id', label: 'Model', fmt: (v) => h('a', { href: `#/models/${v}` }, `#${v}`) },
          { key: 'strategy', label: 'Strategy' },
          { key: 'freq', label: 'Freq' },
          { key: 'cv', label: 'CV (mean)', get: (m) => cvSummary(m) },
          { key: 'created_at', label: 'Created', fmt: fmtTime },
          { key: 'run_id', label: 'Run', fmt: (v) => (v ? h('a', { href: `#/runs/${v}` }, `#${v}`) : '') },
        ], { id: 'models-table' })
        : h('p.muted', 'No models yet: start an ML_JOB on Runs.')));
  }).catch((err) => {
    if (stopped) return;
    replace(root, err.status === 404 || err.status === 405 ? notAvailable('Models') : errorBox(err));
  });
  return () => { stopped = true; };
}

// Importance as [{feature, gain?, permutation?}] from an array or a map.
// GET /models/{id} gives importances: [{feature, gain, total_gain, permutation_mean, permutation_std}].
function importanceRows(m) {
  const fi = m.importances || m.feature_importance || m.importance || [];
  if (Array.isArray(fi)) return fi.map((r) => (r.permutation === undefined && r.permutation_mean !== undefined ? { ...r, permutation: r.permutation_mean } : r));
  return Object.entries(fi).map(([feature, v]) => (typeof v === 'object' ? { feature, ...v } : { feature, gain: v }));
}

export function mountModel(root, [id]) {
  let stopped = false;
  const charts = [];
  replace(root, h('p.muted', 'Loading model…'));
  get(`/models/${id}`).then((m) => {
    if (stopped) return;
    const cv = m.cv || {};
    const folds = cv.folds || m.folds || [];
    const imp = importanceRows(m);
    const features = m.features || imp.map((r) => r.feature);
    // correlation: {features, matrix} from the API (a bare matrix is accepted too)
    const corr = Array.isArray(m.correlation) ? m.correlation : (m.correlation && m.correlation.matrix) || m.correlation_matrix || null;
    // One bar chart per importance kind (gain and permutation have different units).
    const kinds = ['gain', 'permutation'].filter((k) => imp.some((r) => r[k] !== undefined && r[k] !== null));
    const impEls = kinds.map((k) => h('div.chart', { id: `importance-${k}` }));
    replace(root,
      h('p', h('a', { href: '#/models' }, '‹ all models')),
      h('section.card', h('h2', `Model #${m.id ?? id} `, h('span.muted', [m.strategy, m.freq].filter(Boolean).join(' · '))),
        h('p', cvSummary(m), ' ', h('a', { href: `/models/${id}/report`, download: `model_${id}_report.md` }, 'report')),
        m.run_id ? h('p', 'Trained by ', h('a', { href: `#/runs/${m.run_id}` }, `run #${m.run_id}`)) : null),
      folds.length ? h('section.card', h('h3', `Cross-validation${cv.method ? ` (${cv.method})` : ''}`), table(folds)) : null,
      kinds.length ? h('section.card', h('h3', 'Feature importance'), kinds.map((k, i) => [h('h4', k), impEls[i]])) : null,
      Array.isArray(corr) && corr.length ? h('section.card', h('h3', 'Feature correlation'),
        h('div.scroll', h('table.data.heat',
          h('thead', h('tr', h('th', ''), features.map((f) => h('th', f)))),
          h('tbody', corr.map((row, i) => h('tr', h('th', features[i] ?? String(i)),
            row.map((v) => h('td.num', { style: { background: heatColor(v, 1) } }, fmtNum(v, 2))))))))) : null);
    kinds.forEach((k, i) => {
      charts.push(barChart(impEls[i], imp.map((r) => r.feature), [{ label: k, values: imp.map((r) => r[k] ?? null) }], { xLabel: 'feature', height: 220 }));
    });
  }).catch((err) => {
    if (stopped) return;
    replace(root, err.status === 404 && err.type.endsWith('not-found') && /no resource/.test(err.detail) ? notAvailable('Models') : errorBox(err));
  });
  return () => {
    stopped = true;
    for (const c of charts) c.destroy();
  };
}
