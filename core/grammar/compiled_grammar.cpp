// The mask cache. A state's token classes are computed when a matcher first reaches it (mask_builder.h),
// those of the grammar's start in compile(): a grammar has thousands of states (a large JSON Schema,
// tens of thousands) of which one generation visits a few dozen.
#include "grammar/compiled_grammar.h"


#include "grammar/mask_builder.h"
#include "grammar/stack_dfa.h"

namespace tabllm::grammar {

CompiledGrammar::CompiledGrammar(const Grammar& grammar, std::shared_ptr<const TokenVocabulary> vocabulary, CompileOptions options)
    : nfa_(Nfa::build(grammar)), vocabulary_(std::move(vocabulary)) {
  if (!vocabulary_) throw GrammarError("compiling a grammar needs a token vocabulary");
  masks_ = std::make_unique<std::atomic<const StateMask*>[]>(nfa_.states.size());
  builder_ = std::make_unique<MaskBuilder>(nfa_, *vocabulary_);
  stats_.nfa_states = nfa_.states.size();
  stats_.top_states = nfa_.top_states.size();
  if (options.precompute_masks) {
    precompute_masks();
    return;
  }
  // Every generation starts with the mask of the grammar's start: ready before the first one, and the
  // run-time cache with it.
  const std::shared_ptr<RuntimeCache> cache = runtime_cache();
  std::lock_guard lock(cache->mutex);
  for (int32_t top : cache->dfa->tops(cache->dfa->rule_start(nfa_.root_rule))) mask(cache->dfa->node(top).state);
}

CompiledGrammar::~CompiledGrammar() = default;

const StateMask& CompiledGrammar::build_mask(int32_t nfa_state) const {
  std::lock_guard lock(build_mutex_);
  if (const StateMask* m = masks_[nfa_state].load(std::memory_order_relaxed)) return *m;  // built meanwhile
  const StateMask& built = built_.emplace_back(builder_->build(nfa_state, stats_));
  masks_[nfa_state].store(&built, std::memory_order_release);
  return built;
}

void CompiledGrammar::precompute_masks() const {
  for (int32_t state : nfa_.top_states) mask(state);
}

CompileStats CompiledGrammar::stats() const {
  std::lock_guard lock(build_mutex_);
  return stats_;
}

std::shared_ptr<RuntimeCache> CompiledGrammar::runtime_cache() const {
  // Past this many configurations a cache stops being shared (long-running servers would otherwise keep
  // every configuration any request ever reached).
  constexpr size_t kMaxSharedConfigs = 200'000;
  std::lock_guard lock(runtime_mutex_);
  bool fresh = !runtime_;
  if (!fresh) {
    std::lock_guard inner(runtime_->mutex);
    fresh = runtime_->dfa->config_count() > kMaxSharedConfigs;
  }
  if (fresh) {
    runtime_ = std::make_shared<RuntimeCache>();
    runtime_->dfa = std::make_shared<StackDfa>(nfa_);
  }
  return runtime_;
}

std::shared_ptr<const CompiledGrammar> compile(const Grammar& grammar, std::shared_ptr<const TokenVocabulary> vocabulary,
                                               CompileOptions options) {
  return std::make_shared<const CompiledGrammar>(grammar, std::move(vocabulary), options);
}

}  // namespace tabllm::grammar
