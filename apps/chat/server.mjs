// Serves the built chat demo (build/chat) on localhost, cross-origin isolated (COOP/COEP: WebAssembly
// threads need SharedArrayBuffer), with HTTP range requests (resumable model downloads).
//
//   node apps/chat/server.mjs [--port 8080] [--root build/chat] [--mount /prefix/=dir ...]
//
// --mount serves another folder under a prefix (the browser tests mount node_modules/openai this way).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const defaultRoot = path.join(repoRoot, 'build/chat');

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8', '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.gguf': 'application/octet-stream',
  '.webmanifest': 'application/manifest+json', '.txt': 'text/plain; charset=utf-8',
};

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** The file under one of the mounts that a URL path names, or null when it would escape them. */
function fileFor(urlPath, mounts) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  for (const [prefix, dir] of mounts) {
    if (!decoded.startsWith(prefix)) continue;
    const file = path.resolve(dir, '.' + decoded.slice(prefix.length - 1));
    return file === dir || file.startsWith(dir + path.sep) ? file : null;
  }
  return null;
}

/**
 * @param {{root?: string, port?: number, host?: string, mounts?: Array<[string, string]>, log?: (line: string) => void}} [options]
 * @returns {Promise<{url: string, close: () => Promise<void>, requests: Array<{path: string, range: string|null, status: number}>}>}
 */
export async function serveChat({ root = defaultRoot, port = 0, host = '127.0.0.1', mounts = [], log = null } = {}) {
  if (!fs.existsSync(path.join(root, 'index.html'))) {
    throw new Error(`the chat demo is not built in ${root}: run "node apps/chat/build.mjs" (or bash scripts/start.sh)`);
  }
  const allMounts = [...mounts.map(([p, d]) => [p, path.resolve(d)]), ['/', path.resolve(root)]];
  const requests = [];
  const server = http.createServer((req, res) => {
    const urlPath = new URL(req.url, 'http://localhost').pathname;
    const entry = { path: urlPath, range: req.headers.range ?? null, status: 200 };
    requests.push(entry);
    const send = (status, text, headers = {}) => {
      entry.status = status;
      log?.(`${status} ${req.method} ${urlPath}`);
      res.writeHead(status, { ...ISOLATION, 'Content-Type': 'text/plain; charset=utf-8', ...headers });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'GET and HEAD only\n', { Allow: 'GET, HEAD' });
    let file = fileFor(urlPath, allMounts);
    if (!file) return send(403, `forbidden: ${urlPath}\n`);
    let stat = fs.statSync(file, { throwIfNoEntry: false });
    if (stat?.isDirectory()) {
      file = path.join(file, 'index.html');
      stat = fs.statSync(file, { throwIfNoEntry: false });
    }
    if (!stat?.isFile()) return send(404, `not found: ${urlPath}\n`);

    const headers = {
      ...ISOLATION,
      'Content-Type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'no-cache',
      ETag: `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`,
      'Last-Modified': stat.mtime.toUTCString(),
    };
    let start = 0;
    let end = stat.size - 1;
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    if (range && (!ifRange || ifRange === headers.ETag)) {
      start = Number(range[1]);
      end = range[2] === '' ? end : Math.min(Number(range[2]), end);
      if (start >= stat.size || start > end) return send(416, 'range not satisfiable\n', { 'Content-Range': `bytes */${stat.size}` });
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${stat.size}`;
    }
    headers['Content-Length'] = String(end - start + 1);
    entry.status = status;
    log?.(`${status} ${req.method} ${urlPath}${range ? ` ${req.headers.range}` : ''}`);
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || stat.size === 0) return res.end();
    fs.createReadStream(file, { start, end }).on('error', (e) => res.destroy(e)).pipe(res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${server.address().port}/`,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function parseArgs(argv) {
  const options = { port: 8080, mounts: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--port') options.port = Number(value());
    else if (arg === '--host') options.host = value();
    else if (arg === '--root') options.root = path.resolve(value());
    else if (arg === '--mount') {
      const [prefix, dir] = value().split('=');
      if (!prefix?.startsWith('/') || !prefix.endsWith('/') || !dir) throw new Error('--mount takes /prefix/=folder');
      options.mounts.push([prefix, dir]);
    } else if (arg === '--verbose') options.log = (line) => console.error(line);
    else if (arg === '--check') options.check = true;
    else throw new Error(`unknown option ${arg}; usage: node apps/chat/server.mjs [--port N] [--host H] [--root DIR] [--mount /prefix/=DIR] [--verbose] [--check]`);
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) throw new Error('--port takes a port number (0-65535)');
  return options;
}

/** Fetches what the page needs from a running server and checks it: isolation headers, the package, the engine, a model range. */
export async function checkServed(url) {
  const problems = [];
  const get = async (file, init) => {
    const response = await fetch(new URL(file, url), init);
    if (!response.ok) problems.push(`${file}: HTTP ${response.status}`);
    return response;
  };
  const page = await get('index.html');
  for (const [name, value] of Object.entries(ISOLATION)) {
    if (page.headers.get(name) !== value) problems.push(`index.html: ${name} is ${page.headers.get(name)}, not ${value}`);
  }
  for (const file of ['app.mjs', 'sw.js', 'js/dist/index.js', 'js/dist/worker.mjs']) await get(file);
  const models = await (await get('models/models.json')).json();
  const model = models.find((m) => m.default) ?? models[0];
  if (!model) problems.push('models/models.json lists no model');
  else {
    const head = await get(model.url, { headers: { Range: 'bytes=0-3' } });
    const magic = new TextDecoder().decode(await head.arrayBuffer());
    if (head.status !== 206 || magic !== 'GGUF') problems.push(`${model.url}: a range request gave HTTP ${head.status} "${magic}", not 206 "GGUF"`);
  }
  return problems;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    const options = parseArgs(process.argv.slice(2));
    let server;
    try {
      server = await serveChat(options.check ? { ...options, port: 0 } : options);
    } catch (error) {
      if (error.code !== 'EADDRINUSE') throw error;
      console.error(`port ${options.port} is in use; serving on a free port instead (choose one with --port)`);
      server = await serveChat({ ...options, port: 0 });
    }
    if (options.check) {
      const problems = await checkServed(server.url);
      await server.close();
      if (problems.length) {
        console.error(`the chat demo is not served right:\n  ${problems.join('\n  ')}`);
        process.exit(1);
      }
      console.log(`the chat demo builds and serves correctly (${server.url}, cross-origin isolated, model range requests)`);
    } else {
      console.log(`tabllm chat: ${server.url}  (cross-origin isolated; Ctrl-C stops)`);
    }
  } catch (error) {
    console.error(`error: ${error.message}`);
    process.exit(1);
  }
}
