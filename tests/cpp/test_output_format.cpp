// response_format → constraint: the shapes a request may give, errors that name the parameter at fault,
// compiled formats kept for reuse, and generations under a JSON Schema, on the CPU and host-driven with
// the argmax taken over the allowed tokens (as the WebGPU host does).
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "grammar/matcher.h"
#include "grammar/output_format.h"
#include "grammar/vocabulary.h"
#include "backend/cpu/forward.h"
#include "runtime/generation.h"
#include "test_paths.h"

using namespace tabllm;
using grammar::FormatError;
using grammar::OutputFormat;
using nlohmann::ordered_json;

namespace {

std::unique_ptr<Model> stories() { return Model::load(test::build_dir() + "/models/stories260K-f32.gguf"); }

std::string error_param(const std::string& response_format) {
  try {
    OutputFormat::from_json(ordered_json::parse(response_format));
  } catch (const FormatError& e) {
    return e.param();
  }
  return "";
}

const char* const kPersonSchema = R"({"type": "object", "properties": {
  "name": {"type": "string", "maxLength": 12}, "age": {"type": "integer", "minimum": 0, "maximum": 120},
  "pet": {"enum": ["cat", "dog"]}}, "required": ["name", "age", "pet"], "additionalProperties": false})";

}  // namespace

TEST(OutputFormat, ReadsEveryTypeAndKeepsPropertyOrder) {
  EXPECT_EQ(OutputFormat::from_json(ordered_json::parse(R"({"type": "text"})")).kind, OutputFormat::Kind::Text);
  EXPECT_EQ(OutputFormat::from_json(ordered_json::parse(R"({"type": "json_object"})")).kind, OutputFormat::Kind::JsonObject);
  const auto schema = OutputFormat::from_json(ordered_json::parse(
      R"({"type": "json_schema", "json_schema": {"name": "p", "strict": true, "schema": {"properties": {"z": {}, "a": {}}}}})"));
  EXPECT_EQ(schema.kind, OutputFormat::Kind::JsonSchema);
  EXPECT_TRUE(schema.strict);
  EXPECT_LT(schema.text.find("\"z\""), schema.text.find("\"a\""));
  const auto ebnf = OutputFormat::from_json(ordered_json::parse(R"({"type": "grammar", "grammar": "root ::= 'a'", "syntax": "ebnf"})"));
  EXPECT_EQ(ebnf.syntax, "ebnf");
  EXPECT_EQ(OutputFormat::from_json(ordered_json::parse(R"({"type": "regex", "pattern": "[0-9]+"})")).text, "[0-9]+");
}

TEST(OutputFormat, ErrorsNameTheParameter) {
  EXPECT_EQ(error_param(R"("json")"), "response_format");
  EXPECT_EQ(error_param(R"({"type": "xml"})"), "response_format.type");
  EXPECT_EQ(error_param(R"({"type": "json_schema"})"), "response_format.json_schema");
  EXPECT_EQ(error_param(R"({"type": "json_schema", "json_schema": {"schema": 3}})"), "response_format.json_schema.schema");
  EXPECT_EQ(error_param(R"({"type": "grammar"})"), "response_format.grammar");
  EXPECT_EQ(error_param(R"({"type": "grammar", "grammar": "x", "syntax": "peg"})"), "response_format.syntax");
  EXPECT_EQ(error_param(R"({"type": "regex", "pattern": 5})"), "response_format.pattern");

  const auto model = stories();
  grammar::ConstraintFactory formats(grammar::TokenVocabulary::from_tokenizer(model->tokenizer()));
  const auto compile_error = [&](const std::string& rf) -> std::pair<std::string, std::string> {
    try {
      formats.compile(OutputFormat::from_json(ordered_json::parse(rf)));
    } catch (const FormatError& e) {
      return {e.param(), e.what()};
    }
    return {};
  };
  auto [param, message] = compile_error(R"({"type": "json_schema", "json_schema": {"schema": {"type": "strin"}}})");
  EXPECT_EQ(param, "response_format.json_schema.schema");
  EXPECT_NE(message.find("'type'"), std::string::npos) << message;
  std::tie(param, message) = compile_error(R"({"type": "grammar", "grammar": "root ::= \"a\" b"})");
  EXPECT_EQ(param, "response_format.grammar");
  EXPECT_NE(message.find("line 1"), std::string::npos) << message;
  std::tie(param, message) = compile_error(R"({"type": "regex", "pattern": "(ab"})");
  EXPECT_EQ(param, "response_format.pattern");
  std::tie(param, message) = compile_error(R"({"type": "json_schema", "json_schema": {"strict": true, "schema": {"type": "array", "uniqueItems": true}}})");
  EXPECT_NE(message.find("uniqueItems"), std::string::npos) << message;
}

TEST(OutputFormat, CompiledFormatsAreReusedAndWarningsKept) {
  const auto model = stories();
  grammar::ConstraintFactory formats(grammar::TokenVocabulary::from_tokenizer(model->tokenizer()), 2);
  OutputFormat f = OutputFormat::from_json(ordered_json::parse(R"({"type": "json_schema", "json_schema": {"schema": {"type": "array", "uniqueItems": true}}})"));
  const auto first = formats.compile(f);
  ASSERT_EQ(first.warnings.size(), 1u);
  EXPECT_EQ(formats.compile(f).grammar, first.grammar);
  EXPECT_EQ(formats.compile(f).warnings, first.warnings);
  EXPECT_EQ(formats.compile(OutputFormat{}).grammar, nullptr);
  EXPECT_EQ(formats.constraint(OutputFormat{}), nullptr);
}

TEST(OutputFormat, SchemaGenerationsParseOnCpuAndHostDriven) {
  const auto model = stories();
  grammar::ConstraintFactory formats(grammar::TokenVocabulary::from_tokenizer(model->tokenizer()));
  OutputFormat f;
  f.kind = OutputFormat::Kind::JsonSchema;
  f.text = kPersonSchema;
  auto cpu = std::make_unique<CpuForward>(*model, CpuOptions{});
  auto forward = std::make_unique<CpuForward>(*model, CpuOptions{});
  HostDrivenBackend host(512);
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    GenerateRequest req;
    req.prompt = "Once upon a time";
    req.max_tokens = 200;
    req.sampling.temperature = seed == 1 ? 0.0f : 1.0f;
    req.sampling.seed = seed;
    req.constraint = formats.constraint(f);
    std::vector<int32_t> cached;
    Generation g(*model, *cpu, cached, req);
    std::string chunk;
    while (g.step(chunk)) {}
    const GenerateResult& r = g.result();
    ASSERT_EQ(r.finish, FinishReason::Stop) << r.text;
    const auto doc = nlohmann::json::parse(r.text);
    EXPECT_EQ(doc.size(), 3u) << r.text;
    EXPECT_LE(doc.at("name").get<std::string>().size(), 12u);
    EXPECT_GE(doc.at("age").get<int>(), 0);
    EXPECT_LE(doc.at("age").get<int>(), 120);
    EXPECT_TRUE(doc.at("pet") == "cat" || doc.at("pet") == "dog");

    if (seed != 1) continue;
    // Greedy, host-driven: the host takes the argmax over the allowed tokens.
    req.constraint = formats.constraint(f);
    std::vector<int32_t> host_cached;
    Generation h(model->config(), model->tokenizer(), host, host_cached, req);
    ASSERT_TRUE(h.host_can_sample());
    const size_t n_vocab = static_cast<size_t>(model->config().n_vocab);
    std::vector<float> logits(n_vocab);
    std::vector<uint32_t> allowed((n_vocab + 31) / 32);
    for (;;) {
      const auto pending = h.pending();
      if (pending.empty()) {
        if (!h.advance(nullptr, chunk)) break;
        continue;
      }
      forward->forward(pending, h.pending_pos(), Logits::Last, logits.data());
      ASSERT_TRUE(h.allowed_tokens(allowed));
      int32_t best = -1;
      for (size_t id = 0; id < n_vocab; ++id)
        if ((allowed[id / 32] >> (id % 32) & 1u) && (best < 0 || logits[id] > logits[static_cast<size_t>(best)])) best = static_cast<int32_t>(id);
      if (!h.advance_with_token(best, chunk)) break;
    }
    EXPECT_EQ(h.result().tokens, r.tokens);
    EXPECT_EQ(h.result().text, r.text);
  }
}

TEST(OutputFormat, ToolCallsWithMarkupOrPlainText) {
  const auto model = stories();
  const auto vocab = grammar::TokenVocabulary::from_tokenizer(model->tokenizer());
  grammar::ConstraintFactory formats(vocab);
  const auto accepts = [&](const std::string& rf, const std::string& text) {
    grammar::Matcher matcher(formats.compile(OutputFormat::from_json(ordered_json::parse(rf))).grammar);
    return matcher.accept_bytes(text) && matcher.can_terminate();
  };
  const std::string schema = R"({"type": "object", "properties": {"name": {"const": "get_weather"}, "arguments": {"type": "object",
      "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}}, "required": ["name", "arguments"],
      "additionalProperties": false})";
  const std::string tagged = R"({"type": "tool_call", "prefix": "<tool_call>\n", "suffix": "\n</tool_call>", "schema": )" + schema + "}";
  const std::string call = R"({"name": "get_weather", "arguments": {"city": "Oslo"}})";
  EXPECT_TRUE(accepts(tagged, "<tool_call>\n" + call + "\n</tool_call>"));
  EXPECT_FALSE(accepts(tagged, call));
  EXPECT_FALSE(accepts(tagged, "It is sunny."));
  EXPECT_FALSE(accepts(tagged, R"(<tool_call>
{"name": "get_time", "arguments": {}}
</tool_call>)"));
  const std::string optional = tagged.substr(0, tagged.size() - 1) + R"(, "allow_text": true})";
  EXPECT_TRUE(accepts(optional, "It is sunny."));
  EXPECT_TRUE(accepts(optional, ""));
  EXPECT_TRUE(accepts(optional, "<tool"));
  EXPECT_TRUE(accepts(optional, "<b>sunny</b>"));
  EXPECT_TRUE(accepts(optional, "<tool_call>\n" + call + "\n</tool_call>"));
  EXPECT_FALSE(accepts(optional, "<tool_call>\nsunny"));
  const std::string bare = R"({"type": "tool_call", "allow_text": true, "schema": )" + schema + "}";
  EXPECT_TRUE(accepts(bare, call));
  EXPECT_TRUE(accepts(bare, "Sunny."));
  EXPECT_FALSE(accepts(bare, "{\"city\": 1}"));
}
