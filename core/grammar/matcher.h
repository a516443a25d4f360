// Runs a compiled grammar over tokens: accepts them, writes the mask of tokens allowed next, rolls back,
// forks, and says when the text is complete. The matchers of one CompiledGrammar share what they learn at
// run time (RuntimeCache, under a lock), so a new matcher starts warm; matchers may run on different
// threads, one matcher on one thread at a time.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammar/compiled_grammar.h"
#include "runtime/token_constraint.h"

namespace tabllm::grammar {


class Matcher {
 public:
  explicit Matcher(std::shared_ptr<const CompiledGrammar> grammar);
  ~Matcher();
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;
  Matcher(Matcher&&) noexcept;
  Matcher& operator=(Matcher&&) noexcept;

  // Advances past token `id`; false, with the state unchanged, when the grammar does not allow it. An end
  // token is allowed exactly when the text is complete; it terminates the matcher.
  bool accept_token(int32_t id);
  // Advances past raw bytes (counted as one step for rollback); false, state unchanged, when not allowed.
  bool accept_bytes(std::string_view bytes);
  // Bit (id % 32) of words[id / 32] set for each token allowed next; needs vocabulary().mask_words() words.
  void fill_next_token_bitmask(std::span<uint32_t> words);
  // Undoes the last `tokens` accept_token / accept_bytes steps.
  void rollback(int tokens);
  void reset();
  // The text so far is a complete match (an end token would be accepted).
  bool can_terminate() const;
  // An end token was accepted, or the text is complete and nothing may follow it.
  bool is_terminated() const;
  // The bytes that must come next whatever is generated (up to where a choice appears), e.g. `": ` after
  // a key when the grammar fixes the separator. Does not advance the matcher.
  std::string find_jump_forward_string() const;
  Matcher fork() const;
  // Steps accepted so far (the bound on rollback).
  int steps() const { return static_cast<int>(history_.size()) - 1; }
  const CompiledGrammar& compiled() const { return *grammar_; }

 private:
  Matcher(std::shared_ptr<const CompiledGrammar> grammar, std::shared_ptr<RuntimeCache> cache);
  const MergedUncertain& merged_uncertain(int32_t config);
  void check_uncertain(int32_t config, std::span<const int32_t> positions, std::span<const uint16_t> lcp,
                       std::span<uint32_t> words);

  std::shared_ptr<const CompiledGrammar> grammar_;
  std::shared_ptr<RuntimeCache> cache_;
  StackDfa* dfa_;  // cache_->dfa, used with cache_->mutex held
  std::vector<int32_t> history_;  // configuration before any step, then after each
  bool terminated_ = false;
  // Scratch of fill_next_token_bitmask.
  std::vector<int32_t> walk_configs_;
  std::vector<uint32_t> scratch_words_;
};

// The TokenConstraint the generation loop drives, backed by a Matcher.
std::unique_ptr<TokenConstraint> make_constraint(std::shared_ptr<const CompiledGrammar> grammar);

}  // namespace tabllm::grammar
