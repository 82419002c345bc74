#include "bftgate/config/key_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "bftgate/io/file_io.hpp"

namespace bftgate::crypto {

namespace {
constexpr std::string_view kHeader = "bftgate-secret-key v1";
constexpr std::size_t kMaxKeyFileSize = 1024;

// Wipes a buffer that held key material when it goes out of scope.
template <class Buffer>
struct Wiper {
  Buffer& buffer;
  ~Wiper() { sodium_memzero(buffer.data(), buffer.size()); }
};
template <class Buffer>
Wiper(Buffer&) -> Wiper<Buffer>;  // clang 14 has no aggregate deduction

// Splits "name value" lines; returns the value of the expected field or an error.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}

  Result<std::string_view> field(std::string_view name) {
    auto line = next_line();
    if (!line) return Error{fmt::format("missing line '{} ...'", name)};
    if (line->size() <= name.size() || line->substr(0, name.size()) != name ||
        (*line)[name.size()] != ' ') {
      return Error{fmt::format("line {}: expected '{} ...'", line_number_, name)};
    }
    return line->substr(name.size() + 1);
  }
  std::optional<std::string_view> next_line() {
    if (position_ >= text_.size()) return std::nullopt;
    auto end = text_.find('\n', position_);
    if (end == std::string_view::npos) end = text_.size();
    auto line = text_.substr(position_, end - position_);
    position_ = end + 1;
    ++line_number_;
    return line;
  }
  bool at_end() const { return position_ >= text_.size(); }

 private:
  std::string_view text_;
  std::size_t position_ = 0;
  int line_number_ = 0;
};
}  // namespace

std::string_view to_string(KeyRole role) {
  switch (role) {
    case KeyRole::kValidator:
      return "validator";
    case KeyRole::kOperator:
      return "operator";
    case KeyRole::kStore:
      return "store";
    case KeyRole::kNode:
      return "node";
  }
  return "?";
}

std::optional<KeyRole> parse_key_role(std::string_view text) {
  for (auto role : {KeyRole::kValidator, KeyRole::kOperator, KeyRole::kStore, KeyRole::kNode}) {
    if (to_string(role) == text) return role;
  }
  return std::nullopt;
}

Status write_key_file(const std::filesystem::path& path, KeyRole role, std::uint32_t id,
                      const SecretKey& key, bool overwrite) {
  std::array<std::uint8_t, kSeedSize> seed{};
  Wiper seed_wiper{seed};
  key.copy_seed_to(seed);
  std::array<char, 2 * kSeedSize + 1> seed_hex{};
  Wiper hex_wiper{seed_hex};
  sodium_bin2hex(seed_hex.data(), seed_hex.size(), seed.data(), seed.size());

  std::string content = fmt::format("{}\nrole {}\nid {}\npublic-key {}\nseed {}\n", kHeader,
                                    to_string(role), id, key.public_key().hex(), seed_hex.data());
  Wiper content_wiper{content};
  return write_file_atomic(path, as_bytes(content),
                           WriteOptions{.mode = 0600, .overwrite = overwrite});
}

Result<KeyFile> read_key_file(const std::filesystem::path& path) {
  auto refuse = [&](std::string_view reason) {
    return Error{fmt::format("key file {}: {}", path.string(), reason)};
  };
  // The file itself, not what a link names: a key is never read through a symbolic link.
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return refuse(std::strerror(errno));
  if (S_ISLNK(info.st_mode)) return refuse("a symbolic link; name the key file itself");
  if (!S_ISREG(info.st_mode)) return refuse("not a regular file");
  if ((info.st_mode & 077) != 0) {
    return refuse(fmt::format("mode {:04o} lets group or others access it; run chmod 600",
                              info.st_mode & 07777));
  }

  auto content = read_small_file(path, kMaxKeyFileSize);
  if (!content) return refuse(content.error().message);
  Wiper content_wiper{content.value()};

  LineReader reader(content.value());
  auto header = reader.next_line();
  if (!header || *header != kHeader) return refuse(fmt::format("first line must be '{}'", kHeader));

  auto role_text = reader.field("role");
  if (!role_text) return refuse(role_text.error().message);
  auto role = parse_key_role(*role_text);
  if (!role) return refuse("role must be 'validator', 'operator', 'store' or 'node'");

  auto id_text = reader.field("id");
  if (!id_text) return refuse(id_text.error().message);
  std::uint32_t id = 0;
  auto [end, ec] = std::from_chars(id_text->data(), id_text->data() + id_text->size(), id);
  if (ec != std::errc() || end != id_text->data() + id_text->size()) {
    return refuse("id is not an unsigned 32-bit integer");
  }

  auto public_text = reader.field("public-key");
  if (!public_text) return refuse(public_text.error().message);
  auto public_key = PublicKey::from_hex(*public_text);
  if (!public_key) return refuse("public-key is not 64 hex digits");

  auto seed_text = reader.field("seed");
  if (!seed_text) return refuse(seed_text.error().message);
  if (!reader.at_end()) return refuse("unexpected content after the seed line");
  std::array<std::uint8_t, kSeedSize> seed{};
  Wiper seed_wiper{seed};
  std::size_t written = 0;
  const char* hex_end = nullptr;
  if (seed_text->size() != 2 * kSeedSize ||
      sodium_hex2bin(seed.data(), seed.size(), seed_text->data(), seed_text->size(), nullptr,
                     &written, &hex_end) != 0 ||
      written != kSeedSize) {
    return refuse("seed is not 64 hex digits");
  }

  auto key = SecretKey::from_seed(seed);
  if (key.public_key() != *public_key) {
    return refuse("public-key does not match the seed (corrupted or edited file)");
  }
  return KeyFile{*role, id, std::move(key)};
}

}  // namespace bftgate::crypto
