#include "backend/webgpu/kernels.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <sstream>

#include "common/error.h"

namespace tabllm::webgpu {
namespace {

bool has_flag(const std::vector<std::string>& flags, std::string_view name) {
  return std::find(flags.begin(), flags.end(), name) != flags.end();
}

// `A|B`: true when any named flag is set.
bool condition(std::string_view names, const std::vector<std::string>& flags) {
  size_t start = 0;
  while (start <= names.size()) {
    size_t bar = names.find('|', start);
    if (bar == std::string_view::npos) bar = names.size();
    if (has_flag(flags, names.substr(start, bar - start))) return true;
    start = bar + 1;
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) text.replace(at, from.size(), to);
  return text;
}

// Keeps the lines whose //#if conditions hold, and writes the lines between `//#repeat VAR CONST` and
// `//#end` CONST times (a constant of the kernel), `$VAR` (lower case) replaced by 0, 1, ...: loops whose
// index must be a constant where it indexes an array, as the driver's compiler may not unroll them and would
// then keep the array in memory instead of registers.
std::string preprocess(std::string_view name, std::string_view text, const std::vector<std::string>& flags,
                       const std::map<std::string, int64_t>& constants = {}) {
  std::string out;
  std::vector<std::pair<bool, bool>> stack;  // (this branch active, enclosing active)
  struct Repeat {
    std::string var;
    int64_t count = 0;
    size_t from = 0;  // where its body starts in `out`
  };
  std::optional<Repeat> repeat;
  bool active = true;
  size_t line_no = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    const std::string_view t = trim(line);
    auto fail = [&](const std::string& what) {
      throw Error("wgsl/" + std::string(name) + ".wgsl:" + std::to_string(line_no) + ": " + what);
    };
    if (t.rfind("//#", 0) == 0) {
      if (t.rfind("//#ifnot ", 0) == 0) {
        stack.emplace_back(!condition(trim(t.substr(9)), flags), active);
      } else if (t.rfind("//#if ", 0) == 0) {
        stack.emplace_back(condition(trim(t.substr(6)), flags), active);
      } else if (t == "//#else") {
        if (stack.empty()) fail("#else without #if");
        stack.back().first = !stack.back().first;
      } else if (t == "//#endif") {
        if (stack.empty()) fail("#endif without #if");
        stack.pop_back();
      } else if (t.rfind("//#repeat ", 0) == 0) {
        if (repeat) fail("#repeat inside #repeat");
        const std::string_view rest = trim(t.substr(10));
        const size_t space = rest.find(' ');
        if (space == std::string_view::npos) fail("#repeat needs a variable and a constant");
        const auto it = constants.find(std::string(trim(rest.substr(space + 1))));
        if (it == constants.end()) fail("#repeat over an unknown constant " + std::string(rest.substr(space + 1)));
        repeat = Repeat{"$" + std::string(rest.substr(0, space)), it->second, out.size()};
      } else if (t == "//#end") {
        if (!repeat) fail("#end without #repeat");
        const std::string body = out.substr(repeat->from);
        out.resize(repeat->from);
        for (int64_t i = 0; i < repeat->count; ++i) out += replace_all(body, repeat->var, std::to_string(i));
        repeat.reset();
      } else {
        fail("unknown directive " + std::string(t));
      }
      active = stack.empty() || (stack.back().first && stack.back().second);
      continue;
    }
    if (active) {
      out.append(line);
      out.push_back('\n');
    }
  }
  if (!stack.empty()) throw Error("wgsl/" + std::string(name) + ".wgsl: missing #endif");
  if (repeat) throw Error("wgsl/" + std::string(name) + ".wgsl: missing #end");
  return out;
}

// Replaces `$NAME` (and `$NAMEu`, an unsigned literal) by the constant's value.
std::string substitute(std::string_view name, const std::string& text, const std::map<std::string, int64_t>& constants) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text[i] != '$') {
      out.push_back(text[i++]);
      continue;
    }
    size_t j = i + 1;
    while (j < text.size() && (std::isupper(static_cast<unsigned char>(text[j])) || std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '_')) ++j;
    const std::string key = text.substr(i + 1, j - i - 1);
    const auto it = constants.find(key);
    if (it == constants.end()) throw Error("wgsl/" + std::string(name) + ".wgsl: constant $" + key + " has no value");
    out += std::to_string(it->second);
    i = j;
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The shared WGSL a kernel reads beside its own: the matrix products' parameters, bindings and reduction;
// the rounding of x to 8-bit integers (matvec, quantize_x); the per-head work after the Q,K,V product; workgroup_reduce for decode attention (through subgroups under
// SUBGROUPS) and the encoder kernels; the encoder kernels' encoder_seqs (binding 2, `seqs`).
std::vector<const char*> shared_pieces(const KernelSpec& spec) {
  const std::string_view kernel = spec.kernel;
  if (kernel == "matmul") return {"product_io", "product_reduce"};
  if (kernel == "matvec") return {"product_io", "product_reduce", "x_quant"};
  if (kernel == "quantize_x") return {"x_quant", "workgroup_reduce"};
  if (kernel == "attention_split") {
    if (has_flag(spec.flags, "POST")) return {"qkv_head", "workgroup_reduce"};
    return {"workgroup_reduce"};
  }
  if (kernel == "qkv_post") return {"qkv_head"};
  if (kernel == "matmul_tiled") return {"product_io"};
  if (kernel == "encoder_embed") return {"encoder_seqs"};
  if (kernel == "encoder_qkv" || kernel == "encoder_attention" || kernel == "encoder_pool") return {"encoder_seqs", "workgroup_reduce"};
  if (kernel == "encoder_norm") return {"workgroup_reduce"};
  return {};
}

}  // namespace

std::string_view wgsl_source(std::string_view name) {
  for (size_t i = 0; i < kEmbeddedWgslCount; ++i)
    if (name == kEmbeddedWgsl[i].name) return kEmbeddedWgsl[i].text;
  throw Error("no WGSL kernel named " + std::string(name));
}

bool gpu_weight_type(TensorType type) {
  switch (type) {
    case TensorType::F32: case TensorType::F16: case TensorType::BF16: case TensorType::Q8_0:
    case TensorType::Q4_0: case TensorType::Q4_1: case TensorType::Q5_0: case TensorType::Q5_1:
    case TensorType::IQ4_NL: case TensorType::Q2_K: case TensorType::Q3_K: case TensorType::Q4_K:
    case TensorType::Q5_K: case TensorType::Q6_K: case TensorType::IQ4_XS:
      return true;
    default:
      return false;
  }
}

bool matvec_weight_type(TensorType type) {
  switch (type) {
    case TensorType::Q4_0: case TensorType::Q8_0: case TensorType::Q4_K: case TensorType::Q5_K: case TensorType::Q6_K:
      return true;
    default:
      return false;
  }
}

bool matvec_pair_decoder(TensorType type) { return type == TensorType::Q4_K || type == TensorType::Q5_K; }

std::string gpu_weight_type_names() {
  std::string names;
  for (TensorType t : supported_types()) {
    if (gpu_weight_type(t)) names += std::string(names.empty() ? "" : ", ") + type_traits(t).name;
  }
  return names;
}

std::string KernelSpec::key() const {
  std::ostringstream s;
  s << kernel;
  for (const auto& f : flags) s << '+' << lower(f);
  for (TensorType t : weights) s << ':' << type_traits(t).name;
  for (const auto& [k, v] : constants) s << ',' << lower(k) << '=' << v;
  if (!kv.empty()) s << "@kv=" << kv;
  return s.str();
}

int64_t kv_group(std::string_view kv_type) {
  if (kv_type == "f32") return 1;
  if (kv_type == "f16") return 2;
  if (kv_type == "q8_0") return 32;
  throw Error("no KV cache codec for type \"" + std::string(kv_type) + "\"");
}

std::string compose_kernel(const KernelSpec& spec) {
  // Extensions come first in a module.
  std::string code = has_flag(spec.flags, "SUBGROUPS") ? "enable subgroups;\n" : "";
  code += wgsl_source("common");
  if (spec.kernel != "sample" && spec.kernel != "kv_shift") code += wgsl_source("step");  // those two read no step buffer
  code += substitute(spec.kernel, preprocess(spec.kernel, wgsl_source(spec.kernel), spec.flags, spec.constants), spec.constants);
  // Module-scope declarations may come in any order: the pieces follow the kernel, under its flags.
  for (const char* piece : shared_pieces(spec)) code += preprocess(piece, wgsl_source(piece), spec.flags);
  for (size_t i = 0; i < spec.weights.size(); ++i) {
    const TensorType type = spec.weights[i];
    if (!gpu_weight_type(type))
      throw Error(std::string("the WebGPU backend cannot read weights of type ") + type_traits(type).name +
                  " (it reads " + gpu_weight_type_names() + ")");
    // matvec reads whole 32-value units (matvec_<type>.wgsl), the other kernels 8 values at a time.
    const bool units = spec.kernel == "matvec";
    if (units && !matvec_weight_type(type)) throw Error(std::string("internal: no matvec decoder for ") + type_traits(type).name);
    const std::string decoder = (units ? "matvec_" : "dequant_") + lower(type_traits(type).name);
    std::string var = std::to_string(i);
    var.insert(var.begin(), 'w');  // (not "w" + ...: GCC 12 warns falsely about that concatenation)
    std::string text = std::string(wgsl_source("weight_bytes"));
    if (units) text += wgsl_source("matvec_words");
    text += wgsl_source(decoder);
    if (units && has_flag(spec.flags, "PAIRS") && !matvec_pair_decoder(type)) text += wgsl_source("matvec_pair");
    code += replace_all(text, "$W", var);
  }
  if (!spec.kv.empty()) {
    kv_group(spec.kv);  // a known type
    const std::string codec = "kv_" + spec.kv;
    const bool writes = spec.kernel == "qkv_post" || spec.kernel == "kv_shift" || (spec.kernel == "attention_split" && has_flag(spec.flags, "POST"));
    const std::string text = preprocess(codec, wgsl_source(codec), writes ? std::vector<std::string>{"STORE"} : std::vector<std::string>{});
    code += wgsl_source("kv_common");
    code += replace_all(text, "$C", "kcache");
    code += replace_all(text, "$C", "vcache");
  }
  return code;
}

}  // namespace tabllm::webgpu
