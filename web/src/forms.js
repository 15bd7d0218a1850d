// forms.js — form fields that can show the API's field errors. A field is
// a wrapper with data-field="<API field path>" holding a label, a control
// and an error line; showErrors() puts each problem errors[] entry next to
// its field (exact path, else the path up to the first '.' or '['), and
// lists the ones no field claims in the form's general error box.

import { h, replace, errorBox } from './dom.js';

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

function fieldFor(form, path) {
  const exact = form.querySelector(`.field[data-field="${CSS.escape(path)}"]`);
  if (exact && exact.offsetParent !== null) return exact;
  const base = path.split(/[.[]/)[0];
  const byBase = form.querySelector(`.field[data-field="${CSS.escape(base)}"]`);
  return byBase && byBase.offsetParent !== null ? byBase : exact || byBase;
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
