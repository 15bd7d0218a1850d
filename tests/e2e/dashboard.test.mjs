// dashboard.test.mjs — the dashboard as a user drives it, in headless
// Debian chromium through playwright-core, against the real server and
// worker that run_e2e.sh started (TB_E2E_BASE, with TB_E2E_TOKEN as the
// server's API token). The tests run in order and share one page:
//   1. the page loads from tradebench-server with no script errors;
//   2. without the token, the API's 401 is shown; the token field fixes it;
//   3. a bad backtest form shows the API's field errors next to the fields;
//   4. a backtest (synthetic data, small universe) started from the form
//      reaches succeeded in the runs table; its detail page draws the
//      equity chart (canvas with data points), the monthly heat-map, the
//      orders table (paging, symbol filter), the profile; an artifact
//      downloaded through the browser has the API's bytes;
//   5. EOD_SMALL started from the Start-run panel succeeds;
//   6. a sweep split into chunk runs (chunk_size 2, through the API) shows
//      its chunk table on its detail page, live from queued until every
//      chunk has succeeded, with the API's ranges, workers and attempts; a
//      chunk links back to its sweep;
//   7. the Sweep form: a bad grid entry shows the API's field error beside
//      its grid field; a sweep started from it succeeds and its page shows
//      the ranked members as the API has them (count, the best row, sorting
//      by a column) and a heat-map cell per combination, skipped ones blank
//      with the API's reason;
//   8. a long BACKTEST_MEDIUM shows as running on its detail page and the
//      Cancel button cancels it;
//   9. Models and Performance render (or say "not available yet").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';

const BASE = process.env.TB_E2E_BASE;
const TOKEN = process.env.TB_E2E_TOKEN || '';
const SHOTS = process.env.TB_E2E_SHOTS;
const WEB = process.env.TB_E2E_WEB;
const DOWNLOADS = process.env.TB_E2E_DOWNLOADS || '/tmp/tb-e2e-downloads';
const CHROMIUM = process.env.TB_CHROMIUM || '/usr/bin/chromium';
assert.ok(BASE && WEB, 'run me through tests/e2e/run_e2e.sh');

const require = createRequire(join(WEB, 'package.json'));
const { chromium } = require('playwright-core');

const RUN_TIMEOUT_MS = 180_000; // a run under ASan, queued behind others
let browser;
let page;
const pageErrors = [];
let backtestId = null;

// The API directly (Node's fetch), to compare with what the page shows.
async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (TOKEN) headers.Authorization = `Bearer ${TOKEN}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const buf = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, buf, json: () => JSON.parse(buf.toString('utf8')) };
}

async function shot(name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, name), fullPage: true });
}

// The run id from the form's success message ("... queued as run #ID").
async function queuedId(form) {
  const link = page.locator(`${form} .ok-box a`);
  await link.waitFor({ timeout: 15_000 });
  const m = (await link.textContent()).match(/#(\d+)/);
  assert.ok(m, 'the success message names the run');
  return Number(m[1]);
}

// Wait until the runs table shows run id with a terminal status; return it.
async function waitInTable(id) {
  const row = page.locator(`#runs-table tr[data-run-id="${id}"]`);
  await row.waitFor({ timeout: 15_000 });
  await page.waitForFunction((rid) => {
    const tr = document.querySelector(`#runs-table tr[data-run-id="${rid}"]`);
    return tr && ['succeeded', 'failed', 'cancelled'].includes(tr.dataset.status);
  }, id, { timeout: RUN_TIMEOUT_MS, polling: 250 });
  return row.getAttribute('data-status');
}

before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1360, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) pageErrors.push(m.text());
  });
});

after(async () => {
  await browser?.close();
});

test('the dashboard loads from tradebench-server', async () => {
  const res = await page.goto(`${BASE}/`);
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-type'], /^text\/html/);
  await page.locator('header .brand').waitFor();
  assert.equal(await page.locator('header nav a.active').textContent(), 'Runs');
  await page.locator('#runs-table').waitFor();
  await page.locator('#start-run').waitFor();
  await page.locator('#backtest-form').waitFor();
  // The runs table fills from GET /runs (no error box).
  await page.waitForFunction(() => document.querySelector('#runs-table tbody tr'));
  assert.equal(await page.locator('.table-msg .error-box').count(), 0);
  assert.deepEqual(pageErrors, []);
});

test('mutations without the API token show the 401; the token field fixes it', async () => {
  await page.locator('#start-run select[name=job]').selectOption('EOD_SMALL');
  await page.locator('#start-run input[name=iterations]').fill('0');
  await page.locator('#start-run button[type=submit]').click();
  const box = page.locator('#start-run .form-status .error-box');
  await box.waitFor();
  assert.match(await box.textContent(), /401/);

  await page.locator('#api-token').fill(TOKEN);
  await page.locator('#api-token').press('Enter');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('tradebench.api_token')), TOKEN);
  // Now the API validates the body: iterations 0 is out of range, shown at the field.
  await page.locator('#start-run button[type=submit]').click();
  const err = page.locator('#start-run .field[data-field=iterations] .field-error');
  await page.waitForFunction(() => document.querySelector('#start-run .field[data-field=iterations] .field-error')?.textContent);
  assert.ok((await err.textContent()).length > 0);
  await page.locator('#start-run input[name=iterations]').fill('');
});

test('a bad backtest form shows the API field errors next to the fields', async () => {
  const form = '#backtest-form';
  await page.locator(`${form} select[name=strategy]`).selectOption('trend_baseline');
  await page.locator(`${form} input[name="params.fast"]`).fill('-3');
  await page.locator(`${form} input[name=capital]`).fill('-100');
  await page.locator(`${form} input[name=max_weight]`).fill('2');
  await page.locator(`${form} button[type=submit]`).click();
  await page.locator(`${form} .field.invalid`).first().waitFor();

  // The same body straight to the API: every field error it names is shown
  // beside that field, with the API's message.
  const direct = await api('POST', '/backtests', { strategy: 'trend_baseline', params: { fast: -3 }, capital: -100, max_weight: 2, costs: 'default', data: 'default', freq: '1d' });
  assert.equal(direct.status, 400);
  const problem = direct.json();
  assert.ok(problem.errors.length >= 2, JSON.stringify(problem));
  for (const e of problem.errors) {
    const text = await page.locator(`${form} .field[data-field="${e.field}"] .field-error`).textContent();
    assert.ok(text.includes(e.message), `field ${e.field}: shows "${text}", API says "${e.message}"`);
  }
  for (const f of ['capital', 'max_weight']) {
    assert.ok(problem.errors.some((e) => e.field === f), `the API names ${f}`);
    assert.equal(await page.locator(`${form} .field[data-field=${f}]`).getAttribute('class'), 'field invalid');
  }
  await shot('backtest-form-errors.png');
  // Correct the form for the next test.
  await page.locator(`${form} input[name="params.fast"]`).fill('');
  await page.locator(`${form} input[name=capital]`).fill('');
  await page.locator(`${form} input[name=max_weight]`).fill('');
});

test('a backtest started from the form succeeds; its detail shows chart, orders, profile, artifacts', async () => {
  const form = '#backtest-form';
  await page.locator(`${form} select[name=data]`).selectOption('synthetic');
  await page.locator(`${form} select[name=universe_mode]`).selectOption('universe');
  await page.locator(`${form} input[name=universe]`).fill('12');
  await page.locator(`${form} input[name=capital]`).fill('10000');
  await page.locator(`${form} input[name=seed]`).fill('7');
  await page.locator(`${form} input[name=rebalance_band]`).fill('0.02');
  await page.locator(`${form} button[type=submit]`).click();
  backtestId = await queuedId(form);
  assert.equal(await page.locator(`${form} .field.invalid`).count(), 0);

  const status = await waitInTable(backtestId);
  assert.equal(status, 'succeeded');
  await shot('runs.png');

  await page.locator(`#runs-table tr[data-run-id="${backtestId}"] a`).first().click();
  await page.waitForURL(new RegExp(`#/runs/${backtestId}$`));
  await page.locator('#run-head[data-status=succeeded]').waitFor();
  assert.match(await page.locator('#run-head').textContent(), new RegExp(`Run #${backtestId}`));

  // Metrics table with the §5 names.
  await page.locator('#metrics-table').waitFor({ timeout: 20_000 });
  assert.match(await page.locator('#metrics-table').textContent(), /sharpe/);

  // The equity chart: a uPlot canvas, as many points as the API's curve, pixels drawn.
  const eq = (await api('GET', `/backtests/${backtestId}/equity?limit=5000`)).json();
  assert.ok(eq.items.length > 10);
  const chart = page.locator('#equity-chart');
  await chart.locator('canvas').waitFor();
  assert.equal(Number(await chart.getAttribute('data-points')), eq.items.length);
  const drawn = await page.evaluate(() => {
    const c = document.querySelector('#equity-chart canvas');
    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
    return { w: c.width, h: c.height, n };
  });
  assert.ok(drawn.w > 300 && drawn.h > 200, JSON.stringify(drawn));
  assert.ok(drawn.n > 1000, `the canvas has ${drawn.n} drawn pixels`);
  // A time x axis spanning the curve's dates.
  assert.equal(await chart.getAttribute('data-from'), eq.items[0].ts.slice(0, 10));
  assert.equal(await chart.getAttribute('data-to'), eq.items[eq.items.length - 1].ts.slice(0, 10));

  // Monthly returns heat-map, computed in the browser from the curve.
  assert.ok(await page.locator('#monthly-returns tbody tr').count() >= 1);

  // Orders: the first page matches the API's, the symbol filter narrows it.
  const orders = (await api('GET', `/backtests/${backtestId}/orders?limit=25`)).json();
  assert.ok(orders.items.length > 0, 'the backtest traded');
  await page.locator('#orders-table tbody tr').first().waitFor();
  assert.equal(await page.locator('#orders-table tbody tr').count(), orders.items.length);
  const sym = orders.items[0].symbol;
  await page.locator('#orders input[name=symbol]').fill(sym);
  await page.locator('#orders input[name=symbol]').press('Enter');
  await page.waitForFunction((s) => {
    const cells = [...document.querySelectorAll('#orders-table tbody tr td:nth-child(2)')];
    return cells.length > 0 && cells.every((td) => td.textContent === s);
  }, sym);
  if (orders.next_cursor) {
    await page.locator('#orders input[name=symbol]').fill('');
    await page.locator('#orders input[name=symbol]').press('Enter');
    await page.waitForFunction(() => !document.querySelector('#orders .pager button:last-child').disabled);
    await page.locator('#orders .pager button:last-child').click();
    await page.waitForFunction(() => /page 2/.test(document.querySelector('#orders .filters .muted').textContent));
  }

  // Profile: stage timings chart and peak memory.
  await page.locator('#profile').waitFor();
  assert.match(await page.locator('#peak-rss').textContent(), /[KMG]iB|B$/);
  await page.locator('#stages-chart canvas').waitFor();
  await shot('run-detail.png');

  // Download an artifact through the page; the bytes equal the API's.
  const list = (await api('GET', `/runs/${backtestId}/artifacts`)).json();
  const names = list.items.map((a) => a.name);
  const name = names.find((n) => n.startsWith('orders_')) || names[0];
  assert.ok(name, `artifacts: ${names.join(', ')}`);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator(`#artifacts a[data-artifact="${name}"]`).click(),
  ]);
  mkdirSync(DOWNLOADS, { recursive: true });
  const saved = join(DOWNLOADS, name);
  await download.saveAs(saved);
  const direct = await api('GET', `/runs/${backtestId}/artifacts/${name}`);
  assert.equal(direct.status, 200);
  assert.ok(direct.buf.length > 0);
  assert.ok(readFileSync(saved).equals(direct.buf), `${name}: the browser's download differs from the API's bytes`);
});

test('EOD_SMALL started from the runs page succeeds', async () => {
  await page.goto(`${BASE}/#/runs`);
  await page.locator('#start-run').waitFor();
  await page.locator('#start-run select[name=job]').selectOption('EOD_SMALL');
  await page.locator('#start-run input[name=iterations]').fill('1');
  await page.locator('#start-run input[name=phase]').fill('e2e');
  await page.locator('#start-run button[type=submit]').click();
  const id = await queuedId('#start-run');
  const run = (await api('GET', `/runs/${id}`)).json();
  assert.equal(run.job, 'EOD_SMALL');
  assert.equal(run.phase, 'e2e');
  assert.match(await page.locator(`#runs-table tr[data-run-id="${id}"]`).textContent(), /EOD_SMALL/);
  assert.equal(await waitInTable(id), 'succeeded');
  // The job filter keeps it and drops the custom backtest.
  await page.locator('.filters select[name=job]').selectOption('EOD_SMALL');
  await page.waitForFunction((bt) => !document.querySelector(`#runs-table tr[data-run-id="${bt}"]`), backtestId);
  assert.equal(await page.locator(`#runs-table tr[data-run-id="${id}"]`).count(), 1);
  await page.locator('.filters select[name=job]').selectOption('');
});

test('a split sweep shows its chunks live until all succeeded; a chunk links to its sweep', async () => {
  // 9 valid combinations in chunks of at most 2: 5 chunk runs, which the
  // one worker runs one after another, each waiting TB_TEST_CHUNK_DELAY_MS
  // first (run_e2e.sh), so the page sees the sweep before it is done.
  const res = await api('POST', '/backtests', {
    strategy: 'trend_baseline', data: 'synthetic', universe: 12, last_bars: 300, chunk_size: 2,
    grid: { fast: [5, 10, 20], slow: [30, 60, 90] },
  });
  assert.equal(res.status, 202, res.buf.toString());
  const sweep = res.json();
  assert.equal(sweep.kind, 'sweep');
  assert.equal(sweep.chunks.total, 5, JSON.stringify(sweep.chunks));
  const id = sweep.id;

  await page.goto(`${BASE}/#/runs/${id}`);
  await page.locator('#chunks-table').waitFor({ timeout: 15_000 });
  // Shown while the sweep is still queued or running: every chunk, not all done.
  const first = await page.evaluate(() => ({
    status: document.querySelector('#run-head').dataset.status,
    done: Number(document.querySelector('#chunks-done').dataset.done),
    total: Number(document.querySelector('#chunks-done').dataset.total),
    rows: document.querySelectorAll('#chunks-table tbody tr').length,
  }));
  assert.ok(['queued', 'running'].includes(first.status), JSON.stringify(first));
  assert.equal(first.total, 5);
  assert.equal(first.rows, 5);
  assert.ok(first.done < 5, JSON.stringify(first));

  // The polling brings it to the end without a reload.
  await page.locator('#run-head[data-status=succeeded]').waitFor({ timeout: RUN_TIMEOUT_MS });
  await page.locator('#chunks-done[data-done="5"][data-total="5"]').waitFor();
  assert.match(await page.locator('#chunks-done').textContent(), /5 \/ 5 chunks done/);

  // Row by row, what the API says.
  const now = (await api('GET', `/runs/${id}`)).json();
  assert.equal(now.status, 'succeeded');
  assert.equal(now.chunks.succeeded, 5);
  const rows = await page.evaluate(() => [...document.querySelectorAll('#chunks-table tbody tr')].map((tr) => ({
    id: Number(tr.dataset.chunkId),
    status: tr.dataset.status,
    cells: [...tr.querySelectorAll('td')].map((td) => td.textContent.trim()),
  })));
  assert.equal(rows.length, 5);
  now.chunks.items.forEach((c, k) => {
    const r = rows[k];
    assert.equal(r.id, c.id);
    assert.equal(r.status, 'succeeded');
    assert.deepEqual(r.cells, [`${k + 1} / 5`, `#${c.id}`, `[${c.members[0]}, ${c.members[1]})`, 'succeeded',
      c.worker_id, String(c.attempts)]);
    assert.ok(c.worker_id, `chunk ${c.id} names its worker`);
  });
  // The ranges tile the 9 valid combinations.
  assert.equal(now.chunks.items[0].members[0], 0);
  assert.equal(now.chunks.items[4].members[1], 9);
  for (let k = 1; k < 5; k++) assert.equal(now.chunks.items[k].members[0], now.chunks.items[k - 1].members[1]);
  await shot('sweep-chunks.png');

  // A chunk's page names its place and links back to the sweep.
  const second = now.chunks.items[1];
  await page.locator(`#chunks-table tr[data-chunk-id="${second.id}"] a`).click();
  await page.waitForURL(new RegExp(`#/runs/${second.id}$`));
  await page.locator('#run-head[data-status=succeeded]').waitFor();
  assert.equal((await api('GET', `/runs/${second.id}`)).json().parent_id, id);
  assert.equal(await page.locator('#parent-link').getAttribute('href'), `#/runs/${id}`);
  await page.waitForFunction(() => /chunk 2 of 5/.test(document.querySelector('#run-parent').textContent));
  assert.match(await page.locator('#run-parent').textContent(),
    new RegExp(`sweep #${id} · chunk 2 of 5, members \\[${second.members[0]}, ${second.members[1]}\\)`));
  assert.equal(await page.locator('#sweep-chunks').count(), 0);
  await page.locator('#parent-link').click();
  await page.waitForURL(new RegExp(`#/runs/${id}$`));
  await page.locator('#chunks-done[data-done="5"]').waitFor();

  // The runs list leaves chunks out unless asked for (Kind: sweep_chunk).
  await page.goto(`${BASE}/#/runs`);
  await page.locator(`#runs-table tr[data-run-id="${id}"]`).waitFor({ timeout: 15_000 });
  assert.equal(await page.locator(`#runs-table tr[data-run-id="${second.id}"]`).count(), 0);
  await page.locator('.filters select[name=kind]').selectOption('sweep_chunk');
  await page.locator(`#runs-table tr[data-run-id="${second.id}"]`).waitFor({ timeout: 15_000 });
  assert.match(await page.locator(`#runs-table tr[data-run-id="${second.id}"]`).textContent(), new RegExp(`of #${id}`));
  await page.locator('.filters select[name=kind]').selectOption('');
  assert.deepEqual(pageErrors, []);
});

test('a sweep from the form: a bad grid entry shows the API error; the results match the API', async () => {
  await page.goto(`${BASE}/#/runs`);
  const form = '#sweep-form';
  await page.locator(form).waitFor();
  await page.locator(`${form} select[name=strategy]`).selectOption('trend_baseline');
  await page.locator(`${form} select[name=data]`).selectOption('synthetic');
  await page.locator(`${form} select[name=universe_mode]`).selectOption('universe');
  await page.locator(`${form} input[name=universe]`).fill('12');
  await page.locator(`${form} input[name=last_bars]`).fill('300');
  await page.locator(`${form} input[name="grid.fast"]`).fill('5, 10, x');
  await page.locator(`${form} input[name="grid.slow"]`).fill('30, 60, 90');
  assert.equal(await page.locator('#sweep-size').textContent(), '9 combinations');
  await page.locator(`${form} button[type=submit]`).click();
  await page.locator(`${form} .field.invalid`).first().waitFor();

  // The same body straight to the API: its error names grid.fast[2], shown
  // beside the fast grid field with the API's message; nothing was queued.
  const bad = await api('POST', '/backtests', { strategy: 'trend_baseline', data: 'synthetic', freq: '1d', universe: 12,
    last_bars: 300, grid: { fast: [5, 10, 'x'], slow: [30, 60, 90] } });
  assert.equal(bad.status, 400);
  const problem = bad.json();
  assert.deepEqual(problem.errors.map((e) => e.field), ['grid.fast[2]'], JSON.stringify(problem));
  const shown = await page.locator(`${form} .field[data-field="grid.fast"] .field-error`).textContent();
  assert.equal(shown, `grid.fast[2]: ${problem.errors[0].message}`);
  assert.deepEqual(await page.$$eval(`${form} .field.invalid`, (els) => els.map((e) => e.dataset.field)), ['grid.fast']);
  assert.equal(await page.locator(`${form} .ok-box`).count(), 0);

  // Corrected: 4 x 3 = 12 combinations, of which fast 60 with slow 30 and
  // 60 are skipped (fast < slow); chunk size 5 makes 2 chunk runs.
  await page.locator(`${form} input[name="grid.fast"]`).fill('5,10,20,60');
  assert.equal(await page.locator(`${form} .field.invalid`).count(), 0, 'editing clears the error');
  await page.locator(`${form} input[name=chunk_size]`).fill('5');
  await page.locator(`${form} button[type=submit]`).click();
  const id = await queuedId(form);
  const queued = (await api('GET', `/runs/${id}`)).json();
  assert.equal(queued.kind, 'sweep');
  assert.deepEqual(queued.params.grid, { fast: [5, 10, 20, 60], slow: [30, 60, 90] });
  assert.equal(queued.params.universe, 12);
  assert.equal(queued.chunks.total, 2, JSON.stringify(queued.chunks));

  await page.locator(`${form} .ok-box a`).click();
  await page.waitForURL(new RegExp(`#/runs/${id}$`));
  await page.locator('#run-head[data-status=succeeded]').waitFor({ timeout: RUN_TIMEOUT_MS });
  await page.locator('#sweep-table tbody tr').first().waitFor({ timeout: 20_000 });
  const sweep = (await api('GET', `/backtests/${id}`)).json().sweep;
  assert.ok(sweep, 'GET /backtests/{id} has the sweep');
  assert.deepEqual([sweep.combinations, sweep.members, sweep.skipped], [12, 10, 2]);
  assert.equal(sweep.ranked.length, sweep.members);

  // The ranked table: one row per member, in rank order, the best highlighted
  // and equal to the API's rank 1 value for value.
  const rows = await page.$$eval('#sweep-table tbody tr', (trs) => trs.map((tr) => ({
    rank: Number(tr.dataset.rank), member: Number(tr.dataset.member), best: tr.classList.contains('best'),
    values: Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.dataset.col, td.dataset.value])),
    text: [...tr.querySelectorAll('td')].map((td) => td.textContent),
  })));
  assert.equal(rows.length, sweep.members);
  assert.deepEqual(rows.map((r) => r.rank), sweep.ranked.map((m) => m.rank));
  assert.deepEqual(rows.map((r) => r.best), rows.map((r, k) => k === 0));
  const top = sweep.ranked[0];
  assert.equal(top.rank, 1);
  assert.equal(rows[0].member, top.member);
  assert.deepEqual(rows[0].values, {
    rank: '1', 'param:fast': String(top.params.fast), 'param:slow': String(top.params.slow), sharpe: String(top.sharpe),
    cagr: String(top.cagr), max_drawdown: String(top.max_drawdown), turnover: String(top.turnover),
    total_return: String(top.total_return), n_orders: String(top.n_orders),
  });
  assert.equal(rows[0].text[3], top.sharpe.toFixed(4));
  assert.equal(rows[0].text[4], `${(top.cagr * 100).toFixed(2)}%`);
  assert.match(await page.locator('#sweep-counts').textContent(), /12: 10 run, 2 skipped/);

  // The heat map: fast down, slow across, a cell per combination; each run
  // cell is its member's, the two skipped ones blank with the API's reason.
  assert.deepEqual(await page.$$eval('#sweep-heatmap thead th', (ths) => ths.map((th) => th.textContent)), ['fast \\ slow', '30', '60', '90']);
  assert.deepEqual(await page.$$eval('#sweep-heatmap tbody th', (ths) => ths.map((th) => th.textContent)), ['5', '10', '20', '60']);
  const cells = await page.$$eval('#sweep-heatmap tbody tr', (trs) => trs.flatMap((tr, i) => [...tr.querySelectorAll('td.cell')].map((td, j) => ({
    i, j, member: td.dataset.member, skipped: td.dataset.skipped === 'true', text: td.textContent, title: td.title,
  }))));
  assert.equal(cells.length, sweep.combinations);
  const fast = [5, 10, 20, 60];
  const slow = [30, 60, 90];
  for (const c of cells) {
    const m = sweep.ranked.find((x) => x.params.fast === fast[c.i] && x.params.slow === slow[c.j]);
    if (!m) {
      assert.ok(c.skipped, `fast ${fast[c.i]} slow ${slow[c.j]} has no member: skipped`);
      assert.equal(c.text, '');
      assert.ok(c.title.includes(sweep.skip_reason), c.title);
      continue;
    }
    assert.equal(c.skipped, false);
    assert.equal(Number(c.member), m.member);
    assert.equal(c.text, m.sharpe.toFixed(3));
  }
  assert.equal(cells.filter((c) => c.skipped).length, sweep.skipped);
  assert.equal(await page.locator('#sweep-heatmap td.best').getAttribute('data-member'), String(top.member));
  await shot('sweep-results.png');

  // A click on a column header sorts by it, again the other way; the best
  // row stays highlighted.
  const orders = () => page.$$eval('#sweep-table tbody tr td[data-col=n_orders]', (tds) => tds.map((td) => Number(td.dataset.value)));
  const sorted = sweep.ranked.map((m) => m.n_orders).sort((a, b) => a - b);
  await page.locator('#sweep-table th[data-col=n_orders]').click();
  assert.deepEqual(await orders(), sorted);
  assert.equal(await page.locator('#sweep-table th[data-col=n_orders]').getAttribute('aria-sort'), 'ascending');
  await page.locator('#sweep-table th[data-col=n_orders]').click();
  assert.deepEqual(await orders(), sorted.slice().reverse());
  assert.equal(await page.locator('#sweep-table tr.best').getAttribute('data-rank'), '1');
  await page.locator('#sweep-table th[data-col=rank]').click();
  assert.equal(await page.locator('#sweep-table tbody tr').first().getAttribute('data-rank'), '1');
  assert.deepEqual(pageErrors, []);
});

test('a running BACKTEST_MEDIUM shows its progress and the Cancel button cancels it', async () => {
  await page.goto(`${BASE}/#/runs`);
  await page.locator('#start-run select[name=job]').selectOption('BACKTEST_MEDIUM');
  await page.locator('#start-run input[name=iterations]').fill('100');
  await page.locator('#start-run input[name=phase]').fill('');
  await page.locator('#start-run button[type=submit]').click();
  const id = await queuedId('#start-run');
  await page.locator('#start-run .ok-box a').click();
  await page.waitForURL(new RegExp(`#/runs/${id}$`));
  await page.locator('#run-head[data-status=running]').waitFor({ timeout: 60_000 });
  await page.locator('#run-head .progress').waitFor();
  await page.locator('#cancel-run').click();
  await page.locator('#run-head[data-status=cancelled]').waitFor({ timeout: 60_000 });
  assert.equal((await api('GET', `/runs/${id}`)).json().status, 'cancelled');
  assert.equal(await page.locator('#cancel-run').count(), 0);
});

test('Models and Performance pages render or say they are not available yet', async () => {
  for (const [hash, id] of [['#/models', '#models-table'], ['#/performance', '#profiles-table']]) {
    await page.goto(`${BASE}/${hash}`);
    await page.waitForFunction((sel) => document.querySelector(sel) || document.querySelector('.not-available') ||
      /No (models|profiled runs) yet/.test(document.querySelector('#page').textContent), id, { timeout: 15_000 });
    assert.equal(await page.locator('#page .error-box').count(), 0, `${hash} shows an error`);
  }
  assert.deepEqual(pageErrors, []);
});
