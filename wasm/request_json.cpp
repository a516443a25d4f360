#include "request_json.h"

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
    "presence_penalty, logit_bias, stop, ignore_eos, add_bos, logprobs, response_format";

int to_int(const json& v, const std::string& key) {
  if (!v.is_number_integer()) throw ParamError(key, "parameter " + key + " must be an integer, got " + v.dump());
  const int64_t i = v.get<int64_t>();
  if (i < std::numeric_limits<int>::min() || i > std::numeric_limits<int>::max())
    throw ParamError(key, "parameter " + key + " is out of range: " + v.dump());
  return static_cast<int>(i);
}

float to_float(const json& v, const std::string& key) {
  if (!v.is_number()) throw ParamError(key, "parameter " + key + " must be a number, got " + v.dump());
  return v.get<float>();
}

bool to_bool(const json& v, const std::string& key) {
  if (!v.is_boolean()) throw ParamError(key, "parameter " + key + " must be true or false, got " + v.dump());
  return v.get<bool>();
}

uint64_t to_seed(const json& v) {
  if (!v.is_number_unsigned()) throw ParamError("seed", "parameter seed must be a non-negative integer, got " + v.dump());
  return v.get<uint64_t>();
}

std::vector<std::string> to_stop_list(const json& v) {
  if (v.is_string()) return {v.get<std::string>()};
  std::vector<std::string> stops;
  if (v.is_array())
    for (const json& s : v) {
      if (!s.is_string()) break;
      stops.push_back(s.get<std::string>());
    }
  if (!v.is_array() || stops.size() != v.size()) throw ParamError("stop", "parameter stop must be a string or an array of strings, got " + v.dump());
  return stops;
}

// {"token id": bias}, as in OpenAI's API.
std::vector<std::pair<int32_t, float>> to_logit_bias(const json& v) {
  if (!v.is_object()) throw ParamError("logit_bias", "parameter logit_bias must be an object {\"token id\": bias}, got " + v.dump());
  std::vector<std::pair<int32_t, float>> bias;
  for (const auto& [id, value] : v.items()) {
    size_t used = 0;
    long parsed = -1;
    try {
      parsed = std::stol(id, &used);
    } catch (const std::exception&) {
    }
    if (used != id.size() || parsed < 0 || parsed > std::numeric_limits<int32_t>::max())
      throw ParamError("logit_bias", "logit_bias keys must be token ids, got \"" + id + "\"");
    bias.emplace_back(static_cast<int32_t>(parsed), to_float(value, "logit_bias[" + id + "]"));
  }
  return bias;
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

void apply_params_json(std::string_view params_json, GenerateRequest& req, std::optional<grammar::OutputFormat>& format) {
  if (params_json.empty()) return;
  const json params = json::parse(params_json, nullptr, /*allow_exceptions=*/false);
  if (params.is_discarded()) throw Error("the generation parameters are not valid JSON");
  if (!params.is_object()) throw Error("the generation parameters must be a JSON object");
  SamplingParams& s = req.sampling;
  for (const auto& [key, v] : params.items()) {
    if (key == "max_tokens") req.max_tokens = to_int(v, key);
    else if (key == "temperature") s.temperature = to_float(v, key);
    else if (key == "top_k") s.top_k = to_int(v, key);
    else if (key == "top_p") s.top_p = to_float(v, key);
    else if (key == "min_p") s.min_p = to_float(v, key);
    else if (key == "seed") s.seed = to_seed(v);
    else if (key == "repeat_penalty") s.repeat_penalty = to_float(v, key);
    else if (key == "repeat_last_n") s.repeat_last_n = to_int(v, key);
    else if (key == "frequency_penalty") s.frequency_penalty = to_float(v, key);
    else if (key == "presence_penalty") s.presence_penalty = to_float(v, key);
    else if (key == "logit_bias") s.logit_bias = to_logit_bias(v);
    else if (key == "stop") req.stop = to_stop_list(v);
    else if (key == "ignore_eos") req.ignore_eos = to_bool(v, key);
    else if (key == "add_bos") req.add_bos = to_bool(v, key);
    else if (key == "logprobs") req.logprobs = to_int(v, key);
    else if (key == "response_format") format = read_format(v);
    else throw ParamError(key, "unknown generation parameter '" + key + "' (known: " + kKeys + ")");
  }
}

}  // namespace tabllm::wasm
