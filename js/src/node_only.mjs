// Modules only Node has (its built-ins, the npm `webgpu` package), imported only when running in Node.
// The specifier is a variable and webpack is told to leave the import alone, so a bundler building for
// browsers neither follows nor resolves it (webgpu is an optional peer dependency: absent in most apps).

/** Whether this is Node (a Web Worker or a page is not, even with `process` polyfilled). */
export const isNode = typeof process === 'object' && typeof process.versions?.node === 'string' &&
  typeof window === 'undefined' && typeof WorkerGlobalScope === 'undefined';

/** import(specifier), out of bundlers' sight: 'node:os', 'webgpu', ... */
export function importNodeOnly(specifier) {
  return import(/* webpackIgnore: true */ /* @vite-ignore */ specifier);
}
