// Durable file writes: nothing half-written survives a crash.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "bftgate/crypto/bytes.hpp"
#include "bftgate/crypto/result.hpp"

namespace bftgate {

struct WriteOptions {
  mode_t mode = 0644;
  bool overwrite = false;  // refuse to replace an existing file unless set
};

// Writes to a temporary file beside `path` (created with `mode`), fsyncs it, renames it over
// `path` and fsyncs the directory. On any error the target is untouched.
Status write_file_atomic(const std::filesystem::path& path, ByteView content,
                         const WriteOptions& options = {});

// Reads a whole (small) file; refuses files larger than max_size.
Result<std::string> read_small_file(const std::filesystem::path& path, std::size_t max_size);

}  // namespace bftgate
