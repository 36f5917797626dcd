// The parts of the end-to-end tests that do not depend on the dashboard: finding the binary,
// child processes that are always killed, bounded waits, a raw HTTP/1.1 client and Chromium.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const E2E_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(E2E_DIR, '..');
export const SCREENSHOTS = process.env.E2E_SCREENSHOTS
  ? resolve(process.env.E2E_SCREENSHOTS)
  : join(E2E_DIR, 'screenshots');

/** The ftheta binary: $FTHETA_BIN, else <repo>/target/debug/ftheta. Throws naming the path if missing. */
export function findBinary() {
  const bin = process.env.FTHETA_BIN ? resolve(process.env.FTHETA_BIN) : join(REPO, 'target', 'debug', 'ftheta');
  if (!existsSync(bin)) {
    throw new Error(
      `the ftheta binary is missing at ${bin}: build it with \`cargo build -p ftheta-cli\` ` +
        '(or set FTHETA_BIN to its path)',
    );
  }
  return bin;
}

// Every child process started by the tests, so that teardown (and process exit) can kill them.
const children = new Set();

process.on('exit', () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

/** Starts a child process that the teardown kills; keeps the tail of its output for error messages. */
export function startChild(bin, args, { cwd } = {}) {
  const child = spawn(bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.output = '';
  const keep = (chunk) => {
    child.output = (child.output + chunk.toString()).slice(-8000);
  };
  child.stderr.on('data', keep);
  child.exited = new Promise((resolvePromise) => {
    child.on('exit', (code, signal) => resolvePromise({ code, signal }));
    child.on('error', (err) => resolvePromise({ code: null, signal: null, error: err }));
  });
  child.exited.then(() => children.delete(child));
  return child;
}

/** Kills a child: `signal` (SIGTERM), then SIGKILL if it has not exited within `graceMs`. */
export async function killChild(child, graceMs = 3000, signal = 'SIGTERM') {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const done = await Promise.race([child.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) {
    child.kill('SIGKILL');
    await Promise.race([child.exited, sleep(graceMs)]);
  }
}

/** Kills every child still running. */
export async function killAllChildren() {
  await Promise.all([...children].map((child) => killChild(child)));
}

/** Runs `bin args` to completion (bounded); throws with its output if it fails. */
export function runSync(bin, args, { timeoutMs = 120_000, cwd } = {}) {
  const result = spawnSync(bin, args, { cwd, encoding: 'utf8', timeout: timeoutMs });
  if (result.error) {
    throw new Error(`${bin} ${args.join(' ')}: ${result.error.message}`);
  }
  if (result.status !== 0) {
    throw new Error(
      `${bin} ${args.join(' ')} exited with ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result;
}

export function sleep(ms) {
  return new Promise((resolvePromise) => setTimeout(resolvePromise, ms));
}

/** Rejects after `ms` with `what` in the message unless `promise` settles first. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `check` (sync or async) until it returns a truthy value; throws after `ms` with `what`. */
export async function waitFor(check, ms, what, intervalMs = 100) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last instanceof Error ? last.message : last})`);
    }
    await sleep(intervalMs);
  }
}

/** The first line a child writes on stdout (bounded); rejects with its stderr if it exits first. */
export function firstLine(child, ms) {
  const lines = createInterface({ input: child.stdout });
  const line = new Promise((resolvePromise, reject) => {
    lines.once('line', (text) => resolvePromise(text));
    child.exited.then(({ code, signal, error }) =>
      reject(new Error(`exited (${error?.message ?? code ?? signal}) before printing a line:\n${child.output}`)),
    );
  });
  return withTimeout(line, ms, 'the first line on stdout').finally(() => {
    // Keep draining stdout so that the child never blocks on a full pipe.
    lines.on('line', (text) => {
      child.output = (child.output + text + '\n').slice(-8000);
    });
  });
}

/** Number of lines of a text file (0 if it does not exist yet). */
export function countLines(path) {
  if (!existsSync(path)) return 0;
  return readFileSync(path, 'utf8').split('\n').filter((line) => line.trim() !== '').length;
}

/**
 * Sends `GET target HTTP/1.1` exactly as given (no normalization of `..` or `%2e`) over a plain socket.
 * Returns {status, headers, body: Buffer, raw: Buffer}. Bounded by `ms`.
 */
export function rawGet(host, port, target, ms = 10_000) {
  return new Promise((resolvePromise, reject) => {
    const socket = net.connect({ host, port });
    const chunks = [];
    let settled = false;
    const finish = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) return reject(err);
      try {
        resolvePromise(parseResponse(Buffer.concat(chunks)));
      } catch (parseErr) {
        reject(new Error(`GET ${target}: ${parseErr.message}`));
      }
    };
    const timer = setTimeout(() => finish(new Error(`GET ${target}: no complete response within ${ms} ms`)), ms);
    socket.on('connect', () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (responseComplete(Buffer.concat(chunks))) finish();
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (err) => finish(new Error(`GET ${target}: ${err.message}`)));
  });
}

function splitHead(raw) {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!match) throw new Error(`not an HTTP response: ${JSON.stringify(lines[0])}`);
  const headers = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(match[1]), headers, rest: raw.subarray(end + 4) };
}

function dechunk(buf) {
  const parts = [];
  let at = 0;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd < 0) return null;
    const size = parseInt(buf.subarray(at, lineEnd).toString('latin1').split(';')[0], 16);
    if (Number.isNaN(size)) throw new Error('bad chunk size');
    if (size === 0) return Buffer.concat(parts);
    const start = lineEnd + 2;
    if (buf.length < start + size + 2) return null;
    parts.push(buf.subarray(start, start + size));
    at = start + size + 2;
  }
}

function responseComplete(raw) {
  const head = splitHead(raw);
  if (!head) return false;
  if (head.headers['content-length'] !== undefined) {
    return head.rest.length >= Number(head.headers['content-length']);
  }
  if (/chunked/i.test(head.headers['transfer-encoding'] ?? '')) return dechunk(head.rest) !== null;
  return false; // read until the server closes
}

function parseResponse(raw) {
  const head = splitHead(raw);
  if (!head) throw new Error(`incomplete response (${raw.length} bytes): ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  let body = head.rest;
  if (head.headers['content-length'] !== undefined) {
    body = body.subarray(0, Number(head.headers['content-length']));
  } else if (/chunked/i.test(head.headers['transfer-encoding'] ?? '')) {
    body = dechunk(body) ?? body;
  }
  return { status: head.status, headers: head.headers, body, raw };
}

/** The tensor names and shapes in a .safetensors file's header (not `__metadata__`). */
export function safetensorsHeader(path) {
  const buf = readFileSync(path);
  const len = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + len).toString('utf8'));
  delete header.__metadata__;
  return header;
}

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Debian's Chromium, headless; never a browser that Playwright downloads. */
export async function launchChromium() {
  const executablePath = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`chromium is missing at ${executablePath}: install it with \`apt-get install chromium\` (or run .ci/e2e)`);
  }
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
}

/** Saves a full-page screenshot to SCREENSHOTS/NAME.png. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true, timeout: 15_000 });
  return path;
}
