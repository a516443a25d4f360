// One-layer variants of the tiny shapes, synthesized once into the test scratch folder: with one layer a
// key depends only on its token and position, so rows moved or rotated by a distance have an exact
// reference (a fresh prefill at the new positions). ctest runs test processes side by side: each writes its
// own temporary file and renames it into place, so no process reads another's half-written file.
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include <unistd.h>

#include "model/model.h"
#include "synth/synthesize.h"
#include "test_paths.h"

namespace tabllm::test {

inline std::unique_ptr<Model> one_layer(const std::string& shape) {
  const std::filesystem::path dir = std::filesystem::path(build_dir()) / "test-scratch" / "context-shift";
  std::filesystem::create_directories(dir);
  const std::string out = (dir / (shape + "-1layer.gguf")).string();
  if (!std::filesystem::exists(out)) {
    tools::SynthOptions o;
    o.shape = shape;
    o.type = TensorType::F32;
    o.seed = 7;
    o.layers = 1;
    o.weight_scale = 2;  // sharper attention: positions matter more
    const std::string tmp = out + ".tmp" + std::to_string(::getpid());
    tools::synthesize_model(o, Vocab::load(build_dir() + "/models/stories260K-f32.gguf"), tmp);
    std::filesystem::rename(tmp, out);  // atomic; the same bytes whichever process wins
  }
  return Model::load(out);
}

}  // namespace tabllm::test
