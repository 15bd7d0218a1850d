// dom.js — a tiny element builder (no framework): h('tag.class', attrs, ...children).
// attrs: on<event> handlers, dataset: {...}, style: 'css' or {...}, anything
// else as an attribute (false/null/undefined omitted). Children: nodes,
// strings, numbers, arrays, null (skipped).

export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k === 'class') el.className = [el.className, v].filter(Boolean).join(' ');
    else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// A select whose options are [value, label] pairs or plain values.
export function select(attrs, options, selected) {
  return h('select', attrs, options.map((o) => {
    const [value, label] = Array.isArray(o) ? o : [o, o];
    return h('option', { value, selected: String(value) === String(selected ?? '') }, label);
  }));
}

// A problem (ApiError) as a message box.
export function errorBox(err) {
  if (!err) return null;
  const detail = err.detail && err.detail !== err.title ? err.detail : '';
  return h('div.error-box', { role: 'alert' },
    h('strong', err.status ? `${err.status} ${err.title}` : err.title || 'Error'),
    detail ? h('div', detail) : null);
}

// Generic table from items: columns [{key, label, fmt?, cls?}] or inferred
// from the scalar keys of the items.
export function table(items, columns, attrs = {}) {
  const cols = columns || inferColumns(items);
  return h('table.data', attrs,
    h('thead', h('tr', cols.map((c) => h('th', c.label ?? c.key)))),
    h('tbody', items.map((it) => h('tr', cols.map((c) => {
      const v = typeof c.get === 'function' ? c.get(it) : it[c.key];
      const shown = c.fmt ? c.fmt(v, it) : v;
      return h('td', { class: c.cls }, shown instanceof Node ? shown : shown ?? '');
    })))));
}

export function inferColumns(items) {
  const keys = [];
  for (const it of items.slice(0, 50)) {
    for (const [k, v] of Object.entries(it)) {
      if (!keys.includes(k) && (v === null || typeof v !== 'object')) keys.push(k);
    }
  }
  return keys.map((key) => ({ key, label: key, fmt: (v) => (typeof v === 'number' ? fmtNum(v) : v) }));
}

export function fmtNum(v, digits = 4) {
  if (v === null || v === undefined || v === '') return '';
  if (typeof v !== 'number') return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a >= 1000) return v.toLocaleString('en-US', { maximumFractionDigits: 2 });
  return Number(v.toPrecision(digits)).toString();
}
