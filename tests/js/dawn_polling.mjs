// How the Node tests let Dawn (the npm `webgpu` package) wait for the GPU. While any promise of it is
// pending (mapAsync, onSubmittedWorkDone, popErrorScope), dawn.node polls for its completion by handing a
// native callback to setImmediate again and again: a busy loop on the main thread. On SwiftShader the "GPU"
// is the CPU, so on a 2-core machine that loop takes half the cores from the work it waits for (a token of
// stories260K took about twice as long). Here that one callback is run from a timer instead: the same
// callback, at most a millisecond later, and the main thread sleeps in between. Nothing else changes:
// every other setImmediate (JavaScript functions, bound functions) goes through as it came.
//
// Imported by wasm_env.mjs (so by every test that makes a WebGPU device); processes the tests start get
// it through NODE_OPTIONS (nodeOptionsWithDawnPolling).
import { promisify } from 'node:util';

const MARK = Symbol.for('tabllm.tests.dawnPolling');

if (!globalThis.setImmediate[MARK]) {
  const immediate = globalThis.setImmediate;
  const nativeSource = /^function \(\) \{ \[native code\] \}$/;
  const fromDawn = (callback) => typeof callback === 'function' && callback.name === '' && nativeSource.test(Function.prototype.toString.call(callback));
  const setImmediate = function setImmediate(callback, ...args) {
    return fromDawn(callback) ? setTimeout(callback, 0, ...args) : immediate(callback, ...args);
  };
  setImmediate[promisify.custom] = immediate[promisify.custom];
  setImmediate[MARK] = true;
  globalThis.setImmediate = setImmediate;
}

/** NODE_OPTIONS for a Node process a test starts (the CLI), with this module imported first. */
export function nodeOptionsWithDawnPolling(env = process.env) {
  const flag = `--import=${new URL(import.meta.url).href}`;
  return [env.NODE_OPTIONS, flag].filter(Boolean).join(' ');
}
