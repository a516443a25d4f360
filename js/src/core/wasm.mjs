// The one JavaScript module that calls into WebAssembly (tabllm.h): copies bytes and strings across the
// heap boundary and turns failures into exceptions. It does no I/O, so every host (Web Worker, Service
// Worker, Node) uses it the same way:
//
//   import createTabllmModule from './build-wasm/tabllm.mjs';
//   const tabllm = bindTabllm(await createTabllmModule({ pthreadPoolSize: 4 }));
//   const model = tabllm.loadModel(ggufBytes);   // or loadModelStreaming(size, fill): never held twice
//   const session = model.createSession({ threads: 4 });
//   for (const chunk of session.stream('Once upon a time', { max_tokens: 64 })) show(chunk);
//
// A request is checked once (Model.prepare: parameters, response_format, the prompt's tokens) and
// started once per choice (Session.start). The WebGPU executor (js/src/gpu) gets its plans from here too
// (Model.planWebgpu); the development module's exports (scalar reference ops, per-kernel plans) are
// wrapped in ./dev.mjs, for tests only.

export class TabllmError extends Error {
  /**
   * @param {string} message
   * @param {string|null} [param] the request parameter at fault, when one is
   * @param {string|null} [code] what was wrong with it: 'invalid_type' or 'invalid_value'
   */
  constructor(message, param = null, code = null) {
    super(message);
    this.name = 'TabllmError';
    this.param = param;
    this.code = code;
  }
}

export function bindTabllm(module) {
  const abi = new CoreAbi(module);
  return {
    buildInfo: () => JSON.parse(abi.string(module._tabllm_build_info())),
    // {header_parses, tokenizations, format_parses} since the module started (tabllm_debug_stats).
    debugStats: () => JSON.parse(abi.string(module._tabllm_debug_stats())),
    // {heap_bytes (the heap's size: it only grows), in_use_bytes (allocated, not freed)}: tabllm_heap_stats.
    heapStats: () => JSON.parse(abi.string(module._tabllm_heap_stats())),
    // Copies `bytes` (a Uint8Array holding a GGUF file) into the heap; the model keeps that copy.
    // options.maxPieceBytes: the bound on each heap block of its tensor data (0: the core's; tests lower it).
    loadModel(bytes, options = {}) {
      const loader = new ModelLoader(abi, bytes.length, options);
      try {
        loader.write(bytes);
        return loader.finish();
      } catch (error) {
        loader.free();
        throw error;
      }
    },
    // Loads a GGUF file of `size` bytes that `fill(write)` delivers piece by piece — from a fetch() stream or
    // a file — straight into the heap, so a large model is never held twice in memory. fill may be async and
    // calls write(chunk) with consecutive Uint8Arrays (it may reuse a chunk's buffer once write returns).
    // A failed load frees everything it took. options as loadModel's.
    async loadModelStreaming(size, fill, options = {}) {
      const loader = new ModelLoader(abi, size, options);
      try {
        await fill((chunk) => loader.write(chunk));
        return loader.finish();
      } catch (error) {
        loader.free();
        throw error;
      }
    },
    // A model from the leading bytes of its GGUF file — config and tokenizer only, no weights — for a host
    // that runs the forward pass itself (WebGPU). `read(offset, length)` (may be async) returns file bytes;
    // only the header (and the small rope_freqs tensor a WebGPU plan needs) is read, and parsed once.
    async loadModelHeader(read, size = Infinity) {
      let prefix = await read(0, Math.min(size, 1 << 20));
      const scratch = abi.malloc(8);
      try {
        for (;;) {
          const handle = abi.withBytes(prefix, (p) => module._tabllm_model_load_header(p, prefix.length, scratch) >>> 0);
          if (handle) return new Model(abi, handle);
          const needed = new Float64Array(abi.heapU8().buffer, scratch, 1)[0];
          if (needed === 0) throw new TabllmError(abi.lastError());
          const want = needed > 0 ? needed : Math.min(size, prefix.length * 4);
          if (want <= prefix.length) throw new TabllmError(`the GGUF header is truncated: the file ends after ${prefix.length} bytes`);
          prefix = await read(0, want);
        }
      } finally {
        module._free(scratch);
      }
    },
    // Ends the module's pthread workers: Node keeps a process alive while they exist.
    shutdown: () => module.PThread?.terminateAllThreads(),
  };
}

/** Heap copies, strings and errors over an instantiated tabllm module: the only code that touches its
 * heap, malloc/free and the exported functions (every other module goes through the classes here). */
export class CoreAbi {
  /** @param {any} module an instantiated tabllm Emscripten module */
  constructor(module) {
    this.m = module;
  }

  // The heap's current buffer: memory growth replaces it, possibly from another thread.
  heapU8() {
    return new Uint8Array((this.m.wasmMemory ?? this.m.HEAPU8).buffer);
  }

  malloc(size) {
    const ptr = this.m._malloc(size) >>> 0;
    if (ptr === 0 && size > 0) throw new TabllmError(`out of memory: could not allocate ${size} bytes in the WebAssembly heap`);
    return ptr;
  }

  // Calls fn with NUL-ended UTF-8 copies of `strings` in the heap, freed afterwards.
  withStrings(strings, fn) {
    return this.with(strings, fn);
  }

  // Calls fn with a heap copy of `bytes`, freed afterwards.
  withBytes(bytes, fn) {
    return this.with([bytes], fn);
  }

  /** Copies `bytes` (any typed array) into a new heap block; the caller frees it. */
  copyIn(bytes) {
    const u8 = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const ptr = this.malloc(Math.max(u8.byteLength, 1));
    this.heapU8().set(u8, ptr);
    return ptr;
  }

  /** Runs fn(...pointers) with strings and typed arrays copied in (null/undefined: a NULL pointer), freed afterwards. */
  with(args, fn) {
    const ptrs = [];
    try {
      for (const a of args) {
        if (a === null || a === undefined) ptrs.push(0);
        else if (typeof a === 'string') ptrs.push(this.stringIn(a));
        else ptrs.push(this.copyIn(a));
      }
      return fn(...ptrs);
    } finally {
      for (const p of ptrs) if (p) this.m._free(p);
    }
  }

  stringIn(text) {
    const size = this.m.lengthBytesUTF8(text) + 1;
    const ptr = this.malloc(size);
    this.m.stringToUTF8(text, ptr, size);
    return ptr;
  }

  /** Calls fn(out) with a heap block of `floats` floats (filled from `init` when given) and returns a copy of it. */
  floatsOut(floats, fn, init = null) {
    const out = this.malloc(floats * 4);
    try {
      if (init) this.heapU8().set(new Uint8Array(init.buffer, init.byteOffset, init.byteLength), out);
      fn(out);
      return new Float32Array(this.heapU8().buffer.slice(out, out + floats * 4));
    } finally {
      this.m._free(out);
    }
  }

  string(ptr) {
    return this.m.UTF8ToString(ptr >>> 0);
  }

  lastError() {
    return this.string(this.m._tabllm_last_error());
  }

  // The last failure as an exception, with the request parameter it names and what was wrong with it.
  error() {
    return new TabllmError(this.lastError(), this.string(this.m._tabllm_last_error_param()) || null,
      this.string(this.m._tabllm_last_error_code()) || null);
  }

  // Pointer and handle results: 0 means failure.
  check(ptr) {
    if (ptr === 0) throw this.error();
    return ptr;
  }

  checkStatus(status) {
    if (status !== 0) throw this.error();
  }

  // Counts: -1 means failure.
  checkCount(n) {
    if (n < 0) throw this.error();
    return n;
  }

  /** Reads a WebGPU plan handle into {plan, blob} and frees it. */
  takePlan(handle) {
    handle = this.check(handle >>> 0);
    try {
      const plan = JSON.parse(this.string(this.m._tabllm_webgpu_plan_json(handle)));
      const ptr = this.m._tabllm_webgpu_plan_blob(handle) >>> 0;
      const size = this.m._tabllm_webgpu_plan_blob_size(handle) >>> 0;
      return { plan, blob: this.heapU8().slice(ptr, ptr + size) };
    } finally {
      this.m._tabllm_webgpu_plan_free(handle);
    }
  }

  json(ptr) {
    return JSON.parse(this.string(this.check(ptr >>> 0)));
  }
}

// A whole model on its way into the heap (tabllm_loader_create): the first chunks are kept until they hold
// the GGUF header; from then on every byte goes straight to its place in one of the model's heap pieces.
class ModelLoader {
  constructor(abi, size, { maxPieceBytes = 0 } = {}) {
    this.abi = abi;
    this.size = size;
    this.maxPieceBytes = maxPieceBytes;
    this.received = 0;
    this.head = [];           // copies of the chunks that came before the header was complete
    this.headBytes = 0;
    this.tryBytes = 1 << 20;  // how much of the head the core parses next: 1 MB, doubled until the header fits
    this.handle = 0;
    this.pieces = [];         // {ptr, start, end}: file bytes [start, end) go to ptr, in file order
    this.next = 0;            // the pieces before it are complete
  }

  write(chunk) {
    if (this.received + chunk.length > this.size) throw new TabllmError(`the model has more than the announced ${this.size} bytes`);
    const at = this.received;
    this.received += chunk.length;
    if (this.handle) return this.store(chunk, at);
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes >= this.tryBytes || this.received === this.size) this.create();
    // Kept past this call: a copy, since the caller may reuse its buffer.
    if (!this.handle) this.head[this.head.length - 1] = chunk.slice();
  }

  // Hands the core the head's first 1, 2, 4... MB (never a large chunk whole) until they hold the header;
  // then the core has allocated the pieces, and the head goes into them.
  create() {
    const m = this.abi.m;
    for (;;) {
      const prefix = this.prefix(Math.min(this.headBytes, this.tryBytes));
      this.handle = this.abi.withBytes(prefix, (p) => m._tabllm_loader_create(p, prefix.length, this.size, this.maxPieceBytes) >>> 0);
      if (this.handle) break;
      if (this.abi.lastError()) throw this.abi.error();
      this.tryBytes *= 2;
      if (prefix.length === this.headBytes) return;  // the header goes on past what has come
    }
    const count = this.abi.checkCount(m._tabllm_loader_pieces(this.handle));
    const scratch = this.abi.malloc(16);
    try {
      for (let i = 0; i < count; i++) {
        const ptr = this.abi.check(m._tabllm_loader_piece(this.handle, i, scratch, scratch + 8) >>> 0);
        const [start, size] = new Float64Array(this.abi.heapU8().buffer, scratch, 2);
        this.pieces.push({ ptr, start, end: start + size });
      }
    } finally {
      m._free(scratch);
    }
    let at = 0;
    for (const chunk of this.head) {
      this.store(chunk, at);
      at += chunk.length;
    }
    this.head = [];
  }

  // The head's first n bytes, as one array.
  prefix(n) {
    const out = new Uint8Array(n);
    for (let i = 0, at = 0; at < n; at += this.head[i++].length) out.set(this.head[i].subarray(0, n - at), at);
    return out;
  }

  // Copies file bytes [at, at + bytes.length) into the pieces they belong to (padding between pieces is dropped).
  store(bytes, at) {
    const end = at + bytes.length;
    const heap = this.abi.heapU8();
    while (this.next < this.pieces.length && this.pieces[this.next].end <= at) this.next++;
    for (let i = this.next; i < this.pieces.length && this.pieces[i].start < end; i++) {
      const p = this.pieces[i];
      const from = Math.max(at, p.start), to = Math.min(end, p.end);
      if (from < to) heap.set(bytes.subarray(from - at, to - at), p.ptr + (from - p.start));
    }
  }

  finish() {
    if (this.received !== this.size) throw new TabllmError(`the model has ${this.received} bytes, not the announced ${this.size}`);
    if (!this.handle) this.create();
    if (!this.handle) throw new TabllmError(`the GGUF header is truncated: the file ends after ${this.size} bytes`);
    const handle = this.handle;
    this.handle = 0;  // tabllm_loader_finish frees the loader, whatever it returns
    return new Model(this.abi, this.abi.check(this.abi.m._tabllm_loader_finish(handle) >>> 0));
  }

  free() {
    this.abi.m._tabllm_loader_free(this.handle);
    this.handle = 0;
  }
}

class Model {
  constructor(abi, handle) {
    this.abi = abi;
    this.handle = handle;
  }

  info() {
    return this.abi.json(this.abi.m._tabllm_model_info(this.handle));
  }

  tokenize(text, addBos = true) {
    return this.abi.withStrings([text], (p) => this.abi.json(this.abi.m._tabllm_tokenize(this.handle, p, addBos ? 1 : 0)));
  }

  // A request checked once for all of its starts (Session.start): the parameters (tabllm.h), the
  // response_format compiled, the prompt tokenized. Throws TabllmError naming the parameter at fault.
  prepare(prompt, params = {}) {
    const handle = this.abi.withStrings([prompt, JSON.stringify(params)], (p, j) => this.abi.m._tabllm_request_create(this.handle, p, j) >>> 0);
    return new Request(this.abi, this.abi.check(handle));
  }

  /** @returns {{plan: object, blob: Uint8Array}} this model's WebGPU plan (options: limits, context_size, max_batch, ...) */
  planWebgpu(options = {}) {
    return this.abi.takePlan(this.abi.withStrings([JSON.stringify(options)], (o) => this.abi.m._tabllm_webgpu_plan_model(this.handle, o)));
  }

  // threads: including the calling thread, each extra one takes a worker from the module's pthread pool.
  // kvType: the KV cache's element type, 'f16', 'q8_0' or 'f32'.
  // kvBudget (bytes) with kvPageStore (synchronous put(name, bytes), get(name), remove(name); kv_pager.mjs):
  // the cache holds the window the budget holds, older rows go to the store (tabllm_session_create_paged),
  // and up to recallPositions positions of them come back before a long prompt's last piece.
  createSession({ threads = 1, kernels = 'simd', contextSize = 0, kvType = 'f16', kvBudget = 0, kvPageStore = null, recallPositions = 0 } = {}) {
    if (!kvBudget) {
      const handle = this.abi.withStrings([kernels, kvType], (k, t) => this.abi.m._tabllm_session_create(this.handle, threads, k, contextSize, t) >>> 0);
      return new Session(this.abi, this.abi.check(handle), this.info().vocab);
    }
    if (!kvPageStore) throw new TypeError('a kvBudget needs a kvPageStore: where the rows beyond the budget go');
    const handle = this.abi.withStrings([kernels, kvType], (k, t) =>
      this.abi.m._tabllm_session_create_paged(this.handle, threads, k, contextSize, t, kvBudget, recallPositions) >>> 0);
    const session = new Session(this.abi, this.abi.check(handle), this.info().vocab);
    // The core finds the store by its session's handle (wasm/host_kv_store.h).
    (this.abi.m.tabllmKvPageStores ??= new Map()).set(handle, kvPageStore);
    return session;
  }

  /** An embedder on the CPU (an embedding model: info().kind === 'embedding'); threads and kernels as createSession. */
  createEmbedder({ threads = 1, kernels = 'simd' } = {}) {
    const handle = this.abi.withStrings([kernels], (k) => this.abi.m._tabllm_embedder_create(this.handle, threads, k) >>> 0);
    return new Embedder(this.abi, this.abi.check(handle), this.info().dim);
  }

  /** The token ids of one embedding input, with the special tokens the model puts around it ([CLS] … [SEP]). */
  embedTokenize(text) {
    return this.abi.withStrings([text], (p) => this.abi.json(this.abi.m._tabllm_embed_tokenize(this.handle, p)));
  }

  // A session whose forward pass the host runs (pending / advance / advanceToken). With kvType (the GPU's
  // rows: tabllm_session_create_external_kv) its rows cross as KV pages (stageRows, takeKvWrites); with
  // kvBudget (bytes) and kvPageStore too, the host's cache is the window the budget holds
  // (info().kv_window) and the rows a shift drops go to the store once the host hands them over (pageOut).
  createExternalSession({ contextSize = 0, kvType = null, kvBudget = 0, kvPageStore = null } = {}) {
    if (!kvType) {
      if (kvBudget) throw new TypeError('a kvBudget needs the kvType of the host\'s cache');
      const handle = this.abi.m._tabllm_session_create_external(this.handle, contextSize) >>> 0;
      return new Session(this.abi, this.abi.check(handle), this.info().vocab);
    }
    if (kvBudget && !kvPageStore) throw new TypeError('a kvBudget needs a kvPageStore: where the rows beyond the budget go');
    const handle = this.abi.withStrings([kvType], (t) => this.abi.m._tabllm_session_create_external_kv(this.handle, contextSize, t, kvBudget || 0) >>> 0);
    const session = new Session(this.abi, this.abi.check(handle), this.info().vocab);
    if (kvBudget) (this.abi.m.tabllmKvPageStores ??= new Map()).set(handle, kvPageStore);
    return session;
  }

  // Sessions keep the model alive until they are freed too.
  free() {
    this.abi.m._tabllm_model_free(this.handle);
    this.handle = 0;
  }
}

class Session {
  constructor(abi, handle, vocabSize) {
    this.abi = abi;
    this.handle = handle;
    this.vocabSize = vocabSize;
  }

  // params: max_tokens, temperature, top_k, top_p, min_p, seed, repeat_penalty, repeat_last_n,
  // frequency_penalty, presence_penalty, logit_bias, stop, ignore_eos, add_bos, logprobs, response_format
  // (see tabllm.h).
  begin(prompt, params = {}) {
    this.abi.withStrings([prompt, JSON.stringify(params)], (p, j) =>
      this.abi.checkStatus(this.abi.m._tabllm_generate_begin(this.handle, p, j)));
  }

  // Starts a prepared request (Model.prepare), with `params` over its own for this start (seed, max_tokens).
  start(request, params = {}) {
    this.abi.withStrings([JSON.stringify(params)], (j) => this.abi.checkStatus(this.abi.m._tabllm_generate_start(this.handle, request.handle, j)));
  }

  // The next chunk of text ('' when held back), or null once finished.
  next() {
    return this.chunkOrEnd(this.abi.m._tabllm_generate_next(this.handle));
  }

  // The host-driven step: {tokens: Int32Array (a copy), pos, shift} for the host's forward pass; tokens is
  // empty when the next advance needs no logits (the generation is finishing). shift, when not null, is a
  // context shift {keep, discard, end} the host must run on its KV cache first (handed out once).
  pending() {
    const scratch = this.abi.malloc(12);
    try {
      const shifted = this.abi.m._tabllm_generate_pending_shift(this.handle, scratch, scratch + 4, scratch + 8);
      if (shifted < 0) throw new TabllmError(this.abi.lastError());
      const [keep, discard, end] = new Int32Array(this.abi.heapU8().buffer, scratch, 3);
      const shift = shifted === 1 ? { keep, discard, end } : null;
      const n = this.abi.m._tabllm_generate_pending(this.handle, scratch, scratch + 4);
      if (n < 0) throw new TabllmError(this.abi.lastError());
      const words = new Uint32Array(this.abi.heapU8().buffer, scratch, 2);
      const tokensPtr = words[0], pos = words[1];
      const tokens = n > 0 ? new Int32Array(this.abi.heapU8().buffer, tokensPtr, n).slice() : new Int32Array(0);
      return { tokens, pos, shift };
    } finally {
      this.abi.m._free(scratch);
    }
  }

  // Whether the request lets the host take the argmax itself (advanceToken).
  hostCanSample() {
    const r = this.abi.m._tabllm_generate_host_can_sample(this.handle);
    if (r < 0) throw new TabllmError(this.abi.lastError());
    return r === 1;
  }

  // Under a response_format: the tokens allowed next, as a bitset (a Uint32Array of (vocab + 31) / 32 words,
  // valid until the next call; the host copies it to the GPU); null when the request has no format.
  allowedTokens() {
    const words = Math.ceil(this.vocabSize / 32);
    this.maskPtr ||= this.abi.malloc(words * 4);
    const r = this.abi.m._tabllm_generate_allowed_tokens(this.handle, this.maskPtr, words);
    if (r < 0) throw new TabllmError(this.abi.lastError());
    return r === 1 ? new Uint32Array(this.abi.heapU8().buffer, this.maskPtr, words) : null;
  }

  // Samples from the last pending token's logits (a Float32Array of vocab values; null when pending was
  // empty): the next chunk of text, or null once finished (as next()).
  advance(logits) {
    if (!logits) return this.chunkOrEnd(this.abi.m._tabllm_generate_advance(this.handle, 0));
    if (logits.length < this.vocabSize) throw new TabllmError(`advance needs ${this.vocabSize} logits, got ${logits.length}`);
    const ptr = this.abi.malloc(this.vocabSize * 4);
    try {
      new Float32Array(this.abi.heapU8().buffer, ptr, this.vocabSize).set(logits.subarray(0, this.vocabSize));
      return this.chunkOrEnd(this.abi.m._tabllm_generate_advance(this.handle, ptr));
    } finally {
      this.abi.m._free(ptr);
    }
  }

  // Takes the token the host chose (greedy on the GPU): as advance().
  advanceToken(id) {
    return this.chunkOrEnd(this.abi.m._tabllm_generate_advance_token(this.handle, id));
  }

  // Speculative decoding in the host-driven step: drafts at most `most` tokens after the pending one with
  // the request's method (for "draft", `proposed`: the host's draft model's tokens); true when pending()
  // now holds the pending token and its drafts, whose forward call's result goes to advanceVerified
  // (logits rows) or advanceVerifiedTokens (each row's argmax).
  draft(most, proposed = []) {
    const ptr = proposed.length ? this.abi.malloc(proposed.length * 4) : 0;
    try {
      if (ptr) new Int32Array(this.abi.heapU8().buffer, ptr, proposed.length).set(proposed);
      const r = this.abi.m._tabllm_generate_draft(this.handle, most, ptr, proposed.length);
      if (r < 0) throw new TabllmError(this.abi.lastError());
      return r === 1;
    } finally {
      if (ptr) this.abi.m._free(ptr);
    }
  }

  // How many tokens the next step may draft (0: a plain step): what a host's draft model proposes.
  draftRoom(most) {
    const r = this.abi.m._tabllm_generate_draft_room(this.handle, most);
    if (r < 0) throw new TabllmError(this.abi.lastError());
    return r;
  }

  // Takes the verification's logits: a Float32Array of n rows of vocab values, one per pending token.
  advanceVerified(rows) {
    if (rows.length === 0 || rows.length % this.vocabSize !== 0) throw new TabllmError(`advanceVerified needs whole rows of ${this.vocabSize} logits, got ${rows.length} values`);
    const ptr = this.abi.malloc(rows.length * 4);
    try {
      new Float32Array(this.abi.heapU8().buffer, ptr, rows.length).set(rows);
      return this.chunkOrEnd(this.abi.m._tabllm_generate_advance_verified(this.handle, ptr));
    } finally {
      this.abi.m._free(ptr);
    }
  }

  // Takes the argmax of each verified position (greedy, no response_format).
  advanceVerifiedTokens(ids) {
    const ptr = this.abi.malloc(ids.length * 4);
    try {
      new Int32Array(this.abi.heapU8().buffer, ptr, ids.length).set(ids);
      return this.chunkOrEnd(this.abi.m._tabllm_generate_advance_verified_tokens(this.handle, ptr, ids.length));
    } finally {
      this.abi.m._free(ptr);
    }
  }

  // The tokens the last step took: [{id, bytes, logprob?, top_logprobs?}].
  lastTokens() {
    return this.abi.json(this.abi.m._tabllm_generate_last_tokens(this.handle));
  }

  /** {context_size, kv_type, kv_bytes_per_token, cached_tokens} (tabllm_session_info). */
  info() {
    return this.abi.json(this.abi.m._tabllm_session_info(this.handle));
  }

  /** A copy of the checksummed KV page of cached positions [start, end). */
  exportPage(start, end) {
    const size = this.abi.malloc(4);
    try {
      const ptr = this.abi.check(this.abi.m._tabllm_session_export_page(this.handle, start, end, size) >>> 0);
      const n = new Uint32Array(this.abi.heapU8().buffer, size, 1)[0];
      return this.abi.heapU8().slice(ptr, ptr + n);
    } finally {
      this.abi.m._free(size);
    }
  }

  // A host-driven session's cache crosses as rows in the page layout (tabllm_session_stage_rows): the rows
  // of positions [start, start + count) as the host read them back, which exportPage copies from (null:
  // forget them).
  stageRows(start, count, rows) {
    if (!rows) return this.abi.checkStatus(this.abi.m._tabllm_session_stage_rows(this.handle, 0, 0, 0, 0));
    this.abi.withBytes(rows, (ptr) => this.abi.checkStatus(this.abi.m._tabllm_session_stage_rows(this.handle, start, count, ptr, rows.length)));
  }

  // The rows importPage wrote, for the host to write to its cache before the next pending tokens:
  // [{start, count, rows: Uint8Array}] in order (tabllm_session_take_kv_write).
  takeKvWrites() {
    const scratch = this.abi.malloc(12);
    try {
      const writes = [];
      for (;;) {
        const ptr = this.abi.m._tabllm_session_take_kv_write(this.handle, scratch, scratch + 4, scratch + 8) >>> 0;
        if (ptr === 0) {
          const error = this.abi.lastError();
          if (error) throw new TabllmError(error);
          return writes;
        }
        const [start, count, size] = new Int32Array(this.abi.heapU8().buffer, scratch, 3);
        writes.push({ start, count, rows: this.abi.heapU8().slice(ptr, ptr + size) });
      }
    } finally {
      this.abi.m._free(scratch);
    }
  }

  // After a shift of a paged host-driven session and before the host runs it: the rows it drops (those of
  // [keep, keep + discard) in the page layout) go out as KV pages; with `failure` (rows null) they are
  // dropped with a warning (tabllm_generate_page_out).
  pageOut(rows, failure = '') {
    if (!rows) return this.abi.withStrings([failure || 'the rows could not be read back'], (f) => this.abi.checkStatus(this.abi.m._tabllm_generate_page_out(this.handle, 0, 0, f)));
    this.abi.withBytes(rows, (ptr) => this.abi.checkStatus(this.abi.m._tabllm_generate_page_out(this.handle, ptr, rows.length, 0)));
  }

  /** Restores a page for a prepared request's prompt; returns the prompt's positions now cached. */
  importPage(request, bytes) {
    return this.abi.withBytes(bytes, (ptr) => this.abi.checkCount(this.abi.m._tabllm_session_import_page(this.handle, request.handle, ptr, bytes.length)));
  }

  chunkOrEnd(ptr) {
    ptr >>>= 0;
    if (ptr !== 0) return this.abi.string(ptr);
    const error = this.abi.lastError();
    if (error) throw new TabllmError(error);
    return null;
  }

  abort() {
    this.abi.m._tabllm_generate_abort(this.handle);
  }

  // text, finish_reason, token counts and timings of the finished (or aborted) generation.
  result() {
    return this.abi.json(this.abi.m._tabllm_generate_result(this.handle));
  }

  // Yields text chunks as they are generated (empty ones skipped); leaving the loop early aborts.
  *stream(prompt, params = {}) {
    this.begin(prompt, params);
    let finished = false;
    try {
      for (let chunk = this.next(); chunk !== null; chunk = this.next()) if (chunk) yield chunk;
      finished = true;
    } finally {
      if (!finished) this.abort();
    }
  }

  generate(prompt, params = {}) {
    for (const _ of this.stream(prompt, params));
    return this.result();
  }

  // Logits of every position of `ids`: a Float32Array of ids.length * vocab values, row-major.
  logits(ids) {
    const n = ids.length;
    const idsPtr = this.abi.malloc(n * 4);
    const outPtr = this.abi.malloc(n * this.vocabSize * 4);
    try {
      new Int32Array(this.abi.heapU8().buffer, idsPtr, n).set(ids);
      this.abi.checkStatus(this.abi.m._tabllm_logits(this.handle, idsPtr, n, outPtr));
      return new Float32Array(this.abi.heapU8().buffer, outPtr, n * this.vocabSize).slice();
    } finally {
      this.abi.m._free(idsPtr);
      this.abi.m._free(outPtr);
    }
  }

  free() {
    this.abi.m._tabllm_session_free(this.handle);
    this.abi.m.tabllmKvPageStores?.delete(this.handle);
    if (this.maskPtr) this.abi.m._free(this.maskPtr);
    this.handle = this.maskPtr = 0;
  }
}

// Embeddings of batches of token arrays (tabllm_embed).
class Embedder {
  constructor(abi, handle, dim) {
    this.abi = abi;
    this.handle = handle;
    this.dim = dim;
  }

  /** @param {number[][]} inputs token ids @returns {Float32Array[]} one unit-length vector per input */
  embed(inputs) {
    const lengths = Int32Array.from(inputs, (ids) => ids.length);
    const ids = Int32Array.from(inputs.flat());
    const all = this.abi.with([ids, lengths], (idsPtr, lengthsPtr) =>
      this.abi.floatsOut(inputs.length * this.dim, (out) => this.abi.checkStatus(this.abi.m._tabllm_embed(this.handle, idsPtr, lengthsPtr, inputs.length, out))));
    return inputs.map((_, i) => all.subarray(i * this.dim, (i + 1) * this.dim));
  }

  /** @param {string[]} texts each tokenized with its special tokens (tabllm_embed_texts) @returns {Float32Array[]} */
  embedTexts(texts) {
    const all = this.abi.withStrings([JSON.stringify(texts)], (json) =>
      this.abi.floatsOut(texts.length * this.dim, (out) => this.abi.checkStatus(this.abi.m._tabllm_embed_texts(this.handle, json, out))));
    return texts.map((_, i) => all.subarray(i * this.dim, (i + 1) * this.dim));
  }

  free() {
    if (this.handle) this.abi.m._tabllm_embedder_free(this.handle);
    this.handle = 0;
  }
}

// A request checked once (Model.prepare): its prompt's token count and what its format does not enforce.
class Request {
  constructor(abi, handle) {
    this.abi = abi;
    this.handle = handle;
    const info = abi.json(abi.m._tabllm_request_info(handle));
    this.promptTokens = info.prompt_tokens;
    this.warnings = info.warnings;
    this.speculative = info.speculative;  // the method its steps draft with ('off', 'prompt-lookup', 'self')
    this.minSpeedup = null;  // the host's speculative.min_speedup (the WebGPU runner's fallback), when given
  }

  /** The prompt's token ids (before any truncation). */
  tokens() {
    return this.abi.json(this.abi.m._tabllm_request_tokens(this.handle));
  }

  free() {
    if (this.handle) this.abi.m._tabllm_request_free(this.handle);
    this.handle = 0;
  }
}
