// Where tabllm keeps things in Node (Node only): the downloaded models (cacheDir, or TABLLM_CACHE_DIR, or
// ~/.cache/tabllm/models), the prefix cache's pages and the at-rest key beside them (TABLLM_KV_DIR, or the
// models folder's sibling `kv`), and the KV pager's live folders (TABLLM_KV_DIR, or the system's temporary
// folder, as tabllm-kv-pages-*).
import { importNodeOnly } from '../node_only.mjs';

export async function nodeDirs(cacheDir) {
  const path = await importNodeOnly('node:path');
  const os = await importNodeOnly('node:os');
  const { defaultCacheDir } = await import(/* webpackIgnore: true */ '../loader/store_node_fs.mjs');  // Node only
  const models = cacheDir ?? defaultCacheDir();
  const kv = process.env.TABLLM_KV_DIR ?? path.join(path.dirname(models), 'kv');
  return { models, kv, pages: process.env.TABLLM_KV_DIR ?? os.tmpdir() };
}
