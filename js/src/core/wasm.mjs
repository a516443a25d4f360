// A thin JavaScript face on the C ABI (tabllm.h): copies bytes and strings across the WebAssembly heap
// boundary and turns failures into exceptions. It does no I/O, so every host (Web Worker, Service
// Worker, Node) uses it the same way:
//
//   import createTabllmModule from './build-wasm/tabllm.mjs';
//   const tabllm = bindTabllm(await createTabllmModule({ pthreadPoolSize: 4 }));
//   const model = tabllm.loadModel(ggufBytes);
//   const session = model.createSession({ threads: 4 });
//   for (const chunk of session.stream('Once upon a time', { max_tokens: 64 })) show(chunk);

export class TabllmError extends Error {
  constructor(message) {
    super(message);
    this.name = 'TabllmError';
  }
}

export function bindTabllm(module) {
  const abi = new Abi(module);
  return {
    buildInfo: () => JSON.parse(abi.string(module._tabllm_build_info())),
    // Copies `bytes` (a Uint8Array holding a GGUF file) into the heap; the model keeps that copy.
    loadModel(bytes) {
      const ptr = abi.malloc(bytes.length);
      abi.heapU8().set(bytes, ptr);
      return new Model(abi, abi.check(module._tabllm_model_load(ptr, bytes.length) >>> 0));
    },
    // Loads a GGUF file of `size` bytes that `fill(write)` delivers piece by piece — from a fetch() stream or
    // a file — straight into the heap, so a large model is never held twice in memory. fill may be async and
    // calls write(chunk) with consecutive Uint8Arrays.
    async loadModelStreaming(size, fill) {
      const ptr = abi.malloc(size);
      let offset = 0;
      try {
        await fill((chunk) => {
          if (offset + chunk.length > size) throw new TabllmError(`the model has more than the announced ${size} bytes`);
          abi.heapU8().set(chunk, ptr + offset);
          offset += chunk.length;
        });
        if (offset !== size) throw new TabllmError(`the model has ${offset} bytes, not the announced ${size}`);
      } catch (error) {
        module._free(ptr);
        throw error;
      }
      return new Model(abi, abi.check(module._tabllm_model_load(ptr, size) >>> 0));
    },
    // A model from the leading bytes of its GGUF file — config and tokenizer only, no weights — for a host
    // that runs the forward pass itself (WebGPU). `read(offset, length)` (may be async) returns file bytes;
    // only the header is read.
    async loadModelHeader(read, size = Infinity) {
      let prefix = await read(0, Math.min(size, 1 << 20));
      for (;;) {
        const needed = abi.withBytes(prefix, (p) => module._tabllm_model_header_size(p, prefix.length));
        if (needed === -2) throw new TabllmError(abi.lastError());
        if (needed >= 0 && needed <= prefix.length) break;
        const want = needed >= 0 ? needed : Math.min(size, prefix.length * 4);
        if (want <= prefix.length) throw new TabllmError(`the GGUF header is truncated: the file ends after ${prefix.length} bytes`);
        prefix = await read(0, want);
      }
      return new Model(abi, abi.check(abi.withBytes(prefix, (p) => module._tabllm_model_load_header(p, prefix.length) >>> 0)));
    },
    // Ends the module's pthread workers: Node keeps a process alive while they exist.
    shutdown: () => module.PThread?.terminateAllThreads(),
  };
}

class Abi {
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
    const ptrs = strings.map((s) => {
      const size = this.m.lengthBytesUTF8(s) + 1;
      const ptr = this.malloc(size);
      this.m.stringToUTF8(s, ptr, size);
      return ptr;
    });
    try {
      return fn(...ptrs);
    } finally {
      ptrs.forEach((p) => this.m._free(p));
    }
  }

  // Calls fn with a heap copy of `bytes`, freed afterwards.
  withBytes(bytes, fn) {
    const ptr = this.malloc(Math.max(bytes.length, 1));
    try {
      this.heapU8().set(bytes, ptr);
      return fn(ptr);
    } finally {
      this.m._free(ptr);
    }
  }

  string(ptr) {
    return this.m.UTF8ToString(ptr >>> 0);
  }

  lastError() {
    return this.string(this.m._tabllm_last_error());
  }

  // Pointer and handle results: 0 means failure.
  check(ptr) {
    if (ptr === 0) throw new TabllmError(this.lastError());
    return ptr;
  }

  checkStatus(status) {
    if (status !== 0) throw new TabllmError(this.lastError());
  }

  json(ptr) {
    return JSON.parse(this.string(this.check(ptr >>> 0)));
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

  // Checks and compiles a response_format for this model (kept for the requests that use it):
  // {ok: true, warnings: [...]} or {ok: false, param, message}.
  checkFormat(responseFormat) {
    return this.abi.withStrings([JSON.stringify(responseFormat)], (p) => this.abi.json(this.abi.m._tabllm_format_check(this.handle, p)));
  }

  // threads: including the calling thread, each extra one takes a worker from the module's pthread pool.
  createSession({ threads = 1, kernels = 'simd', contextSize = 0 } = {}) {
    const handle = this.abi.withStrings([kernels], (k) => this.abi.m._tabllm_session_create(this.handle, threads, k, contextSize) >>> 0);
    return new Session(this.abi, this.abi.check(handle), this.info().vocab);
  }

  // A session whose forward pass the host runs (pending / advance / advanceToken).
  createExternalSession({ contextSize = 0 } = {}) {
    const handle = this.abi.m._tabllm_session_create_external(this.handle, contextSize) >>> 0;
    return new Session(this.abi, this.abi.check(handle), this.info().vocab);
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

  // The next chunk of text ('' when held back), or null once finished.
  next() {
    return this.chunkOrEnd(this.abi.m._tabllm_generate_next(this.handle));
  }

  // The host-driven step: {tokens: Int32Array (a copy), pos} for the host's forward pass; tokens is empty
  // when the next advance needs no logits (the generation is finishing).
  pending() {
    const scratch = this.abi.malloc(8);
    try {
      const n = this.abi.m._tabllm_generate_pending(this.handle, scratch, scratch + 4);
      if (n < 0) throw new TabllmError(this.abi.lastError());
      const words = new Uint32Array(this.abi.heapU8().buffer, scratch, 2);
      const tokensPtr = words[0], pos = words[1];
      const tokens = n > 0 ? new Int32Array(this.abi.heapU8().buffer, tokensPtr, n).slice() : new Int32Array(0);
      return { tokens, pos };
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

  // The tokens the last step took: [{id, bytes, logprob?, top_logprobs?}].
  lastTokens() {
    return this.abi.json(this.abi.m._tabllm_generate_last_tokens(this.handle));
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
    if (this.maskPtr) this.abi.m._free(this.maskPtr);
    this.handle = this.maskPtr = 0;
  }
}
