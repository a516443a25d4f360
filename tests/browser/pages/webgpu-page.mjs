// The browser side of tests/browser/webgpu.test.mjs: runs the shared WebGPU cases (tests/webgpu-cases) in
// this page with navigator.gpu and the WebAssembly engine, and shows what it did in the page body.
// The server (tests/browser/harness.mjs) mounts the WebAssembly build at /wasm-build/, the models at
// /models/ and the shared data at /shared/.
import { DevAbi, hasDevExports } from '../../../js/src/core/dev.mjs';
import { capabilityReport, chooseBackend, requestWebgpuDevice } from '../../../js/src/capabilities.mjs';
import { opCases } from '../../webgpu-cases/ops.mjs';
import {
  MissingInput, constrainedCase, deviceLossCase, gpuGreedyText, hasHostDrivenSession, loadGpuModel, splitCase, storiesGreedyCase,
} from '../../webgpu-cases/model.mjs';

let ctxPromise = null;

function show(line) {
  const pre = document.querySelector('pre') ?? document.body.appendChild(document.createElement('pre'));
  pre.textContent += `${line}\n`;
}

/** A file served with HTTP Range support, as the reader GpuModel.load takes. */
async function httpFileReader(url) {
  const head = await fetch(url, { method: 'HEAD' });
  if (head.status === 404) return null;
  if (!head.ok) throw new Error(`${url}: HTTP ${head.status}`);
  const size = Number(head.headers.get('Content-Length'));
  return {
    size,
    async read(offset, length) {
      const end = Math.min(size, offset + length) - 1;
      const response = await fetch(url, { headers: { Range: `bytes=${offset}-${end}` } });
      if (response.status !== 206) throw new Error(`${url}: range request answered HTTP ${response.status}`);
      return new Uint8Array(await response.arrayBuffer());
    },
    close() {},
  };
}

async function setup() {
  const { default: createModule } = await import('/wasm-build/tabllm-dev.mjs');
  const module = await createModule();
  if (!hasDevExports(module)) throw new MissingInput('the WebAssembly build lacks its development module: run scripts/build-wasm.sh');
  const { device, limits } = await requestWebgpuDevice();
  return {
    abi: new DevAbi(module),
    module,
    device,
    limits,
    openModel: (name) => httpFileReader(`/models/${name}.gguf`),
    async modelBytes(name) {
      const response = await fetch(`/models/${name}.gguf`);
      return response.ok ? new Uint8Array(await response.arrayBuffer()) : null;
    },
    async reference() {
      const text = await (await fetch('/shared/models/stories260K/greedy_reference.jsonl')).text();
      return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
    },
    requestDevice: requestWebgpuDevice,
  };
}

const modelCases = { split: splitCase, deviceLoss: deviceLossCase, constrainedRegex: constrainedCase('regex', { again: true }) };

/**
 * Runs one case. suite 'ops': `name` is an opCases name; suite 'model': `name` is 'split', 'deviceLoss' or
 * 'stories' (args: {type, count}). Returns {notes, result, missing} — missing: why it could not run.
 */
export async function runCase(suite, name, args = {}) {
  const notes = [];
  try {
    ctxPromise ??= setup();
    const ctx = { ...(await ctxPromise), note: (line) => { notes.push(line); show(`  ${line}`); } };
    let testCase;
    if (suite === 'ops') testCase = opCases.find((c) => c.name === name);
    else if (name === 'stories') testCase = storiesGreedyCase(args.type, args.count);
    else testCase = modelCases[name];
    if (!testCase) throw new Error(`no ${suite} case named ${name}`);
    show(testCase.name);
    const result = await testCase.run(ctx);
    return { notes, result: result ?? null, missing: null };
  } catch (error) {
    if (error instanceof MissingInput) return { notes, result: null, missing: error.message };
    show(`FAILED: ${error.message}`);
    throw error;
  }
}

export const opCaseNames = () => opCases.map((c) => c.name);

/** Greedy text of stories260K `type` generated on this page's GPU, shown in the page. */
export async function storiesText(type, maxTokens) {
  ctxPromise ??= setup();
  const ctx = await ctxPromise;
  if (!hasHostDrivenSession(ctx.module)) return { missing: 'the WebAssembly build lacks the host-driven session (tabllm_session_create_external): rebuild it' };
  const ref = (await ctx.reference())[0];
  const gpu = await loadGpuModel(ctx, `stories260K-${type}`);
  try {
    const { text, ids } = await gpuGreedyText(ctx, `stories260K-${type}`, gpu, ref.prompt, maxTokens);
    show(`stories260K ${type} on WebGPU: ${ref.prompt}${text}`);
    return { text, ids, reference: ref.text, referenceIds: ref.ids, missing: null };
  } finally {
    gpu.destroy();
  }
}

/** The capability report and the backend auto would choose, in this page. */
export async function capabilities() {
  const report = await capabilityReport();
  let choice;
  try {
    choice = chooseBackend('auto', report);
  } catch (error) {
    choice = { error: error.message };
  }
  show(`capabilities: ${JSON.stringify(report.webgpu.adapter)}; auto → ${JSON.stringify(choice)}`);
  return { report, choice, webgpuOnly: chooseBackend('webgpu', report), allowSoftware: chooseBackend('auto', report, { allowSoftwareAdapter: true }) };
}

/** Embeddings of `texts` by an encoder on WebGPU, through the package's engine as a page loads it from a URL. */
export async function encoderEmbeddings(model, texts) {
  const { createEngine } = await import('../../../js/src/index.mjs');
  const engine = await createEngine({ model: new URL(`/models/${model}.gguf`, location.href).href, backend: 'webgpu', modelName: model });
  try {
    const { data } = await engine.embeddings.create({ input: texts });
    show(`${model} on WebGPU: ${data.length} vectors of ${data[0].embedding.length}`);
    return { backend: engine.backend, vectors: data.map((d) => d.embedding), missing: null };
  } finally {
    await engine.unload();
  }
}
