// The package's version (js/package.json; tests/js/prefix-cache.test.mjs checks they agree). Stored KV
// pages are keyed by it, so an upgrade never reads pages an older engine wrote.
export const VERSION = '0.1.0';
