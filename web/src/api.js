// api.js — the one place the dashboard talks HTTP: same-origin fetch of the
// JSON API, the bearer token from sessionStorage on every request, and
// problem+json errors turned into ApiError (status, title, detail, errors[]).

const TOKEN_KEY = 'tradebench.api_token';

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, problem) {
    const p = problem && typeof problem === 'object' ? problem : {};
    super(p.detail || p.title || `HTTP ${status}`);
    this.status = status;
    this.title = p.title || `HTTP ${status}`;
    this.detail = p.detail || '';
    this.type = p.type || '';
    this.errors = Array.isArray(p.errors) ? p.errors : [];
  }
}

function headers(extra) {
  const h = { Accept: 'application/json', ...extra };
  const token = getToken();
  if (token) h.Authorization = `Bearer ${token}`;
  return h;
}

// request(method, path, body?) -> {status, data, headers}; throws ApiError
// for any non-2xx answer (and for network failures, with status 0).
export async function request(method, path, body) {
  const init = { method, headers: headers(body !== undefined ? { 'Content-Type': 'application/json' } : {}) };
  if (body !== undefined) init.body = JSON.stringify(body);
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { title: 'Network error', detail: `${method} ${path}: ${e.message}` });
  }
  const ct = res.headers.get('content-type') || '';
  let data = null;
  if (res.status !== 204) {
    data = ct.includes('json') ? await res.json().catch(() => null) : await res.text();
  }
  if (!res.ok) {
    throw new ApiError(res.status, data && typeof data === 'object' ? data
      : { title: res.statusText || `HTTP ${res.status}`, detail: typeof data === 'string' ? data.slice(0, 300) : '' });
  }
  return { status: res.status, data, headers: res.headers };
}

export const get = (path) => request('GET', path).then((r) => r.data);
export const post = (path, body) => request('POST', path, body === undefined ? {} : body);

// Query string from an object, skipping empty values.
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

// Every item of a cursor-paginated collection ({items, next_cursor}), up to max.
export async function getAll(path, params = {}, max = 100000) {
  const items = [];
  let cursor;
  for (;;) {
    const page = await get(path + qs({ ...params, cursor }));
    const got = Array.isArray(page) ? page : page.items || [];
    items.push(...got);
    cursor = Array.isArray(page) ? null : page.next_cursor;
    if (!cursor || got.length === 0 || items.length >= max) return items;
  }
}
