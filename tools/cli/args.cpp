#include "cli/args.h"

#include <cctype>
#include <cstdint>
#include <climits>
#include <cstdlib>
#include <sstream>

#include "common/error.h"

namespace tabllm::cli {
namespace {

std::vector<std::string> split_aliases(const std::string& spec) {
  std::vector<std::string> names;
  std::stringstream ss(spec);
  std::string name;
  while (std::getline(ss, name, '|')) names.push_back(name);
  return names;
}

std::string dashed(const std::string& name) { return (name.size() == 1 ? "-" : "--") + name; }

}  // namespace

Args::Args(int argc, char** argv, const std::vector<std::string>& options, const std::vector<std::string>& flags,
           std::string usage)
    : usage_(std::move(usage)) {
  std::map<std::string, bool> takes_value;
  for (const auto* group : {&options, &flags}) {
    for (const std::string& spec : *group) {
      const auto names = split_aliases(spec);
      for (const auto& n : names) {
        canonical_[dashed(n)] = names.front();
        takes_value[dashed(n)] = group == &options;
      }
    }
  }
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.size() > 1 && arg[0] == '-' && !(arg.size() > 1 && (std::isdigit(static_cast<unsigned char>(arg[1])) || arg[1] == '.'))) {
      std::string key = arg, value;
      bool inline_value = false;
      if (const auto eq = arg.find('='); eq != std::string::npos && arg.rfind("--", 0) == 0) {
        key = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        inline_value = true;
      }
      const auto it = canonical_.find(key);
      if (it == canonical_.end()) throw Error("unknown option " + key + "\n" + usage_);
      if (takes_value[key]) {
        if (!inline_value) {
          if (i + 1 >= argc) throw Error("option " + key + " needs a value\n" + usage_);
          value = argv[++i];
        }
        values_[it->second] = value;
      } else {
        if (inline_value) throw Error("option " + key + " takes no value");
        flags_set_.insert(it->second);
      }
    } else {
      positional_.push_back(arg);
    }
  }
}

std::optional<std::string> Args::get(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Args::require(const std::string& name) const {
  auto v = get(name);
  if (!v) throw Error("missing required option " + dashed(name) + "\n" + usage_);
  return *v;
}

int Args::get_int(const std::string& name, int fallback) const {
  auto v = get(name);
  if (!v) return fallback;
  char* end = nullptr;
  const long n = std::strtol(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || n < INT32_MIN || n > INT32_MAX)
    throw Error("option " + dashed(name) + " expects an integer, got '" + *v + "'");
  return static_cast<int>(n);
}

double Args::get_double(const std::string& name, double fallback) const {
  auto v = get(name);
  if (!v) return fallback;
  char* end = nullptr;
  const double d = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0') throw Error("option " + dashed(name) + " expects a number, got '" + *v + "'");
  return d;
}

bool Args::flag(const std::string& name) const { return flags_set_.count(name) > 0; }

}  // namespace tabllm::cli
