// Durable file writes: nothing half-written survives a crash.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

#include "bftgate/base/bytes.hpp"
#include "bftgate/base/result.hpp"

namespace bftgate {

struct WriteOptions {
  mode_t mode = 0644;
  bool overwrite = false;  // refuse to replace an existing file unless set
};

// Writes to a temporary file beside `path` (created with `mode`), fsyncs it, renames it over
// `path` and fsyncs the directory. On any error the target is untouched.
Status write_file_atomic(const std::filesystem::path& path, ByteView content,
                         const WriteOptions& options = {});

// A file descriptor that closes itself.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

struct OpenedFile {
  UniqueFd fd;
  std::uint64_t size = 0;  // at the open
};

// Opens a path for reading only when it names a regular file (following symlinks) of at most
// max_size bytes: a FIFO, a device such as /dev/zero, a directory or a socket is refused before
// anything blocks on it (the open itself is non-blocking; the descriptor is then made blocking).
Result<OpenedFile> open_regular_file(const std::filesystem::path& path,
                                     std::uint64_t max_size = UINT64_MAX);

// write(2) until all of `data` is written, retrying on EINTR; the error names its cause
// (No space left on device, File too large, ...).
Status write_all(int fd, ByteView data);

// Reads a whole (small) regular file; refuses files larger than max_size.
Result<std::string> read_small_file(const std::filesystem::path& path, std::size_t max_size);

}  // namespace bftgate
