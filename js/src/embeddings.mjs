// OpenAI's embeddings API over an embedding model (docs/embeddings.md):
//
//   const { data } = await engine.embeddings.create({ model, input: ['first note', 'second note'] });
//   similarity(data[0].embedding, data[1].embedding)
//
// The request is checked here (OpenAI's fields and words), the inputs are tokenized and checked against the
// model's context, then embedded together in one call: into the core (tabllm_embed) on WebAssembly, or the
// encoder's GPU pass (gpu/encoder.mjs) on WebGPU; encoders run the batch in one forward pass, each input
// attending only to itself.
import { bytesToBase64 } from './base64.mjs';
import { abortError, invalidRequest } from './errors.mjs';

const MAX_INPUTS = 2048;  // OpenAI's limit on the items of one request
const ENCODER_ARCHITECTURES = new Set(['bert', 'nomic-bert']);
const POOLING_KEY = 'pooling_type';

/** Cosine similarity of two vectors of the same length (1: same direction, 0: unrelated). */
export function similarity(a, b) {
  if (!a || !b || a.length !== b.length || a.length === 0) throw new TypeError(`similarity needs two non-empty vectors of one length, got ${a?.length} and ${b?.length}`);
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/** Whether a GGUF header (loader/gguf_header.mjs) is an embedding model: an encoder, or a file naming its pooling. */
export function isEmbeddingHeader(header) {
  const arch = header.metadata.get('general.architecture');
  return ENCODER_ARCHITECTURES.has(arch) || Number(header.metadata.get(`${arch}.${POOLING_KEY}`) ?? 0) > 0;
}

// Models trained so that a prefix of the vector is an embedding too (Matryoshka): nomic-embed-text v1.5
// and Qwen3-Embedding. GGUF says nothing of it, so the architecture decides.
function allowsDimensions(info) {
  return info.arch === 'nomic-bert' || !ENCODER_ARCHITECTURES.has(info.arch);
}

const isTokenArray = (v) => Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t));

/** Checks an embeddings request: {inputs: (string | number[])[], encodingFormat, dimensions}. */
export function parseEmbeddingRequest(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidRequest(null, 'the request body must be a JSON object', 'invalid_type');
  const known = new Set(['model', 'input', 'encoding_format', 'dimensions', 'user']);
  for (const key of Object.keys(body)) if (!known.has(key)) throw invalidRequest(key, `unknown parameter '${key}': embeddings take model, input, encoding_format, dimensions and user`, 'unknown_parameter');
  if (body.model !== undefined && typeof body.model !== 'string') throw invalidRequest('model', 'model must be a string', 'invalid_type');
  const { input } = body;
  if (input === undefined) throw invalidRequest('input', 'input is required: a string, an array of strings, an array of token ids or an array of such arrays', 'missing_required_parameter');
  let inputs;
  if (typeof input === 'string') inputs = [input];
  else if (isTokenArray(input)) inputs = [input];
  else if (Array.isArray(input) && input.length > 0 && (input.every((v) => typeof v === 'string') || input.every(isTokenArray))) inputs = input;
  else throw invalidRequest('input', 'input must be a string, an array of strings, an array of token ids or an array of non-empty token-id arrays (not empty, not mixed)', 'invalid_type');
  if (inputs.length > MAX_INPUTS) throw invalidRequest('input', `input holds ${inputs.length} items, more than ${MAX_INPUTS}: send them in several requests`);
  inputs.forEach((v, i) => {
    if (v === '') throw invalidRequest('input', `input[${i}] is an empty string: every input needs some text`);
  });
  const encodingFormat = body.encoding_format ?? 'float';
  if (encodingFormat !== 'float' && encodingFormat !== 'base64') throw invalidRequest('encoding_format', `encoding_format must be "float" or "base64", got ${JSON.stringify(encodingFormat)}`);
  const { dimensions } = body;
  if (dimensions !== undefined && !(Number.isInteger(dimensions) && dimensions > 0)) throw invalidRequest('dimensions', `dimensions must be a positive integer, got ${JSON.stringify(dimensions)}`, 'invalid_type');
  if (body.user !== undefined && typeof body.user !== 'string') throw invalidRequest('user', 'user must be a string', 'invalid_type');
  return { inputs, encodingFormat, dimensions };
}

// The first `dimensions` values, at unit length again.
function truncate(vector, dimensions) {
  const v = vector.slice(0, dimensions);
  let ss = 0;
  for (const x of v) ss += x * x;
  const scale = ss > 0 ? 1 / Math.sqrt(ss) : 0;
  for (let i = 0; i < v.length; i++) v[i] *= scale;
  return v;
}

function encode(vector, format) {
  if (format === 'base64') return bytesToBase64(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength));
  return Array.from(vector);
}

/**
 * engine.embeddings.
 * @param {(name: string|undefined, fn: (runner: object, name: string) => any) => Promise<any>} run runs fn
 *   with the runner of the model the request names (the default without a name) and that model's name, in its turn
 */
export function createEmbeddings(run) {
  return {
    /** OpenAI's embeddings.create: {object: 'list', data: [{object: 'embedding', index, embedding}], model, usage}. */
    async create(body, { signal } = {}) {
      const request = parseEmbeddingRequest(body);
      return run(body.model, async (runner, modelId) => {
        if (signal?.aborted) throw abortError(signal);
        const info = runner.info;
        if (info.kind !== 'embedding')
          throw invalidRequest('model', `'${modelId}' is a chat model (${info.arch}), not an embedding model: load an embedding model (bert, nomic-bert, or a GGUF such as Qwen3-Embedding that names its pooling) for embeddings`, 'model_not_embedding');
        const { dimensions } = request;
        if (dimensions !== undefined && dimensions !== info.dim) {
          if (!allowsDimensions(info)) throw invalidRequest('dimensions', `'${modelId}' (${info.arch}) was not trained for shortened embeddings: leave dimensions out (it gives ${info.dim})`, 'unsupported_parameter');
          if (dimensions > info.dim) throw invalidRequest('dimensions', `dimensions ${dimensions} is more than the model's ${info.dim}`);
        }
        const tokens = request.inputs.map((v) => (typeof v === 'string' ? runner.embedTokenize(v) : v));
        tokens.forEach((ids, i) => {
          if (ids.length > info.context)
            throw invalidRequest('input', `input[${i}] has ${ids.length} tokens, more than the model's context of ${info.context}: shorten it or split it`, 'context_length_exceeded');
          const bad = ids.find((id) => id < 0 || id >= info.vocab);
          if (bad !== undefined) throw invalidRequest('input', `input[${i}] holds token id ${bad}, outside the vocabulary (0..${info.vocab - 1})`);
        });
        const vectors = await runner.embed(tokens);
        const promptTokens = tokens.reduce((sum, ids) => sum + ids.length, 0);
        return {
          object: 'list',
          data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: encode(dimensions && dimensions < v.length ? truncate(v, dimensions) : v, request.encodingFormat) })),
          model: modelId,
          usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
        };
      });
    },
  };
}
