// llama.cpp's llama-embedding for the embedding benchmarks: built from a source tree (CPU only), run on a
// file of inputs, its JSON read back.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The llama-embedding binary under `build`, configured and built from `src` first when it is missing. */
export function buildLlamaEmbedding(src, build, jobs = 2) {
  const bin = path.join(build, 'bin', 'llama-embedding');
  if (fs.existsSync(bin)) return bin;
  if (!src || !fs.existsSync(path.join(src, 'CMakeLists.txt'))) throw new Error(`no llama.cpp source tree at ${src}: pass --llama-src (a checkout or an unpacked archive)`);
  execFileSync('cmake', ['-S', src, '-B', build, '-DCMAKE_BUILD_TYPE=Release', '-DLLAMA_CURL=OFF', '-DGGML_NATIVE=ON', '-DLLAMA_BUILD_TESTS=OFF'], { stdio: 'inherit' });
  execFileSync('cmake', ['--build', build, '--target', 'llama-embedding', '-j', String(jobs)], { stdio: 'inherit' });
  return bin;
}

/**
 * Runs llama-embedding on the lines of `inputFile` (one input a line, L2-normalised, pooling from the file).
 * `batch`: tokens a pass (llama-embedding wants context, batch and micro-batch alike; the inputs of one pass
 * must fit in it together). `pooling` overrides the file's: llama.cpp before Qwen3 reads pooling_type only
 * for its encoders. `gpuLayers`: layers offloaded to the GPU of a CUDA build (`-ngl`; 0: the CPU).
 * @returns {{embeddings: number[][], seconds: number, evalSeconds: number|null}} seconds: the whole run, model load
 *   included; evalSeconds: the forward passes alone, as llama.cpp reports them ("prompt eval time")
 */
export function llamaEmbed(bin, model, inputFile, { threads = 2, batch = 2048, pooling, gpuLayers = 0 } = {}) {
  const start = process.hrtime.bigint();
  const run = spawnSync(bin, ['-m', model, '-f', inputFile, '--embd-normalize', '2', '--embd-output-format', 'json', '-t', String(threads),
    '-c', String(batch), '-b', String(batch), '-ub', String(batch), ...(pooling ? ['--pooling', pooling] : []),
    // On the GPU its warm-up pass (not timed) takes the first use's costs out of the prompt eval time.
    ...(gpuLayers ? ['-ngl', String(gpuLayers)] : ['--no-warmup'])], { maxBuffer: 1 << 30 });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const stdout = run.stdout.toString();
  const stderr = run.stderr.toString();
  if (run.status !== 0) throw new Error(`llama-embedding failed (${run.status ?? run.signal}):\n${stderr.slice(-3000)}`);
  const evalMs = /prompt eval time =\s*([\d.]+) ms/.exec(stderr + stdout);
  // The JSON list follows the log lines on stdout.
  const at = stdout.indexOf('"object": "list"');
  if (at < 0) throw new Error(`llama-embedding printed no embeddings:\n${stdout.slice(-2000)}`);
  const json = JSON.parse(stdout.slice(stdout.lastIndexOf('{', at)).trim());
  return { embeddings: json.data.map((d) => d.embedding), seconds, evalSeconds: evalMs ? Number(evalMs[1]) / 1000 : null };
}
