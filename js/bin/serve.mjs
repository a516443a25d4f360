// tabllm serve: an OpenAI-compatible HTTP server (js/src/serve.mjs) over one model. stdout says where it
// listens and when the model is ready; stderr logs one line per request (--quiet: none). SIGTERM or SIGINT
// stops it gracefully: no new connections, requests in flight get --grace seconds to finish, then end
// (a stream with an error event), the model is unloaded and the exit code is 0. A second signal ends the
// grace period at once.
import fs from 'node:fs';

import { startServer } from '../src/serve.mjs';
import { ENGINE_OPTIONS, ENGINE_USAGE, UsageError, engineOptions, parseArgs } from './args.mjs';

const USAGE = 'usage: node js/bin/tabllm.mjs serve -m MODEL [options]\n' +
  '  --host HOST          address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)\n' +
  '  --port N             port (default 8080; 0 picks a free one, printed)\n' +
  '  --api-key KEY        require Authorization: Bearer KEY on /v1 (default: $TABLLM_API_KEY, else none)\n' +
  '  --cors ORIGIN        CORS for this origin, a comma-separated list, or * (default: none)\n' +
  '  --queue N            requests that may wait while one runs; more get 429 (default 16)\n' +
  '  --grace SECONDS      on SIGTERM/SIGINT, time for requests in flight to finish (default 10)\n' +
  '  --model-name NAME    the model\'s id in /v1/models and responses (default: from the GGUF)\n' +
  '  --prefix-cache       keep conversations\' KV pages on disk (beside the model cache, or $TABLLM_KV_DIR):\n' +
  '                       a restarted server answers the next turn of a long chat without prefilling it\n' +
  '  --quiet              no request log on stderr\n' + ENGINE_USAGE;

export async function serve(argv) {
  const args = parseArgs(argv, ['host', 'port', 'api-key', 'cors', 'queue', 'grace', 'model-name', ...ENGINE_OPTIONS], ['quiet', 'prefix-cache'], USAGE);
  const options = engineOptions(args);
  const port = args.int('port', 8080);
  if (port < 0 || port > 65535) throw new UsageError('--port must be from 0 to 65535');
  const queue = args.int('queue', 16);
  if (queue < 0) throw new UsageError('--queue must be 0 or more');
  const grace = args.number('grace', 10);
  if (grace < 0) throw new UsageError('--grace must be 0 or more');
  if (!fs.existsSync(options.model)) throw new UsageError(`cannot open model ${options.model}: no such file`);
  const apiKey = args.get('api-key') ?? (process.env.TABLLM_API_KEY || undefined);

  const quiet = args.flag('quiet');
  const log = quiet ? undefined : ({ method, path, status, ms, outcome }) => {
    process.stderr.write(`[tabllm] ${method} ${path} ${status} ${ms.toFixed(0)} ms${outcome === 'ok' || outcome === 'refused' ? '' : ` (${outcome === 'gone' ? 'client went away' : 'stopped by shutdown'})`}\n`);
  };
  const server = await startServer({
    engineOptions: { ...options, modelName: args.get('model-name'), prefixCache: args.flag('prefix-cache'), allowSoftwareAdapter: false },
    host: args.get('host') ?? '127.0.0.1', port, apiKey, cors: args.get('cors'), queue, graceMs: grace * 1000, log,
  });
  process.stdout.write(`tabllm serve: listening on ${server.url} (loading ${options.model})\n`);

  let signals = 0;
  const stopped = new Promise((resolve) => {
    const onSignal = (signal) => {
      if (++signals === 1) {
        process.stdout.write(`tabllm serve: ${signal}: stopping (requests in flight have ${grace} s; send it again to stop now)\n`);
        server.close().then(resolve);
      } else {
        server.close({ graceMs: 0 });  // ends the running close()'s grace period now
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });

  try {
    const engine = await server.ready;
    const runtime = engine.runtime;
    const where = runtime.backend === 'webgpu' ? `webgpu (${runtime.adapter ?? 'adapter'})` : `wasm, ${runtime.threads} threads`;
    process.stdout.write(`tabllm serve: ready: ${engine.modelId} on ${where}, context ${engine.contextSize}; ` +
      `POST ${server.url}/v1/chat/completions${apiKey ? ' (API key required)' : ''}\n`);
  } catch (error) {
    await server.close({ graceMs: 0 });
    throw error;
  }
  await stopped;
  process.stdout.write('tabllm serve: stopped\n');
}
