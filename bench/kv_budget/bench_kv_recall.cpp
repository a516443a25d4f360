// tabllm_bench_kv_recall -m MODEL -f TEXT [--prompt 480] [--window 256] [--recall 128] [--reply 16] [--samples 40]
//                        [--place after-keep|end]
// What the recall (runtime/kv_pager.h) gives back of full attention: prompts of --prompt tokens cut from
// TEXT (BOS first) are answered greedily with --reply tokens
//   full     by a cache that holds the whole prompt (the reference),
//   shift    through a window of --window positions that pages out and recalls nothing (a plain shift),
//   recall   through the same window, recalling up to --recall positions before the prompt's last piece,
//            placed after the kept rows or at the window's end (--place).
// Prints one JSON object: for shift and recall, the mean count of leading reply tokens equal to the
// reference's and the share of replies equal to it throughout.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "backend/cpu/forward.h"
#include "cli/args.h"
#include "common/error.h"
#include "runtime/kv_pager.h"
#include "runtime/session.h"

namespace {

using namespace tabllm;

struct Agreement {
  double leading = 0;
  int whole = 0;
};

std::vector<int32_t> reply(const Model& model, int64_t window, int64_t context, int64_t recall, KvPagerOptions::Place place,
                           std::vector<int32_t> prompt, int n) {
  CpuOptions o;
  o.context_size = window;
  Session session(model, std::make_unique<CpuForward>(model, o));
  if (window < context) session.set_kv_pager(std::make_unique<KvPager>(std::make_unique<MemoryKvPageStore>(), KvPagerOptions{context, recall, place}));
  GenerateRequest r;
  r.prompt = "tokens";
  r.prompt_tokens = std::move(prompt);
  r.max_tokens = n;
  r.sampling.temperature = 0;
  r.ignore_eos = true;
  return session.generate(r).tokens;
}

void score(const std::vector<int32_t>& got, const std::vector<int32_t>& want, Agreement& a) {
  size_t same = 0;
  while (same < got.size() && same < want.size() && got[same] == want[same]) ++same;
  a.leading += static_cast<double>(same);
  a.whole += same == want.size() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const cli::Args args(argc, argv, {"m|model", "f|file", "prompt", "window", "recall", "reply", "samples", "place"}, {},
                         "usage: tabllm_bench_kv_recall -m MODEL -f TEXT [--prompt 480] [--window 256] [--recall 128] [--reply 16] [--samples 40] "
                         "[--place after-keep|end]");
    const std::string place_name = args.get("place").value_or("after-keep");
    if (place_name != "after-keep" && place_name != "end") throw Error("--place is after-keep or end, not " + place_name);
    const auto place = place_name == "end" ? KvPagerOptions::Place::End : KvPagerOptions::Place::AfterKeep;
    const auto model = Model::load(args.require("m"));
    std::ifstream in(args.require("f"), std::ios::binary);
    if (!in) throw Error("cannot read " + args.require("f"));
    std::stringstream text;
    text << in.rdbuf();
    const std::vector<int32_t> tokens = model->tokenizer().encode(text.str(), false);
    const int64_t length = args.get_int("prompt", 480), window = args.get_int("window", 256), recall = args.get_int("recall", 128);
    const int n = args.get_int("reply", 16), samples = args.get_int("samples", 40);
    const int64_t context = length + n + 1;
    if (static_cast<int64_t>(tokens.size()) < samples * length) throw Error("the text is too short for that many samples");
    Agreement shift, recalled;
    for (int i = 0; i < samples; ++i) {
      std::vector<int32_t> prompt{model->tokenizer().vocab().bos};
      const auto from = tokens.begin() + static_cast<std::ptrdiff_t>(i * length);
      prompt.insert(prompt.end(), from, from + (length - 1));
      const std::vector<int32_t> want = reply(*model, context, context, 0, place, prompt, n);
      score(reply(*model, window, context, 0, place, prompt, n), want, shift);
      score(reply(*model, window, context, recall, place, prompt, n), want, recalled);
    }
    std::printf("{\"model\": \"%s\", \"samples\": %d, \"prompt\": %lld, \"window\": %lld, \"recall\": %lld, \"place\": \"%s\", \"reply\": %d, "
                "\"shift\": {\"leading_tokens_equal\": %.2f, \"replies_equal\": %.3f}, "
                "\"recall\": {\"leading_tokens_equal\": %.2f, \"replies_equal\": %.3f}}\n",
                model->config().name.c_str(), samples, static_cast<long long>(length), static_cast<long long>(window), static_cast<long long>(recall), place_name.c_str(), n,
                shift.leading / samples, static_cast<double>(shift.whole) / samples, recalled.leading / samples,
                static_cast<double>(recalled.whole) / samples);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
