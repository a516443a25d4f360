// A parsed GGUF whose bytes are in memory: memory-mapped on POSIX hosts, or a caller's buffer.
#include <cerrno>
#include <cstring>

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

std::unique_ptr<File> File::from_memory(const uint8_t* data, size_t size) {
  std::unique_ptr<File> f(new File());
  f->header_ = parse_header(data, size, size);
  f->data_ = data;
  f->size_ = size;
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
  f->data_ = static_cast<const uint8_t*>(map);
  f->size_ = size;
  try {
    f->header_ = parse_header(f->data_, size, size);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  return f;
}

File::~File() {
  if (mapping_) munmap(mapping_, size_);
}
#else
std::unique_ptr<File> File::open(const std::string& path) {
  throw Error("opening files by path is not available on this host; pass the model's bytes instead (" + path + ")");
}
File::~File() = default;
#endif

}  // namespace tabllm::gguf
