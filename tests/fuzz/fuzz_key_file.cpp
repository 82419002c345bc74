// libFuzzer target: the secret-key file reader, read_key_file.
//
// read_key_file takes a path, so each input is written to one scratch file (created 0600
// with mkstemp under $TMPDIR, removed at exit) and read back from there.
// Properties: never crashes or throws; a refusal has a reason; an accepted key signs, and
// the signature verifies under the public key the file names.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "bftgate/config/key_file.hpp"
#include "fuzz_support.hpp"

using bftgate::ByteView;
using bftgate::fuzz::fail;
namespace crypto = bftgate::crypto;

namespace {

class ScratchFile {
 public:
  ScratchFile() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "bftgate-fuzz-key-XXXXXX").string();
    fd_ = ::mkstemp(pattern.data());
    if (fd_ < 0) {
      std::perror("fuzz_key_file: mkstemp");
      std::abort();
    }
    path_ = pattern;
  }
  ~ScratchFile() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::filesystem::path& write(ByteView content) {
    if (::ftruncate(fd_, 0) != 0) {
      std::perror("fuzz_key_file: ftruncate");
      std::abort();
    }
    std::size_t done = 0;
    while (done < content.size()) {
      auto wrote =
          ::pwrite(fd_, content.data() + done, content.size() - done, static_cast<off_t>(done));
      if (wrote <= 0) {
        std::perror("fuzz_key_file: pwrite");
        std::abort();
      }
      done += static_cast<std::size_t>(wrote);
    }
    return path_;
  }

 private:
  int fd_ = -1;
  std::filesystem::path path_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static ScratchFile scratch;
  const ByteView input(data, size);
  auto key_file = crypto::read_key_file(scratch.write(input));
  if (!key_file) {
    if (key_file.error().message.empty()) fail("read_key_file refused without a reason", input);
    return 0;
  }
  const auto& key = key_file.value().key;
  constexpr std::string_view kMessage = "fuzz";
  auto signature = key.sign(crypto::Domain::kRegisterVote, bftgate::as_bytes(kMessage));
  if (!crypto::verify(key.public_key(), crypto::Domain::kRegisterVote, bftgate::as_bytes(kMessage),
                      signature)) {
    fail("a key read from a key file makes signatures its public key does not verify", input);
  }
  return 0;
}
