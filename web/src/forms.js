// forms.js — form fields that can show the API's field errors. A field is
// a wrapper with data-field="<API field path>" holding a label, a control
// and an error line; showErrors() puts each problem errors[] entry next to
// its field (exact path, else its nearest parent path: grid.fast[1] goes to
// grid.fast), and lists the ones no field claims in the form's general error
// box. Also the universe fields the backtest and sweep forms share.

import { h, replace, errorBox, select } from './dom.js';

export function field(name, label, control, hint) {
  control.name = control.name || name;
  if (!control.id) control.id = `f-${name.replace(/[^a-z0-9_-]/gi, '_')}`;
  const error = h('div.field-error', { role: 'alert', 'aria-live': 'polite' });
  const wrapper = h('div.field', { dataset: { field: name } },
    h('label', { for: control.id }, label),
    control,
    hint ? h('small.hint', hint) : null,
    error);
  // Editing a field clears its error until the next submit.
  control.addEventListener('input', () => {
    wrapper.classList.remove('invalid');
    error.textContent = '';
    const status = wrapper.closest('form')?.querySelector('.form-status');
    if (status && status.querySelector('.error-box') && !status.closest('form').querySelector('.field.invalid')) replace(status);
  });
  return wrapper;
}

export function input(attrs) {
  return h('input', { type: 'text', autocomplete: 'off', ...attrs });
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  for (const el of form.querySelectorAll('.field.invalid')) el.classList.remove('invalid');
  const box = form.querySelector('.form-status');
  if (box) replace(box);
}

// The field for an error's path: the path itself, else its parents, the
// last segment dropped each time (grid.fast[1] -> grid.fast -> grid); the
// first visible one, else the first that exists.
function fieldFor(form, path) {
  const found = [];
  for (let p = path, prev = null; p && p !== prev; prev = p, p = p.replace(/(\.[^.[]*|\[[^\]]*\])$/, '')) {
    const f = form.querySelector(`.field[data-field="${CSS.escape(p)}"]`);
    if (f && f.offsetParent !== null) return f;
    if (f) found.push(f);
  }
  return found[0] || null;
}

// Show an ApiError on the form: field errors next to fields, the rest on top.
export function showErrors(form, err) {
  clearErrors(form);
  const unclaimed = [];
  for (const e of err.errors || []) {
    const f = e.field ? fieldFor(form, e.field) : null;
    if (f) {
      f.classList.add('invalid');
      const line = f.querySelector('.field-error');
      line.textContent = line.textContent ? `${line.textContent}; ${e.message}` : (e.field.includes('.') || e.field.includes('[')) && e.field !== f.dataset.field ? `${e.field}: ${e.message}` : e.message;
    } else {
      unclaimed.push(e);
    }
  }
  const box = form.querySelector('.form-status');
  if (box) {
    replace(box, errorBox(err), unclaimed.length
      ? h('ul.unclaimed', unclaimed.map((e) => h('li', h('code', e.field || '(body)'), ' ', e.message)))
      : null);
  }
  const first = form.querySelector('.field.invalid input, .field.invalid select, .field.invalid textarea');
  if (first) first.focus();
}

export function showOk(form, ...content) {
  const box = form.querySelector('.form-status');
  if (box) replace(box, h('div.ok-box', { role: 'status' }, ...content));
}

// Value of a numeric control: undefined when empty, a number when it parses,
// else the raw text (so the API names the field instead of the browser
// silently dropping it).
export function num(form, name) {
  const el = form.elements[name];
  if (!el) return undefined;
  const raw = String(el.value).trim();
  if (raw === '') return undefined;
  const v = Number(raw);
  return Number.isFinite(v) ? v : raw;
}

export function text(form, name) {
  const el = form.elements[name];
  const raw = el ? String(el.value).trim() : '';
  return raw === '' ? undefined : raw;
}

// Drop undefined members (JSON.stringify would too; this keeps objects tidy).
export function compact(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out;
}

// The universe choice of the backtest and sweep forms: a mode select (first
// N symbols / these symbols) and the field it shows. ids start with prefix
// (several forms on one page). add(form, body) sets body.universe (when
// filled in) or body.symbols (the list, possibly empty: the API says so).
export function universeFields(prefix) {
  const mode = select({ name: 'universe_mode', id: `${prefix}universe_mode` },
    [['universe', 'first N symbols'], ['symbols', 'these symbols']], 'universe');
  const universe = field('universe', 'Universe (N)', input({ id: `${prefix}universe`, inputmode: 'numeric', placeholder: 'all' }));
  const symbols = field('symbols', 'Symbols', h('textarea', { id: `${prefix}symbols`, rows: 2, placeholder: 'AAPL MSFT SYN0001 …' }),
    'separated by spaces or commas');
  const sync = () => {
    universe.hidden = mode.value !== 'universe';
    symbols.hidden = mode.value !== 'symbols';
  };
  mode.addEventListener('change', sync);
  sync();
  return {
    els: [h('div.field', h('label', { for: mode.id }, 'Universe'), mode), universe, symbols],
    add(form, body) {
      if (mode.value === 'universe') {
        const n = num(form, 'universe');
        if (n !== undefined) body.universe = n;
      } else {
        body.symbols = (text(form, 'symbols') || '').split(/[\s,;]+/).filter(Boolean);
      }
      return body;
    },
  };
}
