// A JSON Schema compiled by the core for a vocabulary of the 256 single bytes plus an end token, through
// the development module's grammar ABI (wasm/dev/tabllm_grammar.h). With one token per byte, a matcher's
// mask is exactly the set of bytes the grammar allows next, so documents can be checked byte by byte and
// sampled by random walks of the compiled grammar.
import { CoreAbi } from '../../js/src/core/wasm.mjs';

const END = 256;

export class ByteGrammars {
  /** @param {any} module the instantiated development module (build-wasm/tabllm-dev.mjs) */
  constructor(module) {
    this.abi = new CoreAbi(module);
    const m = module;
    const data = Uint8Array.from({ length: 256 }, (_, b) => b);
    const lengths = new Uint32Array(257).fill(1);
    lengths[END] = 0;
    this.vocab = this.abi.check(this.abi.with([data, lengths, new Int32Array([END])],
      (d, l, e) => m._tabllm_grammar_vocab_from_bytes(d, l, 257, e, 1)));
    this.words = m._tabllm_grammar_vocab_mask_words(this.vocab);
    this.maskPtr = this.abi.malloc(4 * this.words);
  }

  /**
   * Compiles `schema` (a JSON value) with `options` ({any_property_order, ...}: SchemaOptions).
   * @returns {ByteGrammar} or throws the converter's error
   */
  compile(schema, options = {}) {
    const handle = this.abi.check(this.abi.with([JSON.stringify(schema), JSON.stringify(options)],
      (s, o) => this.abi.m._tabllm_grammar_compile_json_schema(this.vocab, s, o)));
    const stats = JSON.parse(this.abi.string(this.abi.m._tabllm_grammar_compiled_stats(handle)));
    return new ByteGrammar(this, handle, stats.warnings ?? []);
  }

  close() {
    this.abi.m._free(this.maskPtr);
    this.abi.m._tabllm_grammar_vocab_free(this.vocab);
  }
}

class ByteGrammar {
  constructor(owner, handle, warnings) {
    this.owner = owner;
    this.handle = handle;
    this.warnings = warnings;
  }

  #matcher(fn) {
    const m = this.owner.abi.m;
    const matcher = this.owner.abi.check(m._tabllm_grammar_matcher_create(this.handle));
    try {
      return fn(matcher);
    } finally {
      m._tabllm_grammar_matcher_free(matcher);
    }
  }

  /** Whether the grammar accepts `text` whole (byte by byte, then the end token). */
  accepts(text) {
    const bytes = new TextEncoder().encode(text);
    const m = this.owner.abi.m;
    return this.#matcher((matcher) => {
      for (const b of bytes) if (m._tabllm_grammar_matcher_accept_token(matcher, b) !== 1) return false;
      return m._tabllm_grammar_matcher_accept_token(matcher, END) === 1;
    });
  }

  /**
   * A random walk: at each step one of the allowed bytes (or the end) with the weights `weigh(byte, length)`
   * gives (0 for the end token means "not yet"). Returns {text} when the end was reached, {deadEnd: text}
   * when nothing at all was allowed, {tooLong: true} past `maxBytes`.
   */
  sample(random, weigh, maxBytes = 4096) {
    const { abi, words, maskPtr } = this.owner;
    const m = abi.m;
    return this.#matcher((matcher) => {
      const bytes = [];
      for (;;) {
        if (m._tabllm_grammar_matcher_fill_mask(matcher, maskPtr, words) !== 0) throw new Error(abi.lastError());
        const mask = new Uint32Array(abi.heapU8().buffer, maskPtr, words);
        const allowed = [];
        for (let t = 0; t <= END; ++t) if (mask[t >>> 5] & (1 << (t & 31))) allowed.push(t);
        if (allowed.length === 0) return { deadEnd: new TextDecoder().decode(Uint8Array.from(bytes)) };
        if (allowed.length === 1 && allowed[0] === END) break;
        if (bytes.length >= maxBytes) return { tooLong: true };
        const weights = allowed.map((t) => weigh(t === END ? null : t, bytes.length));
        let r = random() * weights.reduce((a, b) => a + b, 0);
        let i = 0;
        while (i < allowed.length - 1 && (r -= weights[i]) >= 0) ++i;
        if (allowed[i] === END) break;
        if (m._tabllm_grammar_matcher_accept_token(matcher, allowed[i]) !== 1)
          throw new Error(`the mask allowed byte ${allowed[i]} but the matcher refused it after ${JSON.stringify(new TextDecoder().decode(Uint8Array.from(bytes)))}`);
        bytes.push(allowed[i]);
      }
      if (m._tabllm_grammar_matcher_accept_token(matcher, END) !== 1) throw new Error('the mask allowed the end token but the matcher refused it');
      return { text: new TextDecoder().decode(Uint8Array.from(bytes)) };
    });
  }

  free() {
    this.owner.abi.m._tabllm_grammar_compiled_free(this.handle);
  }
}
