// The models the demo offers beside its built-in one: small instruct models as Hugging Face publishes them
// (Q4_K_M GGUF files from the models' own or widely used GGUF repositories). `size` is the file's size as
// the repository lists it (the download shows the exact one); `shape` is what the KV cache depends on,
// from the model's config; `contextSize` keeps the memory need within what a browser tab can hold.

export const HUGGING_FACE_MODELS = [
  {
    name: 'Qwen2.5 0.5B Instruct', model: 'hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf',
    size: 491e6, contextSize: 4096, shape: { layers: 24, kvHeads: 2, keyLength: 64, valueLength: 64, trainedContext: 32768, vocab: 151936 },
  },
  {
    name: 'Qwen2.5 1.5B Instruct', model: 'hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf',
    size: 1.12e9, contextSize: 4096, shape: { layers: 28, kvHeads: 2, keyLength: 128, valueLength: 128, trainedContext: 32768, vocab: 151936 },
  },
  {
    name: 'Llama 3.2 1B Instruct', model: 'hf:bartowski/Llama-3.2-1B-Instruct-GGUF/Llama-3.2-1B-Instruct-Q4_K_M.gguf',
    size: 808e6, contextSize: 4096, shape: { layers: 16, kvHeads: 8, keyLength: 64, valueLength: 64, trainedContext: 131072, vocab: 128256 },
  },
  {
    name: 'SmolLM2 1.7B Instruct', model: 'hf:bartowski/SmolLM2-1.7B-Instruct-GGUF/SmolLM2-1.7B-Instruct-Q4_K_M.gguf',
    size: 1.06e9, contextSize: 2048, shape: { layers: 24, kvHeads: 32, keyLength: 64, valueLength: 64, trainedContext: 8192, vocab: 49152 },
  },
  {
    name: 'Gemma 3 1B it', model: 'hf:bartowski/google_gemma-3-1b-it-GGUF/google_gemma-3-1b-it-Q4_K_M.gguf',
    size: 806e6, contextSize: 4096, shape: { layers: 26, kvHeads: 1, keyLength: 256, valueLength: 256, trainedContext: 32768, vocab: 262144 },
  },
  {
    name: 'Phi-3.5 mini instruct', model: 'hf:bartowski/Phi-3.5-mini-instruct-GGUF/Phi-3.5-mini-instruct-Q4_K_M.gguf',
    // Its KV cache takes 0.79 MB a token (no grouped-query attention): 1024 tokens keep it within the 4 GB of WebAssembly.
    size: 2.39e9, contextSize: 1024, shape: { layers: 32, kvHeads: 32, keyLength: 96, valueLength: 96, trainedContext: 131072, vocab: 32064 },
  },
];

/**
 * The embedding model of the Notes view: bge-small-en-v1.5 (BAAI), a 33M-parameter BERT encoder (384
 * dimensions, 512 tokens of context), in Q8_0 from a GGUF conversion by llama.cpp. `size` is its parameters
 * at Q8_0's 8.5 bits (the download shows the exact one).
 */
export const NOTES_MODEL = {
  name: 'bge-small-en-v1.5', model: 'hf:ChristianAzinn/bge-small-en-v1.5-gguf/bge-small-en-v1.5.Q8_0.gguf', size: 36e6,
};

/** What the built-in story model is, shown while it is chosen. */
export const STORIES_NOTE = 'stories260K is a tiny story generator (260 thousand parameters, trained on short children\'s stories), '
  + 'not a chat model: it continues the text it is given. Choose an instruct model below it to chat.';

/** The Hugging Face page of a "hf:owner/repo/file" reference. */
export function repositoryPage(model) {
  const [owner, repo] = model.slice(3).split('/');
  return `https://huggingface.co/${owner}/${repo}`;
}
