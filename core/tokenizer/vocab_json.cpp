// Vocab::from_tokenizer_json: Hugging Face tokenizer.json (byte-level BPE) plus tokenizer_config.json.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "tokenizer/pretokenizer_catalog.h"
#include "tokenizer/vocab.h"
#include "tokenizer/vocab_defaults.h"

namespace tabllm {
namespace {

using json = nlohmann::json;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error("cannot open " + path + ": no such readable file");
  std::string text(static_cast<size_t>(in.tellg()), '\0');
  in.seekg(0);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  return text;
}

json parse_json(const std::string& path, const json::parser_callback_t& callback = nullptr) {
  const std::string text = read_text(path);
  try {
    return json::parse(text, callback);
  } catch (const json::exception& e) {
    throw Error(path + " is not valid JSON (" + e.what() + ")");
  }
}

// tokenizer.json with its two big tables taken out while parsing: nlohmann keeps objects in std::map, and
// building a DOM for a 150K-token vocabulary and its merges would take most of the load time.
struct TokenizerJson {
  json root;  // without model.vocab and model.merges
  std::vector<std::pair<std::string, int64_t>> vocab;
  std::vector<std::string> merges;  // "a b"; newer files write ["a", "b"] pairs
};

TokenizerJson read_tokenizer_json(const std::string& path) {
  TokenizerJson out;
  std::string keys[4];  // the key being parsed at each depth (1: top level, 2: inside "model", 3: inside a table)
  const auto in_model_table = [&](const char* name) { return keys[1] == "model" && keys[2] == name; };
  using Event = json::parse_event_t;
  out.root = parse_json(path, [&](int depth, Event event, json& parsed) {
    if (event == Event::key && depth < 4) {
      keys[depth] = parsed.get<std::string>();
      for (int d = depth + 1; d < 4; ++d) keys[d].clear();
    } else if (depth == 3 && event == Event::value && in_model_table("vocab") && parsed.is_number_integer()) {
      out.vocab.emplace_back(keys[3], parsed.get<int64_t>());
      return false;
    } else if (depth == 3 && in_model_table("merges")) {
      if (event == Event::value && parsed.is_string()) {
        out.merges.push_back(parsed.get<std::string>());
        return false;
      }
      if (event == Event::array_end && parsed.size() == 2 && parsed[0].is_string() && parsed[1].is_string()) {
        out.merges.push_back(parsed[0].get<std::string>() + " " + parsed[1].get<std::string>());
        return false;
      }
    }
    return true;
  });
  return out;
}

// Names the GGUF pre-tokenizer (tokenizer.ggml.pre) that reproduces a tokenizer.json pre_tokenizer.
std::string pre_tokenizer_name(const json& pre, const std::string& path) {
  if (pre.is_null()) throw Error(path + ": tokenizer.json has no pre_tokenizer; tabllm needs a byte-level one");
  const json steps = pre.value("type", "") == "Sequence" ? pre.value("pretokenizers", json::array()) : json::array({pre});
  std::vector<std::string> split_regexes;
  bool byte_level = false, byte_level_regex = false, single_digits = false;
  std::string described;
  for (const json& step : steps) {
    const std::string type = step.value("type", "");
    described += (described.empty() ? "" : ", ") + type;
    const bool isolating = step.value("behavior", "") == "Isolated" && !step.value("invert", false);
    if (type == "Split" && isolating && step.contains("pattern") && step["pattern"].contains("Regex")) {
      std::string regex = step["pattern"]["Regex"].get<std::string>();
      described += " " + regex;
      split_regexes.push_back(std::move(regex));
    } else if (type == "ByteLevel") {
      byte_level = true;
      byte_level_regex = step.value("use_regex", true);
    } else if (type == "Digits" && step.value("individual_digits", false)) {
      single_digits = true;
    } else {
      split_regexes.push_back("<unsupported " + type + ">");
    }
  }
  if (byte_level) {
    if (split_regexes.empty() && byte_level_regex) return single_digits ? "starcoder" : "gpt-2";
    if (!byte_level_regex && !single_digits) {
      if (const PreTokenizerSpec* spec = find_pre_tokenizer_by_regexes(split_regexes)) {
        return std::string(spec->names[0]);
      }
    }
  }
  throw Error(path + ": unsupported pre_tokenizer [" + described +
              "]; tabllm knows ByteLevel (gpt-2), Digits+ByteLevel (starcoder), and the Split regexes of the "
              "pre-tokenizers " + supported_pre_tokenizer_names());
}

// Gemma's tokenizer.json: BPE over raw UTF-8 with byte fallback, spaces replaced by "▁" by the
// normalizer, and no pre-tokenizer: what the "gemma4" pre-tokenizer reproduces.
bool is_sentencepiece_style(const json& root) {
  const json pre = root.value("pre_tokenizer", json());
  const json normalizer = root.value("normalizer", json());
  const bool replaces_spaces = normalizer.is_object() && normalizer.value("type", "") == "Replace" &&
                               normalizer.contains("pattern") && normalizer["pattern"].value("String", "") == " " &&
                               normalizer.value("content", "") == "\xE2\x96\x81";
  return pre.is_null() && replaces_spaces && root["model"].value("byte_fallback", false);
}

// Whether the normalizer (or one step of a Sequence) is NFC.
bool normalizes_to_nfc(const json& normalizer) {
  if (!normalizer.is_object()) return false;
  if (normalizer.value("type", "") == "NFC") return true;
  if (normalizer.value("type", "") != "Sequence") return false;
  for (const json& step : normalizer.value("normalizers", json::array())) {
    if (normalizes_to_nfc(step)) return true;
  }
  return false;
}

// "bos_token" and friends are either a string or an AddedToken object.
std::string token_text(const json& config, const char* key) {
  if (!config.contains(key)) return "";
  const json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return "";
}

std::string chat_template_of(const json& config) {
  if (!config.contains("chat_template")) return "";
  const json& t = config["chat_template"];
  if (t.is_string()) return t.get<std::string>();
  if (t.is_array()) {  // named templates: [{"name": "default", "template": "..."}, ...]
    for (const json& named : t) {
      if (named.value("name", "") == "default" && named.contains("template")) return named["template"].get<std::string>();
    }
  }
  return "";
}

// Whether a TemplateProcessing post-processor puts `bos` before a single sequence.
bool post_processor_adds(const json& post, const std::string& bos) {
  if (!post.is_object() || bos.empty()) return false;
  if (post.value("type", "") == "Sequence") {
    for (const json& p : post.value("processors", json::array())) {
      if (post_processor_adds(p, bos)) return true;
    }
    return false;
  }
  if (post.value("type", "") != "TemplateProcessing") return false;
  const json single = post.value("single", json::array());
  return !single.empty() && single[0].contains("SpecialToken") && single[0]["SpecialToken"].value("id", "") == bos;
}

bool bool_or(const json& object, const char* key, bool fallback) {
  return object.contains(key) && object[key].is_boolean() ? object[key].get<bool>() : fallback;
}

Vocab parse_tokenizer_json(TokenizerJson& file, const std::string& path);

}  // namespace

Vocab Vocab::from_tokenizer_json(const std::string& path) {
  TokenizerJson file = read_tokenizer_json(path);
  try {
    return parse_tokenizer_json(file, path);
  } catch (const json::exception& e) {
    throw Error(path + ": malformed tokenizer.json (" + e.what() + ")");
  }
}

namespace {

Vocab parse_tokenizer_json(TokenizerJson& file, const std::string& path) {
  const json& root = file.root;
  if (!root.is_object() || !root.contains("model") || !root["model"].is_object()) {
    throw Error(path + " has no \"model\" object; is it a Hugging Face tokenizer.json?");
  }
  const json& model = root["model"];
  const std::string type = model.value("type", "BPE");
  if (type != "BPE") {
    throw Error(path + ": tokenizer model type '" + type +
                "' is not supported; tabllm reads byte-level BPE tokenizer.json files (convert other models to GGUF)");
  }
  Vocab v;
  v.model = Vocab::Model::BytePairEncoding;
  v.pre = is_sentencepiece_style(root) ? "gemma4"
                                        : pre_tokenizer_name(root.contains("pre_tokenizer") ? root["pre_tokenizer"] : json(), path);
  v.add_space_prefix = false;
  v.nfc = normalizes_to_nfc(root.value("normalizer", json()));

  // Ids may leave gaps (and added tokens may lie past the vocab): size by the largest id.
  const json added = root.value("added_tokens", json::array());
  int64_t max_id = -1;
  for (const auto& [text, id] : file.vocab) max_id = std::max(max_id, id);
  for (const json& t : added) max_id = std::max<int64_t>(max_id, t.value("id", int64_t{-1}));
  if (max_id < 0) throw Error(path + ": the vocabulary is empty (model.vocab has no tokens)");
  if (max_id > (1 << 24)) throw Error(path + ": token id " + std::to_string(max_id) + " is implausibly large");
  v.tokens.assign(static_cast<size_t>(max_id) + 1, std::string());
  v.types.assign(v.tokens.size(), TokenType::Unused);
  for (auto& [text, id] : file.vocab) {
    if (id < 0) throw Error(path + ": token '" + text + "' has a negative id");
    v.tokens[id] = std::move(text);
    v.types[id] = TokenType::Normal;
  }
  for (const json& t : added) {
    const int64_t i = t.value("id", int64_t{-1});
    if (i < 0) continue;
    v.tokens[i] = t.value("content", "");
    v.types[i] = t.value("special", false) ? TokenType::Control : TokenType::UserDefined;
  }
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    if (v.types[i] == TokenType::Unused) v.tokens[i] = "[PAD" + std::to_string(i) + "]";
  }

  v.merges = std::move(file.merges);

  const std::filesystem::path config_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  const json config = std::filesystem::exists(config_path) ? parse_json(config_path.string()) : json::object();
  const auto find_id = [&](const std::string& text) -> int32_t {
    if (text.empty()) return -1;
    for (size_t i = 0; i < v.tokens.size(); ++i) {
      if (v.tokens[i] == text && v.types[i] != TokenType::Unused) return static_cast<int32_t>(i);
    }
    return -1;
  };
  const std::string bos_text = token_text(config, "bos_token");
  v.bos = find_id(bos_text);
  v.eos = find_id(token_text(config, "eos_token"));
  v.pad = find_id(token_text(config, "pad_token"));
  v.unk = find_id(token_text(config, "unk_token"));
  for (const std::string& text : vocab_defaults::end_of_turn_texts()) {
    const int32_t id = find_id(text);
    if (id >= 0 && v.types[id] == TokenType::Control) {
      v.eot = id;
      break;
    }
  }
  const bool implied_bos = post_processor_adds(root.value("post_processor", json()), bos_text) ||
                           vocab_defaults::add_bos(v.model, v.pre);
  v.add_bos = bool_or(config, "add_bos_token", implied_bos) && v.bos >= 0;
  v.add_eos = bool_or(config, "add_eos_token", false) && v.eos >= 0;
  v.chat_template = chat_template_of(config);
  return v;
}

}  // namespace
}  // namespace tabllm
