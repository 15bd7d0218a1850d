// main.js — the dashboard shell: header with navigation and the API token
// field, and a hash router (#/runs, #/runs/ID, #/models, #/models/ID,
// #/performance). Each page is mount(el, params) -> cleanup(); the cleanup
// stops its polling and destroys its charts when the route changes.

import './style.css';
import { h, replace } from './dom.js';
import { getToken, setToken } from './api.js';
import { mountRuns } from './pages/runs.js';
import { mountRun } from './pages/run.js';
import { mountModels, mountModel } from './pages/models.js';
import { mountPerformance } from './pages/performance.js';

const routes = [
  [/^#?\/?$/, () => mountRuns],
  [/^#\/runs\/?$/, () => mountRuns],
  [/^#\/runs\/(\d+)$/, () => mountRun],
  [/^#\/models\/?$/, () => mountModels],
  [/^#\/models\/(\d+)$/, () => mountModel],
  [/^#\/performance\/?$/, () => mountPerformance],
];

function tokenField() {
  const input = h('input', {
    id: 'api-token', type: 'password', placeholder: 'API token (if the server has one)',
    autocomplete: 'off', value: getToken(), 'aria-label': 'API token',
  });
  const state = h('span.token-state', getToken() ? 'set' : '');
  const save = () => {
    setToken(input.value.trim());
    state.textContent = input.value.trim() ? 'set' : '';
  };
  input.addEventListener('change', save);
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') save(); });
  return h('form.token', { onsubmit: (e) => { e.preventDefault(); save(); } },
    h('label', { for: 'api-token' }, 'Token'), input, state);
}

function layout() {
  const nav = h('nav',
    h('a', { href: '#/runs', dataset: { nav: 'runs' } }, 'Runs'),
    h('a', { href: '#/models', dataset: { nav: 'models' } }, 'Models'),
    h('a', { href: '#/performance', dataset: { nav: 'performance' } }, 'Performance'),
    h('a', { href: '/openapi.json', target: '_blank', rel: 'noopener' }, 'API'));
  const main = h('main', { id: 'page' });
  const app = document.getElementById('app');
  replace(app,
    h('header', h('a.brand', { href: '#/runs' }, 'tradebench'), nav, tokenField()),
    main);
  return { nav, main };
}

let cleanup = null;

function route(shell) {
  const hash = location.hash || '#/runs';
  if (cleanup) {
    try { cleanup(); } catch (e) { console.error(e); }
    cleanup = null;
  }
  const section = (hash.match(/^#\/(\w+)/) || [null, 'runs'])[1];
  for (const a of shell.nav.querySelectorAll('a[data-nav]')) a.classList.toggle('active', a.dataset.nav === section);
  for (const [re, page] of routes) {
    const m = hash.match(re);
    if (m) {
      replace(shell.main);
      cleanup = page()(shell.main, m.slice(1)) || null;
      window.scrollTo(0, 0);
      return;
    }
  }
  replace(shell.main, h('section.card', h('h2', 'Not found'), h('p', `Nothing at ${hash}. `, h('a', { href: '#/runs' }, 'Runs'))));
}

const shell = layout();
window.addEventListener('hashchange', () => route(shell));
route(shell);
