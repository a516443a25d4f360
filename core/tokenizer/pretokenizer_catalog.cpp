#include "tokenizer/pretokenizer_catalog.h"

namespace tabllm {
namespace {

// The contractions, case-insensitive as (?i:...) folds them.
#define CONTRACTIONS R"re((?i:'s|'t|'re|'ve|'m|'ll|'d))re"

constexpr std::string_view kGpt2 = R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kLlama3 = CONTRACTIONS
    R"re(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kQwen2 = CONTRACTIONS
    R"re(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kCjk = R"re([一-龥ࠀ-一가-퟿]+)re";
// Letters with their case pattern (one word per capitalised run), shared by Tekken, GPT-4o and Tiny Aya.
#define CASED_WORD R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)re"
#define CAPITALISED_WORD R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*)re"
#define DEEPSEEK3_WORDS \
  R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"
constexpr std::string_view kBloom = R"re( ?[^(\s|.,!?…。，、।۔،)]+)re";

using H = HandWrittenSplit;

const std::vector<PreTokenizerSpec> kCatalog = {
    // llama.cpp's fallback for BPE files that name no pre-tokenizer.
    {{"default"}, {R"re([\p{P}\$\+<=>\^~\|]+)re", kGpt2, R"re(\p{N}+)re", R"re([0-9][0-9][0-9])re"}},
    {{"gpt-2", "gpt2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
      "modern-bert", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4", "jina-v1-en", "jina-v2-code",
      "roberta-bpe"},
     {kGpt2}, H::Gpt2},
    {{"llama-bpe", "llama3", "llama-v3", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"},
     {kLlama3}, H::Llama3, /*ignore_merges=*/true, /*add_bos=*/true},
    {{"dbrx", "smaug-bpe", "glm4", "chatglm-bpe"}, {kLlama3}, H::Llama3},
    {{"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "stablelm2", "hunyuan", "solar-open", "megrez", "grok-2"},
     {kQwen2}, H::Qwen2},
    {{"qwen35"},
     {CONTRACTIONS R"re(|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"}},
    {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"},
     {R"re(\p{N})re", kGpt2}, H::Starcoder},
    {{"falcon"}, {R"re([\p{P}\$\+<=>\^~\|`]+)re", kGpt2, R"re([0-9][0-9][0-9])re"}},
    {{"deepseek-llm"},
     {R"re([\r\n])re", R"re(\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+)re", R"re(\s?[!-/:-~！-／：-～‘-‟　-。]+)re", R"re(\s+$)re", kCjk, R"re(\p{N}+)re"},
     H::DeepseekLlm},
    {{"deepseek-coder"}, {R"re([\r\n])re", R"re(\s?\p{L}+)re", R"re(\s?\p{P}+)re", kCjk, R"re(\p{N})re"}, H::DeepseekCoder},
    {{"deepseek-v3", "hunyuan-dense", "joyai-llm"}, {R"re(\p{N}{1,3})re", R"re([一-龥぀-ゟ゠-ヿ]+)re", DEEPSEEK3_WORDS}},
    {{"afmoe"},
     {R"re(\p{N}{1,3}(?=(?:\p{N}{3})*(?!\p{N})))re",
      R"re([一-鿿㐀-䶿豈-﫿぀-ゟ゠-ヿ･-ﾟ⼀-⿟เ-๿຀-໿ក-៿က-႟ꩠ-ꩿꧠ-꧿가-힯ᄀ-ᇿ]+)re", DEEPSEEK3_WORDS}},
    {{"tekken"},
     {CASED_WORD "|" CAPITALISED_WORD R"re(|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"},
     H::None, /*ignore_merges=*/true, /*add_bos=*/true},
    {{"gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"},
     {CASED_WORD CONTRACTIONS "?|" CAPITALISED_WORD CONTRACTIONS
      R"re(?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"}},
    {{"granite-embed-multi-97m"},
     {R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)re" CONTRACTIONS
      R"re(?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*)re" CONTRACTIONS
      R"re(?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"},
     H::None, /*ignore_merges=*/true},
    {{"tiny_aya", "cohere2moe"},
     {R"re(\d{1,3}(?=(?:\d{3})*\b))re",
      CASED_WORD CONTRACTIONS "?|" CAPITALISED_WORD CONTRACTIONS
      R"re(?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"}},
    {{"youtu"},
     {R"re([가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+)re",
      CASED_WORD CONTRACTIONS "?|" CAPITALISED_WORD CONTRACTIONS
      R"re(?|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"},
     H::None, /*ignore_merges=*/true},
    {{"kimi-k2"},
     {R"re([\p{Han}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+)re" CONTRACTIONS
      R"re(?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*)re" CONTRACTIONS
      R"re(?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"}},
    {{"jais-2"},
     {CONTRACTIONS R"re(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1})re"}},
    {{"poro-chat", "bloom", "gpt3-finnish"}, {kBloom}},
    {{"viking"}, {kBloom, R"re(\p{N})re"}},
    {{"chameleon"},
     {R"re(<sentinel:[0-9]+>)re", R"re((IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z)re", R"re(([\t\n]|    |  ))re",
      R"re(\p{N})re", R"re([\p{P}!-/:-@\[-`{-~])re", kGpt2},
     H::None, /*ignore_merges=*/false, /*add_bos=*/true},
    {{"superbpe"}, {R"re(\p{N}+)re", R"re((?=(\d{3})+(?!\d)))re"}},
    {{"bailingmoe", "bailingmoe2", "llada-moe"},
     {R"re('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)re"}},
    {{"seed-coder"},
     {CONTRACTIONS R"re(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)re"}},
    {{"exaone-moe"},
     {CONTRACTIONS R"re(|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+)re"}},
    // Only line breaks are split off: merges run over whole lines of "▁"-escaped text.
    {{"gemma4", "granite-embed-multi-311m", "sarvam-moe"}, {R"re([^\n]+|[\n]+)re"}, H::None, false, /*add_bos=*/true,
     /*sentencepiece_style=*/true},
    {{"minicpm5"},
     {R"re(\p{N}{1,3})re",
      CONTRACTIONS R"re(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"},
     H::None, /*ignore_merges=*/true},
};

#undef CONTRACTIONS
#undef CASED_WORD
#undef CAPITALISED_WORD
#undef DEEPSEEK3_WORDS

// tokenizer.json writes some line breaks and tabs literally inside its regexes; the catalog escapes them.
std::string escape_controls(std::string_view regex) {
  std::string out;
  for (char c : regex) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else out += c;
  }
  return out;
}

}  // namespace

const std::vector<PreTokenizerSpec>& pre_tokenizer_catalog() { return kCatalog; }

const PreTokenizerSpec* find_pre_tokenizer(std::string_view name) {
  for (const PreTokenizerSpec& spec : kCatalog) {
    for (std::string_view n : spec.names) {
      if (n == name) return &spec;
    }
  }
  return nullptr;
}

const PreTokenizerSpec* find_pre_tokenizer_by_regexes(const std::vector<std::string>& regexes) {
  for (const PreTokenizerSpec& spec : kCatalog) {
    if (spec.regexes.size() != regexes.size()) continue;
    bool same = true;
    for (size_t i = 0; same && i < regexes.size(); ++i) same = escape_controls(regexes[i]) == escape_controls(spec.regexes[i]);
    if (same) return &spec;
  }
  return nullptr;
}

std::string supported_pre_tokenizer_names() {
  std::string out;
  for (const PreTokenizerSpec& spec : kCatalog) {
    if (!out.empty()) out += ", ";
    out += spec.names[0];
  }
  return out;
}

}  // namespace tabllm
