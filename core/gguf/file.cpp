// A parsed GGUF whose bytes are in memory: memory-mapped on POSIX hosts, a caller's buffer, or pieces.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <numeric>

#include "common/error.h"
#include "gguf/gguf.h"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define TABLLM_HAVE_MMAP 1
#endif

namespace tabllm::gguf {

void File::point_into(const uint8_t* base) {
  tensor_data_.clear();
  for (const TensorInfo& t : header_.tensors) tensor_data_.push_back(base + header_.data_offset + t.offset);
}

std::unique_ptr<File> File::from_memory(const uint8_t* data, size_t size) {
  std::unique_ptr<File> f(new File());
  f->header_ = parse_header(data, size, size);
  f->point_into(data);
  f->size_ = size;
  return f;
}

std::unique_ptr<File> File::with_pieces(Header header, uint64_t file_size, uint64_t max_piece_bytes) {
  std::unique_ptr<File> f(new File());
  f->header_ = std::move(header);
  f->size_ = file_size;
  const Header& h = f->header_;
  std::vector<size_t> order(h.tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return h.tensors[a].offset < h.tensors[b].offset; });
  // Pieces in file order: a tensor joins the current piece while the piece stays within the bound.
  std::vector<size_t> piece_of(h.tensors.size());
  for (const size_t i : order) {
    const TensorInfo& t = h.tensors[i];
    const uint64_t begin = h.data_offset + t.offset, end = begin + t.n_bytes();
    if (f->pieces_.empty() || end - f->pieces_.back().file_offset > max_piece_bytes) f->pieces_.push_back({begin, 0, nullptr});
    Piece& p = f->pieces_.back();
    p.size = std::max(p.size, end - p.file_offset);
    piece_of[i] = f->pieces_.size() - 1;
  }
  f->owned_.reserve(f->pieces_.size());
  for (Piece& p : f->pieces_) {
    const auto bytes = static_cast<size_t>(p.size);
    if (bytes != p.size) throw Error("a tensor of " + std::to_string(p.size) + " bytes does not fit in this host's address space");
    f->owned_.emplace_back(new uint8_t[bytes]);
    p.data = f->owned_.back().get();
  }
  for (size_t i = 0; i < h.tensors.size(); ++i) {
    const Piece& p = f->pieces_[piece_of[i]];
    f->tensor_data_.push_back(p.data + (h.data_offset + h.tensors[i].offset - p.file_offset));
  }
  return f;
}

#ifdef TABLLM_HAVE_MMAP
std::unique_ptr<File> File::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + " is not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    throw Error(path + " is empty, not a GGUF file");
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) throw Error("cannot memory-map " + path + ": " + std::strerror(errno));
  std::unique_ptr<File> f(new File());
  f->mapping_ = map;
  f->size_ = size;
  try {
    f->header_ = parse_header(static_cast<const uint8_t*>(map), size, size);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  f->point_into(static_cast<const uint8_t*>(map));
  return f;
}

File::~File() {
  if (mapping_) munmap(mapping_, static_cast<size_t>(size_));
}
#else
std::unique_ptr<File> File::open(const std::string& path) {
  throw Error("opening files by path is not available on this host; pass the model's bytes instead (" + path + ")");
}
File::~File() = default;
#endif

}  // namespace tabllm::gguf
