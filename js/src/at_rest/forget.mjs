// Wipes what tabllm keeps for this origin (browsers) or this user (Node), whatever made it: in a browser
// the Origin Private File System's tabllm-* entries (models, the prefix cache, the KV pager's files), the
// tabllm-* IndexedDB databases (the at-rest key among them), the tabllm-* caches of Cache Storage and the
// tabllm-* localStorage items (where this scope has each); in Node tabllm's files in the models folder and
// the KV folder (the key file with them), and the KV pager's folders. An entry that cannot be removed (held open by
// another tab's engine) is an error that names it, after everything else is removed.
import { importNodeOnly, isNode } from '../node_only.mjs';
import { nodeDirs } from './node_dirs.mjs';

const OURS = 'tabllm';

/** @param {{cacheDir?: string}} [where] Node: the engine's cacheDir */
export async function forgetStored({ cacheDir } = {}) {
  const left = [];
  const attempt = async (what, fn) => {
    try {
      await fn();
    } catch (error) {
      left.push(`${what} (${error?.message ?? error})`);
    }
  };
  if (isNode) {
    const fs = await importNodeOnly('node:fs/promises');
    const path = await importNodeOnly('node:path');
    const { DEVICE_KEY, SALT } = await import('./keys.mjs');
    const dirs = await nodeDirs(cacheDir);
    // Only tabllm's own entries, by their names: the folders may be the user's (cacheDir, TABLLM_KV_DIR)
    // and hold other things; they stay, and new pager folders are made in them.
    const remove = async (dir, ours) => {
      for (const name of (await fs.readdir(dir).catch(() => [])).filter(ours)) {
        await attempt(path.join(dir, name), () => fs.rm(path.join(dir, name), { recursive: true, force: true }));
      }
    };
    const pagerFolder = (name) => name.startsWith('tabllm-kv-pages-');
    // loader/store_node_fs.mjs: KEY.gguf and KEY.json; prefix_cache.mjs: a folder per identity; keys.mjs;
    // metrics/history_store.mjs.
    await remove(dirs.models, (name) => /^[0-9a-f]{32}\.(gguf|json)$/.test(name));
    const { METRICS_FOLDER } = await import('../metrics/history_store.mjs');
    await remove(dirs.kv, (name) => /^[0-9a-f]{24}$/.test(name) || name === DEVICE_KEY || name === SALT || name === METRICS_FOLDER || pagerFolder(name));
    await remove(dirs.pages, pagerFolder);
  } else {
    const root = await globalThis.navigator?.storage?.getDirectory?.().catch(() => null);
    if (root) {
      for await (const [name] of root.entries()) if (name.startsWith(OURS)) await attempt(`OPFS ${name}`, () => root.removeEntry(name, { recursive: true }));
    }
    if (globalThis.indexedDB) {
      const { KEY_DB } = await import('./keys.mjs');
      const names = indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name) : [KEY_DB, 'tabllm-kv'];
      for (const name of names.filter((n) => n?.startsWith(OURS))) await attempt(`IndexedDB ${name}`, () => deleteDatabase(name));
    }
    if (globalThis.caches) {
      for (const name of await caches.keys()) if (name.startsWith(OURS)) await attempt(`Cache Storage ${name}`, () => caches.delete(name));
    }
    const local = globalThis.localStorage;
    if (local) for (const name of Object.keys(local)) if (name.startsWith(OURS)) local.removeItem(name);
  }
  if (left.length) throw new Error(`forget() could not remove ${left.join('; ')}: close the other tabs or processes that use tabllm, and call it again`);
}

function deleteDatabase(name) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
    // Another tab holds it open: the deletion waits for it, and forget() says so rather than hang.
    request.onblocked = () => reject(new Error('open in another tab'));
  });
}
