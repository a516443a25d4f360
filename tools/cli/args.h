// A tiny command-line parser shared by the subcommands: `-x VALUE` / `--name VALUE` options, flags and
// positional arguments, with errors that name the offending argument.
#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tabllm::cli {

class Args {
 public:
  // `options` are names taking a value (e.g. {"-m", "--model"} aliases are given as "m|model");
  // `flags` take none. Unknown options throw Error listing `usage`.
  Args(int argc, char** argv, const std::vector<std::string>& options, const std::vector<std::string>& flags,
       std::string usage);
  std::optional<std::string> get(const std::string& name) const;
  std::string require(const std::string& name) const;
  int get_int(const std::string& name, int fallback) const;
  double get_double(const std::string& name, double fallback) const;
  bool flag(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  const std::string& usage() const { return usage_; }

 private:
  std::map<std::string, std::string> canonical_;  // alias → first name of its group
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_set_;
  std::vector<std::string> positional_;
  std::string usage_;
};

}  // namespace tabllm::cli
