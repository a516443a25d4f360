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
  '  -m NAME=FILE         several models: give -m once per model, each as NAME=FILE (or FILE: its name from\n' +
  '                       the GGUF); a request\'s "model" picks one, the first answers requests without one\n' +
  '  --memory-budget MB   with several models, the megabytes of weights and KV caches they may hold together\n' +
  '  --prefix-cache       keep conversations\' KV pages on disk (beside the model cache, or $TABLLM_KV_DIR):\n' +
  '                       a restarted server answers the next turn of a long chat without prefilling it\n' +
  '  --quiet              no request log on stderr\n' +
  '  --cloud URL          hand requests to this OpenAI-compatible endpoint when the policy says so\n' +
  '                       (docs/cloud.md); giving it is the operator\'s consent. Off by default\n' +
  '  --cloud-api-key KEY  the endpoint\'s key (default: $TABLLM_CLOUD_API_KEY, else none)\n' +
  '  --cloud-model NAME   the model name sent to the endpoint (default: the request\'s)\n' +
  '  --cloud-context C    cut (default): route prompts the local context would cut; fit: also those whose\n' +
  '                       reply would not fit; off: never route for context\n' +
  '  --cloud-max-ttft-ms N    route when the predicted time to first token is over N ms\n' +
  '  --cloud-min-tps N    hand a reply over mid-stream when it runs under N tokens/s\n' + ENGINE_USAGE;

const CLOUD_OPTIONS = ['cloud', 'cloud-api-key', 'cloud-model', 'cloud-context', 'cloud-max-ttft-ms', 'cloud-min-tps'];

// The engine's cloud option from the --cloud flags, or undefined without --cloud. The operator who names an
// endpoint consents for the server's clients; each routing decision is logged on stderr (unless --quiet).
function cloudOptions(args, quiet) {
  const endpoint = args.get('cloud');
  if (endpoint === undefined) {
    const stray = CLOUD_OPTIONS.slice(1).find((k) => args.get(k) !== undefined);
    if (stray) throw new UsageError(`--${stray} needs --cloud URL (the endpoint to hand requests to)`);
    return undefined;
  }
  const context = args.get('cloud-context') ?? 'cut';
  if (!['cut', 'fit', 'off'].includes(context)) throw new UsageError(`--cloud-context must be cut, fit or off, got '${context}'`);
  const positive = (key) => {
    const n = args.number(key, undefined);
    if (n !== undefined && !(n > 0)) throw new UsageError(`--${key} must be a positive number`);
    return n;
  };
  return {
    endpoint,
    apiKey: args.get('cloud-api-key') ?? (process.env.TABLLM_CLOUD_API_KEY || undefined),
    model: args.get('cloud-model'),
    consent: true,
    policy: { contextOverflow: context === 'off' ? false : context, maxTtftMs: positive('cloud-max-ttft-ms'), minTokensPerSecond: positive('cloud-min-tps') },
    onEvent: quiet ? undefined : (e) => {
      const what = e.sent ? `${e.action === 'handoff' ? 'handed off' : 'sent'} to ${e.endpoint}` : `kept local (${e.note ?? e.action})`;
      process.stderr.write(`[tabllm] cloud: ${e.request ?? 'request'} ${what}: ${e.reason}\n`);
    },
  };
}

// `-m NAME=FILE` given once or more, or -m given more than once: the engine's `models` ({model, name} each)
// and memoryBudget; a single `-m FILE` stays the engine's `model`.
function modelsOption(args) {
  const given = args.all('m');
  const budget = args.number('memory-budget', undefined);
  if (budget !== undefined && !(budget > 0)) throw new UsageError('--memory-budget must be a positive number of megabytes');
  const named = given.map((text) => {
    const eq = text.indexOf('=');
    // NAME=FILE when the part before '=' names no folder and the whole is not a file itself.
    if (eq > 0 && !/[\\/]/.test(text.slice(0, eq)) && !fs.existsSync(text)) return { name: text.slice(0, eq), model: text.slice(eq + 1) };
    return { model: text };
  });
  if (named.length === 1 && named[0].name === undefined) return budget === undefined ? {} : { memoryBudget: budget * 1e6 };
  if (args.get('model-name') !== undefined) throw new UsageError('--model-name names the only model: with several, give each as -m NAME=FILE');
  const names = named.map((m) => m.name).filter(Boolean);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new UsageError(`two models are named '${twice}': give each its own NAME in -m NAME=FILE`);
  return { model: undefined, models: named, memoryBudget: budget === undefined ? undefined : budget * 1e6 };
}

export async function serve(argv) {
  const args = parseArgs(argv, ['host', 'port', 'api-key', 'cors', 'queue', 'grace', 'model-name', 'memory-budget', ...CLOUD_OPTIONS, ...ENGINE_OPTIONS], ['quiet', 'prefix-cache'], USAGE);
  const options = { ...engineOptions(args), ...modelsOption(args) };
  const port = args.int('port', 8080);
  if (port < 0 || port > 65535) throw new UsageError('--port must be from 0 to 65535');
  const queue = args.int('queue', 16);
  if (queue < 0) throw new UsageError('--queue must be 0 or more');
  const grace = args.number('grace', 10);
  if (grace < 0) throw new UsageError('--grace must be 0 or more');
  for (const { model } of options.models ?? [options]) if (!fs.existsSync(model)) throw new UsageError(`cannot open model ${model}: no such file`);
  const apiKey = args.get('api-key') ?? (process.env.TABLLM_API_KEY || undefined);

  const quiet = args.flag('quiet');
  const cloud = cloudOptions(args, quiet);
  const log = quiet ? undefined : ({ method, path, status, ms, outcome }) => {
    process.stderr.write(`[tabllm] ${method} ${path} ${status} ${ms.toFixed(0)} ms${outcome === 'ok' || outcome === 'refused' ? '' : ` (${outcome === 'gone' ? 'client went away' : 'stopped by shutdown'})`}\n`);
  };
  const server = await startServer({
    engineOptions: { ...options, modelName: args.get('model-name'), prefixCache: args.flag('prefix-cache'), cloud, allowSoftwareAdapter: false },
    host: args.get('host') ?? '127.0.0.1', port, apiKey, cors: args.get('cors'), queue, graceMs: grace * 1000, log,
  });
  process.stdout.write(`tabllm serve: listening on ${server.url} (loading ${(options.models ?? [options]).map((m) => m.model).join(', ')})\n`);

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
    const others = engine.models.info().filter((m) => !m.default).map((m) => `, ${m.id} on ${m.backend}, context ${m.contextSize}`).join('');
    process.stdout.write(`tabllm serve: ready: ${engine.modelId} on ${where}, context ${engine.contextSize}${others}; ` +
      `POST ${server.url}/v1/chat/completions${apiKey ? ' (API key required)' : ''}\n`);
  } catch (error) {
    await server.close({ graceMs: 0 });
    throw error;
  }
  await stopped;
  process.stdout.write('tabllm serve: stopped\n');
}
