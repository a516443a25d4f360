#include "request_json.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "abi_guard.h"
#include "common/error.h"
#include "work_counters.h"

namespace tabllm::wasm {
namespace {

// Key order is kept: a schema's property order is the output's.
using json = nlohmann::ordered_json;

const char* const kKeys =
    "max_tokens, temperature, top_k, top_p, min_p, seed, repeat_penalty, repeat_last_n, frequency_penalty, "
    "presence_penalty, logit_bias, stop, ignore_eos, add_bos, logprobs, response_format, truncation, n_keep, speculative";

int to_int(const json& v, const std::string& key) {
  if (!v.is_number_integer()) throw ParamError(key, "parameter " + key + " must be an integer, got " + v.dump());
  const int64_t i = v.get<int64_t>();
  if (i < std::numeric_limits<int>::min() || i > std::numeric_limits<int>::max())
    throw ParamError(key, "parameter " + key + " is out of range: " + v.dump());
  return static_cast<int>(i);
}

bool to_bool(const json& v, const std::string& key) {
  if (!v.is_boolean()) throw ParamError(key, "parameter " + key + " must be true or false, got " + v.dump());
  return v.get<bool>();
}

uint64_t to_seed(const json& v) {
  if (!v.is_number_unsigned()) throw ParamError("seed", "parameter seed must be a non-negative integer, got " + v.dump());
  return v.get<uint64_t>();
}

// The sampling settings a host takes from its callers are checked with OpenAI's ranges and words, so a
// host passes them through as they came ("invalid_type": not a number; "invalid_value": out of range).
constexpr double kNoLimit = std::numeric_limits<double>::infinity();

std::string limit_text(double x) { return std::to_string(static_cast<int64_t>(x)); }  // the limits are whole

double in_range(const json& v, const std::string& key, double min, double max, bool above_min = false, bool integer = false) {
  if (!v.is_number()) throw ParamError(key, key + " must be a number, got " + v.dump(), "invalid_type");
  if (integer && !v.is_number_integer()) throw ParamError(key, key + " must be an integer, got " + v.dump(), "invalid_type");
  const double x = v.get<double>();
  if (x < min || x > max || (above_min && x == min)) {
    const std::string low = (above_min ? "> " : ">= ") + limit_text(min);
    throw ParamError(key, key + " must be " + (max == kNoLimit ? low : low + " and <= " + limit_text(max)) + ", got " + v.dump());
  }
  return x;
}

// A string or up to 4 non-empty strings.
std::vector<std::string> to_stop_list(const json& v) {
  const bool strings = v.is_string() || (v.is_array() && std::all_of(v.begin(), v.end(), [](const json& s) { return s.is_string(); }));
  if (!strings) throw ParamError("stop", "stop must be a string or an array of strings, got " + v.dump(), "invalid_type");
  std::vector<std::string> stops;
  if (v.is_string()) stops.push_back(v.get<std::string>());
  else
    for (const json& s : v) stops.push_back(s.get<std::string>());
  if (stops.size() > 4) throw ParamError("stop", "stop takes at most 4 strings, got " + std::to_string(stops.size()));
  for (const std::string& s : stops)
    if (s.empty()) throw ParamError("stop", "stop strings must not be empty");
  return stops;
}

// {"token id": bias in [-100, 100]}, as in OpenAI's API.
std::vector<std::pair<int32_t, float>> to_logit_bias(const json& v, int64_t n_vocab) {
  if (!v.is_object()) throw ParamError("logit_bias", "logit_bias must be an object {\"token id\": bias}, got " + v.dump(), "invalid_type");
  std::vector<std::pair<int32_t, float>> bias;
  for (const auto& [id, value] : v.items()) {
    const bool digits = !id.empty() && id.size() <= 10 && std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoll(id) >= n_vocab)
      throw ParamError("logit_bias", "logit_bias keys must be token ids in [0, " + std::to_string(n_vocab) + "), got \"" + id + "\"");
    if (!value.is_number() || value.get<double>() < -100 || value.get<double>() > 100)
      throw ParamError("logit_bias", "logit_bias values must be numbers in [-100, 100], got " + value.dump() + " for token " + id);
    bias.emplace_back(static_cast<int32_t>(std::stoll(id)), value.get<float>());
  }
  return bias;
}

// OpenAI's truncation (Responses API): "auto" keeps the end of a prompt that does not fit the context,
// "disabled" refuses it.
bool to_truncation(const json& v) {
  if (!v.is_string()) throw ParamError("truncation", "truncation must be \"auto\" or \"disabled\", got " + v.dump(), "invalid_type");
  if (v != "auto" && v != "disabled") throw ParamError("truncation", "truncation must be \"auto\" or \"disabled\", got " + v.dump());
  return v == "auto";
}

// {"method": "prompt-lookup" | "self" | "off", "k": 1..32, "ngram": 1..8, "draft_layers": >= 0} (an extension;
// runtime/speculative.h). Errors name the field, e.g. "speculative.k".
SpeculativeParams to_speculative(const json& v) {
  if (!v.is_object()) throw ParamError("speculative", "speculative must be an object {\"method\": \"prompt-lookup\" | \"self\", \"k\": N}, got " + v.dump(), "invalid_type");
  SpeculativeParams s;
  if (!v.contains("method")) throw ParamError("speculative.method", "speculative.method is required: \"prompt-lookup\" or \"self\"", "missing_required_parameter");
  for (const auto& [key, value] : v.items()) {
    const std::string param = "speculative." + key;
    if (key == "method") {
      if (!value.is_string()) throw ParamError(param, param + " must be a string, got " + value.dump(), "invalid_type");
      try {
        s.method = speculative_method_from_name(value.get<std::string>());
      } catch (const Error& e) {
        throw ParamError(param, e.what());
      }
    } else if (key == "k") s.k = static_cast<int>(in_range(value, param, 1, SpeculativeParams::kMaxDraft, false, true));
    else if (key == "ngram") s.ngram = static_cast<int>(in_range(value, param, 1, 8, false, true));
    else if (key == "draft_layers") s.draft_layers = static_cast<int>(in_range(value, param, 0, 1024, false, true));
    else throw ParamError(param, "unknown field '" + param + "' (known: method, k, ngram, draft_layers)", "unknown_parameter");
  }
  return s;
}

// Counted: a request reads its format once, however many choices it has.
std::optional<grammar::OutputFormat> read_format(const json& v) {
  ++work_counters.format_parses;
  try {
    grammar::OutputFormat format = grammar::OutputFormat::from_json(v);
    if (format.kind == grammar::OutputFormat::Kind::Text) return std::nullopt;
    return format;
  } catch (const grammar::FormatError& e) {
    throw ParamError(e.param(), e.what());
  }
}

}  // namespace

void apply_params_json(std::string_view params_json, int64_t n_vocab, GenerateRequest& req, std::optional<grammar::OutputFormat>& format) {
  if (params_json.empty()) return;
  const json params = json::parse(params_json, nullptr, /*allow_exceptions=*/false);
  if (params.is_discarded()) throw Error("the generation parameters are not valid JSON");
  if (!params.is_object()) throw Error("the generation parameters must be a JSON object");
  SamplingParams& s = req.sampling;
  for (const auto& [key, v] : params.items()) {
    if (key == "max_tokens") req.max_tokens = to_int(v, key);
    else if (key == "temperature") s.temperature = static_cast<float>(in_range(v, key, 0, 2));
    else if (key == "top_k") s.top_k = static_cast<int>(std::min<double>(in_range(v, key, 0, kNoLimit, false, true), std::numeric_limits<int>::max()));
    else if (key == "top_p") s.top_p = static_cast<float>(in_range(v, key, 0, 1, /*above_min=*/true));
    else if (key == "min_p") s.min_p = static_cast<float>(in_range(v, key, 0, 1));
    else if (key == "seed") s.seed = to_seed(v);
    else if (key == "repeat_penalty") s.repeat_penalty = static_cast<float>(in_range(v, key, 0, 10, /*above_min=*/true));
    else if (key == "repeat_last_n") s.repeat_last_n = to_int(v, key);
    else if (key == "frequency_penalty") s.frequency_penalty = static_cast<float>(in_range(v, key, -2, 2));
    else if (key == "presence_penalty") s.presence_penalty = static_cast<float>(in_range(v, key, -2, 2));
    else if (key == "logit_bias") s.logit_bias = to_logit_bias(v, n_vocab);
    else if (key == "stop") req.stop = to_stop_list(v);
    else if (key == "ignore_eos") req.ignore_eos = to_bool(v, key);
    else if (key == "add_bos") req.add_bos = to_bool(v, key);
    else if (key == "logprobs") req.logprobs = to_int(v, key);
    else if (key == "response_format") format = read_format(v);
    else if (key == "truncation") req.truncate_prompt = to_truncation(v);
    else if (key == "speculative") req.speculative = to_speculative(v);
    else if (key == "n_keep") req.n_keep = static_cast<int64_t>(in_range(v, key, 0, std::numeric_limits<int>::max(), false, true));
    else throw ParamError(key, "unknown generation parameter '" + key + "' (known: " + kKeys + ")");
  }
}

}  // namespace tabllm::wasm
