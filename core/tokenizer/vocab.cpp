#include "tokenizer/vocab.h"

#include <cctype>
#include <fstream>
#include <optional>
#include <string_view>
#include <utility>

#include "common/error.h"
#include "tokenizer/vocab_defaults.h"

namespace tabllm {
namespace {

constexpr const char* kModelKey = "tokenizer.ggml.model";
constexpr const char* kTokensKey = "tokenizer.ggml.tokens";

std::vector<std::string> read_strings(const gguf::Header& header, const std::string& key) {
  std::vector<std::string> out;
  const std::vector<gguf::Value>* array = header.get_array_opt(key);
  if (!array) return out;
  out.reserve(array->size());
  for (const gguf::Value& v : *array) {
    if (v.type != gguf::ValueType::STRING) throw Error("metadata key " + key + " should hold strings");
    out.push_back(v.str);
  }
  return out;
}

// A special-token id from the metadata; ids outside the vocabulary are ignored, as other runtimes do.
void read_token_id(const gguf::Header& header, const std::string& key, size_t n_tokens, int32_t& id) {
  const std::optional<int64_t> value = header.get_int_opt(key);
  if (value && *value >= 0 && *value < static_cast<int64_t>(n_tokens)) id = static_cast<int32_t>(*value);
}

}  // namespace

Vocab Vocab::from_gguf(const gguf::Header& header) {
  Vocab v;
  const std::optional<std::string> model = header.get_string_opt(kModelKey);
  if (!model) {
    throw Error(std::string("the model metadata has no ") + kModelKey +
                ": this GGUF carries no tokenizer (convert the model together with its vocabulary)");
  }
  if (*model == "llama") {
    v.model = Model::SentencePiece;
  } else if (*model == "gpt2") {
    v.model = Model::BytePairEncoding;
  } else if (*model == "gemma4") {  // SentencePiece-style BPE: merges over "▁"-escaped UTF-8
    v.model = Model::BytePairEncoding;
  } else if (*model == "bert") {
    v.model = Model::WordPiece;
  } else {
    // The other models llama.cpp knows, named so that the error says what the file holds.
    static const std::pair<std::string_view, std::string_view> kKnown[] = {
        {"t5", "Unigram (T5)"},       {"rwkv", "RWKV's trie"},
        {"plamo2", "PLaMo-2's"},      {"hybriddna", "HybridDNA's BPE"},
        {"whitespace", "whitespace-split BPE"}};
    std::string message = "unsupported tokenizer model '" + *model + "' (" + kModelKey;
    for (const auto& [name, description] : kKnown) {
      if (*model == name) message.append(": a ").append(description).append(" tokenizer");
    }
    message.append("); tabllm reads 'llama' (SentencePiece), 'gpt2' (byte-level BPE), 'gemma4' and 'bert' (WordPiece) "
                   "vocabularies");
    throw Error(message);
  }
  v.pre = *model == "gemma4" ? "gemma4" : header.get_string_opt("tokenizer.ggml.pre").value_or("default");
  v.tokens = read_strings(header, kTokensKey);
  if (v.tokens.empty()) {
    throw Error(std::string("the model metadata has no tokens (") + kTokensKey +
                " is missing or empty); re-convert the model with its vocabulary");
  }
  const size_t n = v.tokens.size();

  if (const auto* scores = header.get_array_opt("tokenizer.ggml.scores")) {
    if (scores->size() != n) throw Error("tokenizer.ggml.scores has " + std::to_string(scores->size()) +
                                         " entries for " + std::to_string(n) + " tokens");
    v.scores.reserve(n);
    for (const gguf::Value& s : *scores) v.scores.push_back(static_cast<float>(s.as_float()));
  }
  if (const auto* types = header.get_array_opt("tokenizer.ggml.token_type")) {
    if (types->size() != n) throw Error("tokenizer.ggml.token_type has " + std::to_string(types->size()) +
                                        " entries for " + std::to_string(n) + " tokens");
    v.types.reserve(n);
    for (const gguf::Value& t : *types) {
      const int64_t type = t.as_int();
      v.types.push_back(type >= 0 && type <= static_cast<int64_t>(TokenType::Byte) ? static_cast<TokenType>(type)
                                                                                     : TokenType::Undefined);
    }
  } else {
    v.types.assign(n, TokenType::Normal);
  }
  v.merges = read_strings(header, "tokenizer.ggml.merges");

  if (v.model == Model::SentencePiece) {  // SentencePiece's fixed layout: <unk>, <s>, </s>
    v.unk = 0;
    v.bos = n > 1 ? 1 : -1;
    v.eos = n > 2 ? 2 : -1;
  }
  if (v.model == Model::WordPiece) {  // BERT's layout: [UNK] 100, [CLS] (the BOS) 101, [SEP] 102
    v.unk = n > 100 ? 100 : -1;
    v.bos = n > 101 ? 101 : -1;
    v.sep = n > 102 ? 102 : -1;
    v.lowercase = header.get_bool_opt("tokenizer.ggml.normalizer.lowercase").value_or(true);
    v.strip_accents = header.get_bool_opt("tokenizer.ggml.normalizer.strip_accents").value_or(v.lowercase);
  }
  read_token_id(header, "tokenizer.ggml.bos_token_id", n, v.bos);
  read_token_id(header, "tokenizer.ggml.eos_token_id", n, v.eos);
  read_token_id(header, "tokenizer.ggml.eot_token_id", n, v.eot);
  read_token_id(header, "tokenizer.ggml.unknown_token_id", n, v.unk);
  read_token_id(header, "tokenizer.ggml.padding_token_id", n, v.pad);
  read_token_id(header, "tokenizer.ggml.seperator_token_id", n, v.sep);
  v.add_bos = header.get_bool_opt("tokenizer.ggml.add_bos_token").value_or(vocab_defaults::add_bos(v.model, v.pre));
  // Gemma 4 files may say false, yet the model expects <bos> first (llama.cpp overrides it too).
  if (v.pre == "gemma4") v.add_bos = true;
  v.add_eos = header.get_bool_opt("tokenizer.ggml.add_eos_token").value_or(false);
  v.add_space_prefix =
      header.get_bool_opt("tokenizer.ggml.add_space_prefix").value_or(v.model == Model::SentencePiece);
  v.chat_template = header.get_string_opt("tokenizer.chat_template").value_or("");
  return v;
}

void Vocab::write_gguf_metadata(gguf::Writer& writer) const {
  using gguf::Value;
  writer.set(kModelKey, Value::of_string(model == Model::SentencePiece ? "llama" : model == Model::WordPiece ? "bert" : "gpt2"));
  if (model == Model::WordPiece) {
    writer.set("tokenizer.ggml.normalizer.lowercase", Value::of_bool(lowercase));
    writer.set("tokenizer.ggml.normalizer.strip_accents", Value::of_bool(strip_accents));
  }
  writer.set("tokenizer.ggml.pre", Value::of_string(pre));
  writer.set(kTokensKey, Value::of_strings(tokens));
  if (!scores.empty()) writer.set("tokenizer.ggml.scores", Value::of_f32s(scores));
  std::vector<int32_t> type_values(tokens.size(), static_cast<int32_t>(TokenType::Normal));
  for (size_t i = 0; i < types.size() && i < tokens.size(); ++i) type_values[i] = static_cast<int32_t>(types[i]);
  writer.set("tokenizer.ggml.token_type", Value::of_i32s(type_values));
  if (!merges.empty()) writer.set("tokenizer.ggml.merges", Value::of_strings(merges));
  const std::pair<const char*, int32_t> ids[] = {{"tokenizer.ggml.bos_token_id", bos},
                                                 {"tokenizer.ggml.eos_token_id", eos},
                                                 {"tokenizer.ggml.eot_token_id", eot},
                                                 {"tokenizer.ggml.unknown_token_id", unk},
                                                 {"tokenizer.ggml.padding_token_id", pad},
                                                 {"tokenizer.ggml.seperator_token_id", sep}};
  for (const auto& [key, id] : ids) {
    if (id >= 0) writer.set(key, Value::of_u32(static_cast<uint32_t>(id)));
  }
  writer.set("tokenizer.ggml.add_bos_token", Value::of_bool(add_bos));
  writer.set("tokenizer.ggml.add_eos_token", Value::of_bool(add_eos));
  writer.set("tokenizer.ggml.add_space_prefix", Value::of_bool(add_space_prefix));
  if (!chat_template.empty()) writer.set("tokenizer.chat_template", Value::of_string(chat_template));
}

void Vocab::pad_to(size_t n) {
  if (types.size() < tokens.size()) types.resize(tokens.size(), TokenType::Normal);
  const bool has_scores = !scores.empty();
  while (tokens.size() < n) {
    tokens.push_back("[PAD" + std::to_string(tokens.size()) + "]");
    types.push_back(TokenType::Unused);
    if (has_scores) scores.push_back(0.0f);
  }
}

Vocab Vocab::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path + ": no such readable file");
  char magic[4] = {};
  in.read(magic, sizeof magic);
  if (in.gcount() == 4 && std::string_view(magic, 4) == "GGUF") {
    in.close();
    const auto file = gguf::File::open(path);
    try {
      return from_gguf(file->header());
    } catch (const Error& e) {
      throw Error(path + ": " + e.what());
    }
  }
  in.seekg(0);
  char c = 0;
  while (in.get(c) && std::isspace(static_cast<unsigned char>(c))) {
  }
  if (in && c == '{') return from_tokenizer_json(path);
  throw Error(path + " is neither a GGUF file nor a tokenizer.json; give a model .gguf, a vocab-only .gguf or a "
                     "Hugging Face tokenizer.json");
}

}  // namespace tabllm
