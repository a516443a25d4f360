// Serving the repository to a headless Chromium with WebGPU, for browser tests and local demos.
//
//   import { startServer, launchChromium, openPage } from './harness.mjs';
//   const server = await startServer();                    // repository root at /, ../shared at /shared/ (read-only)
//   const chromium = await launchChromium();               // headless /usr/bin/chromium, WebGPU on SwiftShader
//   const page = await openPage(chromium.browser, `${server.url}/tests/browser/pages/blank.html`);
//   const result = await page.evaluate(() => navigator.gpu !== undefined);
//   await chromium.close(); await server.close();
//
// From a shell, `node tests/browser/harness.mjs [port]` serves the repository until interrupted (open the
// printed URL in a browser). Every response carries COOP/COEP, so pages are cross-origin isolated
// (SharedArrayBuffer, WebAssembly threads); files are served with HTTP Range support (GGUF streaming).
// Environment: TABLLM_CHROMIUM (browser binary, default /usr/bin/chromium), TABLLM_SHARED (the shared data
// folder, default ../shared), TABLLM_CHROMIUM_ARGS (extra flags, space-separated).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedRoot = path.resolve(process.env.TABLLM_SHARED ?? path.join(repoRoot, '../shared'));
export const CHROMIUM = process.env.TABLLM_CHROMIUM ?? '/usr/bin/chromium';

// WebGPU on the CPU: Chromium's own SwiftShader Vulkan driver. On a machine with a GPU these flags still
// select SwiftShader, so results do not depend on the host's driver.
export const WEBGPU_SWIFTSHADER_ARGS = [
  '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader',
];

const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8', '.jsonl': 'application/jsonl; charset=utf-8',
  '.wasm': 'application/wasm', '.txt': 'text/plain; charset=utf-8', '.md': 'text/markdown; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.map': 'application/json; charset=utf-8',
  '.wgsl': 'text/plain; charset=utf-8', '.gguf': 'application/octet-stream', '.bin': 'application/octet-stream',
};

const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-cache',
};

/** Parses one `bytes=` range against a file of `size` bytes: {start, end} (inclusive), or null when unsatisfiable. */
export function parseRange(header, size) {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start;
  let end;
  if (m[1] === '') {  // suffix: the last N bytes
    const n = Number(m[2]);
    if (n === 0) return null;
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return null;
  return { start, end };
}

/** The file a URL path names under one of the mounts, or null when it escapes them. */
function resolvePath(urlPath, mounts) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  for (const [prefix, dir] of mounts) {
    if (decoded !== prefix.slice(0, -1) && !decoded.startsWith(prefix)) continue;
    const file = path.resolve(dir, '.' + decoded.slice(prefix.length - 1));
    if (file !== dir && !file.startsWith(dir + path.sep)) return null;
    return file;
  }
  return null;
}

/**
 * Starts the static server on 127.0.0.1.
 * @param {{root?: string, shared?: string|false, mounts?: Record<string, string>, port?: number,
 *   log?: (line: string) => void}} [options] root: served at `/`; shared: served at `/shared/` (false: not
 *   served); mounts: more folders by URL prefix ({'/models/': dir}); port 0 picks a free one.
 * @returns {Promise<{url: string, port: number, server: http.Server, close: () => Promise<void>}>}
 */
export async function startServer({ root = repoRoot, shared = sharedRoot, mounts: extra = {}, port = 0, log = null } = {}) {
  const mounts = [];
  for (const [prefix, dir] of Object.entries(extra)) mounts.push([prefix.endsWith('/') ? prefix : `${prefix}/`, path.resolve(dir)]);
  if (shared && fs.existsSync(shared)) mounts.push(['/shared/', path.resolve(shared)]);
  mounts.push(['/', path.resolve(root)]);

  const server = http.createServer((req, res) => {
    const send = (status, body, headers = {}) => {
      res.writeHead(status, { ...ISOLATION_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'read-only server: GET and HEAD only\n', { Allow: 'GET, HEAD' });
    const urlPath = new URL(req.url, 'http://localhost').pathname;
    let file = resolvePath(urlPath, mounts);
    if (!file) return send(403, `forbidden: ${urlPath}\n`);
    let stat;
    try {
      stat = fs.statSync(file);
      if (stat.isDirectory()) {
        file = path.join(file, 'index.html');
        stat = fs.statSync(file);
      }
    } catch {
      log?.(`404 ${urlPath}`);
      return send(404, `not found: ${urlPath}\n`);
    }
    const type = MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
    const headers = { 'Content-Type': type, 'Accept-Ranges': 'bytes' };
    let start = 0;
    let end = stat.size - 1;
    let status = 200;
    if (req.headers.range) {
      const range = parseRange(req.headers.range, stat.size);
      if (!range) return send(416, `unsatisfiable range ${req.headers.range} for ${stat.size} bytes\n`, { 'Content-Range': `bytes */${stat.size}` });
      ({ start, end } = range);
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${stat.size}`;
    }
    headers['Content-Length'] = String(Math.max(0, end - start + 1));
    res.writeHead(status, { ...ISOLATION_HEADERS, ...headers });
    if (req.method === 'HEAD' || stat.size === 0) return res.end();
    const stream = fs.createReadStream(file, { start, end });
    stream.on('error', (e) => res.destroy(e));
    stream.pipe(res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actual = server.address().port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    server,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}

/**
 * Launches headless Chromium with WebGPU on SwiftShader through playwright-core (never downloads a browser).
 * @param {{executablePath?: string, headless?: boolean, args?: string[]}} [options]
 * @returns {Promise<{browser: import('playwright-core').Browser, close: () => Promise<void>}>}
 */
export async function launchChromium({ executablePath = CHROMIUM, headless = true, args = [] } = {}) {
  if (!fs.existsSync(executablePath)) {
    throw new Error(`Chromium is missing at ${executablePath}: install it (apt-get install chromium, or scripts/setup.sh) or set TABLLM_CHROMIUM to a Chromium binary`);
  }
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new Error(`the npm package "playwright-core" is not installed (npm ci at the repository root): ${e.message}`);
  }
  const extra = (process.env.TABLLM_CHROMIUM_ARGS ?? '').split(/\s+/).filter(Boolean);
  // --no-sandbox: CI containers often run as root, where Chromium refuses to start sandboxed.
  const browser = await chromium.launch({
    executablePath, headless, args: [...WEBGPU_SWIFTSHADER_ARGS, '--no-sandbox', ...args, ...extra],
  });
  return { browser, close: () => browser.close() };
}

/**
 * Opens `url` in a fresh page whose console errors, warnings and uncaught exceptions are forwarded to this
 * process's stderr (prefixed with [page]), so a failing browser test shows what the page said.
 * @param {import('playwright-core').Browser} browser
 * @param {string} url
 * @param {{forward?: (line: string) => void, timeout?: number}} [options]
 */
export async function openPage(browser, url, { forward = (line) => process.stderr.write(`${line}\n`), timeout = 0 } = {}) {
  const page = await browser.newPage();
  page.setDefaultTimeout(timeout);
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') forward(`[page ${msg.type()}] ${msg.text()}`);
  });
  page.on('pageerror', (error) => forward(`[page exception] ${error.stack ?? error.message}`));
  page.on('crash', () => forward('[page] the page crashed'));
  const response = await page.goto(url);
  if (response && !response.ok()) throw new Error(`${url}: HTTP ${response.status()}`);
  return page;
}

/**
 * Answers a browser context's requests to huggingface.co from `files` (URL path → bytes), with range requests
 * and the CORS headers Hugging Face sends (a path not in `files` is its 404), so that a page loads an `hf:`
 * model through its real URL from a local file.
 * @param {import('playwright-core').BrowserContext} context
 * @param {Record<string, Buffer>} files
 * @returns {Promise<{path: string, method: string, range: string|null}[]>} the requests, as they come
 */
export async function routeHuggingFace(context, files) {
  const requests = [];
  await context.route('https://huggingface.co/**', async (route) => {
    const request = route.request();
    const url = new URL(request.url());
    requests.push({ path: url.pathname, method: request.method(), range: request.headers().range ?? null });
    const cors = {
      'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': 'Range, If-Range', 'Access-Control-Allow-Methods': 'GET, HEAD',
      'Access-Control-Expose-Headers': 'Content-Range, Content-Length, ETag, Accept-Ranges', 'Cross-Origin-Resource-Policy': 'cross-origin',
    };
    if (request.method() === 'OPTIONS') return route.fulfill({ status: 204, headers: cors });
    const body = files[url.pathname];
    if (!body) return route.fulfill({ status: 404, headers: { ...cors, 'Content-Type': 'text/plain' }, body: 'Entry not found' });
    const m = /^bytes=(\d+)-(\d*)$/.exec(request.headers().range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m && m[2] ? Math.min(Number(m[2]), body.length - 1) : body.length - 1;
    const headers = { ...cors, 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', ETag: `"${url.pathname.split('/').pop()}-${body.length}"` };
    if (m) headers['Content-Range'] = `bytes ${start}-${end}/${body.length}`;
    return route.fulfill({ status: m ? 206 : 200, headers, body: body.subarray(start, end + 1) });
  });
  return requests;
}

// `node tests/browser/harness.mjs [port]`: serve the repository for manual use.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const server = await startServer({ port: Number(process.argv[2] ?? 8080), log: (l) => console.error(l) });
  console.log(`serving ${repoRoot} at ${server.url}/ (../shared at ${server.url}/shared/), cross-origin isolated; Ctrl-C stops`);
}
