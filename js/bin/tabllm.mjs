#!/usr/bin/env node
// tabllm for Node: `generate` and `bench` with the native CLI's flags and output (build/bin/tabllm), and
// `serve`, an OpenAI-compatible HTTP server (js/src/serve.mjs); on WebGPU (Dawn from the npm `webgpu`
// package; SwiftShader when there is no GPU) or the WebAssembly CPU engine, chosen with
// --backend auto|webgpu|wasm. Errors: one line on stderr, exit code 1.
//
//   node js/bin/tabllm.mjs generate -m build/models/stories260K-q8_0.gguf -p "Once upon a time" -n 64 --temp 0 --backend webgpu
//   node js/bin/tabllm.mjs bench -m build/models/stories260K-q8_0.gguf --prompt-tokens 128 --gen-tokens 64 --backend webgpu
//   node js/bin/tabllm.mjs bench -m MODEL --backend webgpu --json-schema schema.json   (the cost of structured output)
//   node js/bin/tabllm.mjs serve -m build/models/stories260K-q8_0.gguf --port 8080 --backend wasm
const USAGE = 'usage: node js/bin/tabllm.mjs COMMAND [options]\n' +
  '  generate -m MODEL -p PROMPT [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P] [--seed S] [--repeat-penalty R] [--threads N] [--backend auto|webgpu|wasm]\n' +
  '           [--json | --json-schema FILE | --grammar FILE | --regex PATTERN]\n' +
  '  bench -m MODEL [--prompt-tokens 512] [--gen-tokens 128] [--repetitions 1] [--threads N] [--backend auto|webgpu|wasm]\n' +
  '        [--json | --json-schema FILE | --grammar FILE | --regex PATTERN] (WebGPU: decode with and without the format)\n' +
  '  serve -m MODEL [--host 127.0.0.1] [--port 8080] [--api-key KEY] [--cors ORIGIN] [--queue 16] [--grace 10] [--backend auto|webgpu|wasm]\n' +
  '        an OpenAI-compatible HTTP server: /v1/chat/completions, /v1/completions, /v1/models, /health;\n' +
  '        several models with -m NAME=FILE once per model (a request\'s "model" picks one)\n' +
  'Run with COMMAND --help for its options.\n';

const COMMANDS = {
  generate: async (argv) => (await import('./generate.mjs')).generate(argv),
  bench: async (argv) => (await import('./bench.mjs')).bench(argv),
  serve: async (argv) => (await import('./serve.mjs')).serve(argv),
};

async function main(argv) {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    (name ? process.stdout : process.stderr).write(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`tabllm: unknown command '${name}'\n${USAGE}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    try {
      await command(['--help']);
    } catch (e) {
      process.stdout.write(`${e.message.replace(/^unknown option --help\n/, '')}`);
    }
    return 0;
  }
  try {
    await command(rest);
    return 0;
  } catch (e) {
    // One line: the first of the message (option errors carry the usage after it; --help shows that).
    const message = String(e?.message ?? e).split('\n')[0];
    process.stderr.write(`tabllm ${name}: error: ${message}\n`);
    if (process.env.TABLLM_DEBUG) process.stderr.write(`${e?.stack}\n`);
    return 1;
  }
}

// The exit code is set, not forced: forcing exit would cut stdout short when it is a pipe. Node's WebGPU
// (Dawn) keeps the process alive, so the exit is explicit once output has drained.
const code = await main(process.argv.slice(2));
process.stdout.write('', () => process.exit(code));
