// Hugging Face model references: "hf:owner/repo/path/file.gguf", or {repo: 'owner/repo', file: 'path/file.gguf'},
// become the URL Hugging Face serves the file from: https://huggingface.co/owner/repo/resolve/REVISION/path/file.gguf
// (revision "main" unless given; `hfEndpoint` for a mirror).

const DEFAULT_ENDPOINT = 'https://huggingface.co';
const REPO = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

function hfUrl(repo, file, { revision = 'main', hfEndpoint = DEFAULT_ENDPOINT } = {}, what) {
  if (typeof repo !== 'string' || !REPO.test(repo)) {
    throw new TypeError(`${what}: the repository must be "owner/name" (as in huggingface.co/owner/name), got ${JSON.stringify(repo)}`);
  }
  if (typeof file !== 'string' || !file || file.startsWith('/') || file.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new TypeError(`${what}: name the file inside the repository, e.g. "model-Q4_K_M.gguf", got ${JSON.stringify(file)}`);
  }
  if (typeof revision !== 'string' || !revision) throw new TypeError(`${what}: revision must be a branch, tag or commit, got ${JSON.stringify(revision)}`);
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${String(hfEndpoint).replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}

/** True for "hf:…" strings and {repo, file} objects. */
export function isHfReference(model) {
  if (typeof model === 'string') return model.startsWith('hf:');
  return !!model && typeof model === 'object' && typeof model.repo === 'string' && !(typeof Blob !== 'undefined' && model instanceof Blob);
}

/**
 * The URL of a Hugging Face reference; anything else is returned as it is.
 * @param {string|{repo: string, file: string, revision?: string}|any} model
 * @param {{revision?: string, hfEndpoint?: string}} [options] the object's own revision wins
 */
export function resolveModelReference(model, options = {}) {
  if (!isHfReference(model)) return model;
  if (typeof model === 'string') {
    const rest = model.slice(3).replace(/^\/+/, '');
    const parts = rest.split('/');
    if (parts.length < 3) throw new TypeError(`"${model}" is not a Hugging Face reference: write hf:owner/repo/file.gguf`);
    return hfUrl(parts.slice(0, 2).join('/'), parts.slice(2).join('/'), options, model);
  }
  return hfUrl(model.repo, model.file, { ...options, revision: model.revision ?? options.revision }, `{repo: ${JSON.stringify(model.repo)}}`);
}
