// End-to-end tests of the `ftheta serve` dashboard (crates/ftheta-serve/API.md is the contract):
// a real `ftheta serve` on a temporary runs folder, driven by Debian's Chromium through playwright-core.
// Run: `cd e2e && node --test` (after `cargo build -p ftheta-cli`), or `bash .ci/e2e` from the repo root.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  countLines,
  findBinary,
  firstLine,
  killAllChildren,
  killChild,
  launchChromium,
  rawGet,
  runSync,
  safetensorsHeader,
  screenshot,
  startChild,
  waitFor,
  withTimeout,
} from './harness.mjs';

const BROWSER_TEST = { timeout: 90_000 };

describe('ftheta serve dashboard', { timeout: 600_000 }, () => {
  let bin;
  let tmp;
  let runs;
  let server;
  let base; // http://127.0.0.1:PORT
  let host;
  let port;
  let browser;
  let context;
  let live; // the training process of test (c)
  let livePage;

  before(async () => {
    bin = findBinary();
    tmp = mkdtempSync(join(tmpdir(), 'ftheta-e2e-'));
    runs = join(tmp, 'runs');
    runSync(bin, [
      'train', '--data', 'deliveries', '--model', 'linear', '--standardize', '--epochs', '5',
      '--out', join(runs, 'finished'), '--quiet',
    ]);
    server = startChild(bin, ['serve', '--runs', runs, '--port', '0']);
    const line = await firstLine(server, 30_000).catch((err) => {
      throw new Error(`ftheta serve did not start: ${err.message}`);
    });
    const match = /^ftheta serve: (http:\/\/\S+) \(runs from .*\)$/.exec(line.trim());
    assert.ok(match, `unexpected first line of ftheta serve: ${JSON.stringify(line)}`);
    const url = new URL(match[1]);
    base = url.origin;
    host = url.hostname;
    port = Number(url.port);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(20_000);
    context.setDefaultNavigationTimeout(30_000);
  });

  after(async () => {
    try {
      if (browser) await withTimeout(browser.close(), 15_000, 'closing chromium').catch(() => {});
    } finally {
      await killAllChildren();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
  });

  /** A page that records uncaught errors and any request that leaves the server. */
  async function open(path) {
    const page = await context.newPage();
    page.errors = [];
    page.foreign = [];
    page.requested = [];
    page.on('pageerror', (err) => page.errors.push(err.message));
    page.on('request', (req) => {
      const u = req.url();
      page.requested.push(u);
      if (!u.startsWith(base + '/') && !u.startsWith('data:') && !u.startsWith('blob:')) page.foreign.push(u);
    });
    const response = await page.goto(base + path);
    assert.equal(response.status(), 200, `GET ${path}`);
    return page;
  }

  /** No uncaught script error, nothing loaded from outside the server (API.md: "the pages load nothing from the network"). */
  function assertClean(page) {
    assert.deepEqual(page.errors, [], `uncaught errors on ${page.url()}`);
    assert.deepEqual(page.foreign, [], `requests that left the server from ${page.url()}`);
  }

  async function getJson(path) {
    const response = await withTimeout(fetch(base + path), 15_000, `GET ${path}`);
    const text = await response.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      assert.fail(`GET ${path} (${response.status}) is not JSON: ${text.slice(0, 300)}`);
    }
    return { status: response.status, json };
  }

  const seriesNs = (page, svg) =>
    page.$$eval(`${svg} path.series`, (paths) => paths.map((p) => Number(p.getAttribute('data-n'))));

  it('(a) the runs page lists the finished run', BROWSER_TEST, async () => {
    const page = await open('/');
    const row = page.locator('table#runs tbody tr[data-run-id="finished"]');
    await row.waitFor({ state: 'attached' });
    await page.waitForFunction(
      () => document.querySelector('tr[data-run-id="finished"] td.status')?.textContent.trim() === 'finished',
      null,
      { timeout: 15_000 },
    ).catch(() => {});
    assert.equal((await row.locator('td.status').textContent()).trim(), 'finished');
    const href = await row.locator('a.run-link').getAttribute('href');
    assert.equal(new URL(href, base).pathname + new URL(href, base).search, '/run?id=finished');
    assert.equal(await row.locator('input.overlay[type=checkbox][data-run-id="finished"]').count(), 1);
    await screenshot(page, 'runs');
    assertClean(page);
    await page.close();
  });

  it('(b) a run page draws its curve, status and parameters', BROWSER_TEST, async () => {
    const lines = countLines(join(runs, 'finished', 'history.jsonl'));
    assert.ok(lines >= 5, `history.jsonl has ${lines} lines, expected one an epoch (5)`);

    const { status, json: api } = await getJson('/api/run?id=finished');
    assert.equal(status, 200);
    assert.equal(api.id, 'finished');
    assert.equal(api.status, 'finished');
    assert.equal(api.history.length, lines, '/api/run history has one record a line of history.jsonl');
    // The parameters are those of model.safetensors, read here from the file itself.
    const tensors = safetensorsHeader(join(runs, 'finished', 'model.safetensors'));
    const names = Object.keys(tensors).sort();
    assert.deepEqual(api.parameters.map((p) => p.name).sort(), names, '/api/run parameters = the tensors of model.safetensors');
    for (const p of api.parameters) {
      assert.deepEqual(p.shape, tensors[p.name].shape, `shape of ${p.name}`);
      assert.equal(p.numel, p.shape.reduce((a, b) => a * b, 1), `numel of ${p.name}`);
    }
    assert.ok(names.some((n) => /weight/.test(n)) && names.some((n) => /bias/.test(n)), `a linear model has a weight and a bias: ${names}`);

    const page = await open('/run?id=finished');
    await page.waitForSelector('svg#loss-chart path.series', { state: 'attached' });
    await waitFor(async () => (await seriesNs(page, 'svg#loss-chart')).every((n) => n === lines), 15_000, `every curve to have data-n = ${lines}`);
    const ns = await seriesNs(page, 'svg#loss-chart');
    assert.ok(ns.length >= 2, `train and validation loss curves, got ${ns.length}`);
    assert.deepEqual(ns, ns.map(() => lines), 'data-n of each curve = lines of history.jsonl');
    const d = await page.$eval('svg#loss-chart path.series', (p) => p.getAttribute('d') ?? '');
    assert.match(d, /^\s*M/, 'the curve has a path');
    assert.equal((await page.locator('#status').textContent()).trim(), 'finished');
    assert.match(await page.locator('#run-id').textContent(), /finished/);
    const paramText = await page.locator('table#parameters').textContent();
    for (const name of names) assert.ok(paramText.includes(name), `table#parameters names ${name}`);
    const configText = await page.locator('table#config').textContent();
    assert.match(configText, /deliveries/, 'table#config shows the data');
    await screenshot(page, 'run-finished');
    assertClean(page);
    await page.close();
  });

  it('(h) checking two runs overlays their curves', BROWSER_TEST, async () => {
    runSync(bin, [
      'train', '--data', 'deliveries', '--model', 'linear', '--standardize', '--epochs', '3',
      '--lr', '0.001', '--out', join(runs, 'second'), '--quiet',
    ]);
    const page = await open('/');
    await page.locator('tr[data-run-id="second"]').waitFor({ state: 'attached' });
    await page.locator('input.overlay[data-run-id="finished"]').check();
    await page.locator('input.overlay[data-run-id="second"]').check();
    await waitFor(async () => (await page.locator('svg#overlay-chart path.series').count()) === 2, 15_000, 'two curves in svg#overlay-chart');
    await screenshot(page, 'runs-overlay');
    // Regression runs record R² but no accuracy: one metric draws both, the other says so.
    await page.selectOption('#overlay-metric', 'accuracy');
    await waitFor(async () => (await page.locator('svg#overlay-chart path.series').count()) === 0, 15_000, 'no accuracy curves');
    assert.match(await page.locator('svg#overlay-chart').textContent(), /none of these runs records accuracy/);
    await page.selectOption('#overlay-metric', 'r2');
    await waitFor(async () => (await page.locator('svg#overlay-chart path.series').count()) === 2, 15_000, 'two R² curves');
    assertClean(page);
    await page.close();
  });

  it('(c) a curve grows live while a run trains', BROWSER_TEST, async () => {
    const liveDir = join(runs, 'live');
    const history = join(liveDir, 'history.jsonl');
    // Batch size 1, evaluated every 5000 updates: a history line every ~0.2 s here (a few times
    // slower on a busy machine), for far longer than the test.
    live = startChild(bin, [
      'train', '--data', 'deliveries', '--model', 'mlp:64,64', '--standardize', '--optimizer', 'adam',
      '--batch-size', '1', '--updates', '3000000', '--eval-every', '5000', '--out', liveDir, '--quiet',
    ]);
    await waitFor(() => countLines(history) >= 1 || live.exitCode !== null, 30_000, 'the first line of live/history.jsonl');
    assert.equal(live.exitCode, null, `the live training exited early:\n${live.output}`);

    livePage = await open('/run?id=live');
    await livePage.evaluate(() => {
      window.__e2eNotReloaded = true;
    });
    const trainN = async () => (await seriesNs(livePage, 'svg#loss-chart'))[0] ?? 0;
    const n0 = await waitFor(async () => ((await trainN()) >= 2 ? trainN() : 0), 30_000, 'the train-loss curve to have 2 points');
    assert.ok(n0 <= countLines(history), 'no more points than lines written');
    const n1 = await waitFor(async () => ((await trainN()) > n0 ? trainN() : 0), 30_000, `the train-loss curve to grow past ${n0} points without a reload`);
    assert.ok(n1 > n0);
    assert.equal(await livePage.evaluate(() => window.__e2eNotReloaded), true, 'the page was not reloaded');
    assert.equal(live.exitCode, null, 'the training is still running');
    assert.ok(livePage.requested.some((u) => u.startsWith(`${base}/api/run/events?`) && new URL(u).searchParams.get('id') === 'live'),
      `the page follows /api/run/events?id=live (requests: ${livePage.requested.join(', ')})`);
    await waitFor(async () => (await livePage.locator('#status').textContent()).trim() === 'running', 10_000, '#status to read running');
    await screenshot(livePage, 'run-live');
    assertClean(livePage);
  });

  it('(c2) a killed run turns to stopped without a reload', BROWSER_TEST, async () => {
    assert.ok(livePage && live, 'needs test (c)');
    // SIGKILL: the process dies without a word (SIGINT would save a checkpoint: `interrupted`).
    await killChild(live, 5000, 'SIGKILL');
    const { json } = await getJson('/api/run?id=live');
    await waitFor(async () => (await livePage.locator('#status').textContent()).trim() === 'stopped', 30_000,
      `#status to read stopped after the training was killed (the API says ${json.status})`);
    assert.equal(await livePage.evaluate(() => window.__e2eNotReloaded), true, 'the page was not reloaded');
    await screenshot(livePage, 'run-stopped');
    assertClean(livePage);
    await livePage.close();
  });

  /** Waits until the landscape canvas shows a drawn map (many distinct colours). */
  async function waitForLandscape(page) {
    await page.waitForSelector('canvas#landscape');
    await page.waitForFunction(
      () => {
        const c = document.querySelector('canvas#landscape');
        if (!c || c.width < 10 || c.height < 10) return false;
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const colours = new Set();
        const step = 4 * Math.max(1, Math.floor(c.width * c.height / 5000));
        for (let i = 0; i < data.length; i += step) colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
        return colours.size >= 10;
      },
      null,
      { timeout: 30_000, polling: 200 },
    );
  }

  let playPage;

  it('(d) the playground draws a descent path from a click', BROWSER_TEST, async () => {
    playPage = await open('/playground');
    const page = playPage;
    await waitForLandscape(page);
    const w0Before = await page.inputValue('#w0');
    const b0Before = await page.inputValue('#b0');
    const canvas = page.locator('canvas#landscape');
    await canvas.scrollIntoViewIfNeeded();
    const box = await canvas.boundingBox();
    assert.ok(box && box.width > 50 && box.height > 50, `canvas#landscape has a size: ${JSON.stringify(box)}`);
    // A point away from the default start (1, 15) and from the centre.
    const click = { x: box.x + box.width * 0.8, y: box.y + box.height * 0.25 };
    await page.mouse.click(click.x, click.y);

    await waitFor(async () => (await page.inputValue('#w0')) !== w0Before || (await page.inputValue('#b0')) !== b0Before,
      10_000, '#w0/#b0 to change after the click');
    const updates = Number(await page.inputValue('#updates'));
    assert.ok(Number.isInteger(updates) && updates >= 1, `#updates is a count: ${updates}`);
    await waitFor(
      async () => Number(await page.getAttribute('polyline#descent-path', 'data-n')) === updates + 1,
      60_000,
      `polyline#descent-path data-n = updates + 1 = ${updates + 1}`,
    );
    // The path starts where the click was (in viewport pixels).
    const first = await page.$eval('polyline#descent-path', (poly) => {
      const p = poly.points.getItem(0);
      const m = poly.getScreenCTM();
      return { x: m.a * p.x + m.c * p.y + m.e, y: m.b * p.x + m.d * p.y + m.f };
    });
    const tol = Math.max(6, box.width * 0.02);
    assert.ok(Math.abs(first.x - click.x) <= tol && Math.abs(first.y - click.y) <= tol,
      `the path starts at the click: first point ${JSON.stringify(first)}, click ${JSON.stringify(click)}`);
    assert.equal(await page.locator('svg#landscape-overlay polyline#descent-path').count(), 1, 'the path is in svg#landscape-overlay');

    // The same run through the API: the page's start is the path's start.
    const w0 = Number(await page.inputValue('#w0'));
    const b0 = Number(await page.inputValue('#b0'));
    assert.ok(Number.isFinite(w0) && Number.isFinite(b0), `#w0/#b0 are numbers: ${w0}, ${b0}`);
    assert.notEqual(w0, Number(w0Before), '#w0 moved to the click');
    const curve = page.locator('svg#loss-curve path.series');
    await curve.first().waitFor({ state: 'attached' });
    assert.ok(Number(await curve.first().getAttribute('data-n')) >= 2, 'the loss curve has points');
    const message = (await page.locator('#message').textContent()).trim();
    assert.ok(message.length > 0, '#message says how the run went');
    await screenshot(page, 'playground');
    assertClean(page);
  });

  it('(e) divergence shows plainly', BROWSER_TEST, async () => {
    const page = playPage ?? (await open('/playground'));
    await waitForLandscape(page);
    if (await page.isChecked('#standardize')) {
      await page.uncheck('#standardize');
      await waitForLandscape(page);
    }
    const { json: land } = await getJson('/api/playground/landscape?standardize=0');
    assert.ok(land.stable_lr > 0 && land.stable_lr < 10, `stable_lr: ${land.stable_lr}`);
    const lr = Number((land.stable_lr * 3).toPrecision(3));
    // Full-batch gradient descent, so that the bound 2/λ_max applies.
    const batchTag = await page.$eval('#batch', (el) => el.tagName);
    if (batchTag === 'SELECT') {
      const value = await page.$eval('#batch', (el) => [...el.options].find((o) => /full/i.test(o.value + o.textContent))?.value);
      assert.ok(value !== undefined, 'select#batch offers full');
      await page.selectOption('#batch', value);
    } else {
      await page.fill('#batch', 'full');
    }
    await page.fill('#lr', String(lr));
    await page.click('button#run');
    await waitFor(async () => (await page.getAttribute('#message', 'class') ?? '').split(/\s+/).includes('diverged'), 30_000,
      `#message to get class diverged with lr ${lr} > 2/λ_max = ${land.stable_lr}`);
    assert.match(await page.locator('#message').textContent(), /diverged/i);
    // The same run through the API says where it diverged; the page draws the path up to there.
    const q = new URLSearchParams({
      w: await page.inputValue('#w0'), b: await page.inputValue('#b0'), lr: String(lr),
      updates: await page.inputValue('#updates'), batch: 'full', standardize: '0',
    });
    const { status, json: run } = await getJson(`/api/playground/run?${q}`);
    assert.equal(status, 200, `/api/playground/run?${q}`);
    assert.equal(run.diverged, true, `the API run diverges too: ${run.message}`);
    assert.equal(run.path.length, run.diverged_at + 1);
    assert.match(await page.locator('#message').textContent(), new RegExp(`\\b${run.diverged_at}\\b`), 'the message gives the update');
    await waitFor(async () => Number(await page.getAttribute('polyline#descent-path', 'data-n')) === run.path.length, 30_000,
      `polyline#descent-path data-n = ${run.path.length} (diverged at update ${run.diverged_at})`);
    await waitFor(async () => Number(await page.getAttribute('svg#loss-curve path.series', 'data-n')) === run.loss.length, 10_000,
      `the loss curve to have ${run.loss.length} points`);
    await screenshot(page, 'playground-diverged');
    assertClean(page);
  });

  it('(f) paths that leave the runs folder are refused', { timeout: 60_000 }, async () => {
    const targets = [
      '/runs/../../etc/passwd',
      '/runs/%2e%2e/%2e%2e/etc/passwd',
      '/runs/..%2f..%2fetc%2fpasswd',
      '/runs/%2e%2e%5c..%5cetc%5cpasswd',
      '/runs/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/assets/../Cargo.toml',
      '/assets/%2e%2e/%2e%2e/%2e%2e/Cargo.toml',
      '/api/run?id=../..',
      '/api/run?id=..%2f..%2f..',
      '/api/run/events?id=../..',
    ];
    for (const target of targets) {
      const res = await rawGet(host, port, target);
      const text = res.raw.toString('latin1');
      assert.notEqual(res.status, 200, `GET ${target} must not succeed:\n${text.slice(0, 300)}`);
      assert.ok(!text.includes('root:'), `GET ${target} leaks /etc/passwd`);
      assert.ok(!text.includes('[workspace]'), `GET ${target} leaks Cargo.toml`);
    }
    const ok = await rawGet(host, port, '/runs/finished/history.jsonl');
    assert.equal(ok.status, 200, 'GET /runs/finished/history.jsonl');
    assert.ok(ok.body.equals(readFileSync(join(runs, 'finished', 'history.jsonl'))), 'the file as it is, byte for byte');
    const missing = await rawGet(host, port, '/api/run?id=no-such-run');
    assert.equal(missing.status, 404, 'an unknown run is a 404');
  });

  it('(g) a bad playground value is a 400 naming it', BROWSER_TEST, async () => {
    for (const [query, name] of [['updates=1000000', 'updates'], ['lr=-1', 'lr'], ['batch=0', 'batch'], ['w=nan', 'w']]) {
      const { status, json } = await getJson(`/api/playground/run?${query}`);
      assert.equal(status, 400, `/api/playground/run?${query}`);
      assert.equal(typeof json.error, 'string', `{"error": ...} for ${query}`);
      assert.match(json.error, new RegExp(`\\b${name}\\b`), `the error for ${query} names ${name}: ${json.error}`);
    }
    // The page shows it too.
    const page = playPage ?? (await open('/playground'));
    await page.fill('#lr', '0.01');
    await page.fill('#updates', '1000000');
    await page.click('button#run');
    await waitFor(async () => (await page.getAttribute('#message', 'class') ?? '').split(/\s+/).includes('error'), 15_000,
      '#message to get class error for updates=1000000');
    assert.match(await page.locator('#message').textContent(), /updates/);
    await screenshot(page, 'playground-error');
    assertClean(page);
    await page.close();
  });
});
