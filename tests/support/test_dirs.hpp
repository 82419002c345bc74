// A temporary directory removed at the end of a test, unless BFTGATE_KEEP_TEST_DIRS is set (to
// read a failed run's logs and data afterwards; the path is printed to stderr).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace bftgate {

class TempDir {
 public:
  TempDir() {
    auto base = std::filesystem::temp_directory_path() / "bftgate-test-XXXXXX";
    std::string pattern = base.string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    if (const char* keep = std::getenv("BFTGATE_KEEP_TEST_DIRS");
        keep != nullptr && *keep != '\0') {
      std::fprintf(stderr, "kept %s\n", path_.c_str());
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace bftgate
