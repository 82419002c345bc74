#include "bftgate/config/key_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "bftgate/io/file_io.hpp"
#include "test_dirs.hpp"

namespace bftgate::crypto {
namespace {

mode_t mode_of(const std::filesystem::path& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0);
  return info.st_mode & 07777;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_text(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  ASSERT_TRUE(write_file_atomic(path, as_bytes(text), {.mode = mode, .overwrite = true}).ok());
}

TEST(KeyFile, WrittenWithMode0600AndReadBack) {
  TempDir dir;
  auto path = dir.path() / "validator-3.key";
  auto key = SecretKey::generate();
  ::umask(0);  // even a permissive umask must not widen the mode
  ASSERT_TRUE(write_key_file(path, KeyRole::kValidator, 3, key).ok());
  ::umask(022);
  EXPECT_EQ(mode_of(path), 0600u);

  auto loaded = read_key_file(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->role, KeyRole::kValidator);
  EXPECT_EQ(loaded->id, 3u);
  EXPECT_EQ(loaded->key.public_key(), key.public_key());
  Bytes body = {1, 2, 3};
  EXPECT_EQ(loaded->key.sign(Domain::kRegisterVote, body), key.sign(Domain::kRegisterVote, body));
}

TEST(KeyFile, RefusesToOverwriteUnlessAsked) {
  TempDir dir;
  auto path = dir.path() / "operator.key";
  auto first = SecretKey::generate();
  ASSERT_TRUE(write_key_file(path, KeyRole::kOperator, 0, first).ok());
  auto second = SecretKey::generate();
  EXPECT_FALSE(write_key_file(path, KeyRole::kOperator, 0, second).ok());
  EXPECT_EQ(read_key_file(path)->key.public_key(), first.public_key());
  ASSERT_TRUE(write_key_file(path, KeyRole::kOperator, 0, second, /*overwrite=*/true).ok());
  EXPECT_EQ(read_key_file(path)->key.public_key(), second.public_key());
  EXPECT_EQ(read_key_file(path)->role, KeyRole::kOperator);
}

TEST(KeyFile, RefusedWhenGroupOrWorldCanAccessIt) {
  TempDir dir;
  auto path = dir.path() / "validator-0.key";
  ASSERT_TRUE(write_key_file(path, KeyRole::kValidator, 0, SecretKey::generate()).ok());
  for (mode_t mode : {0640u, 0604u, 0660u, 0644u, 0610u, 0601u, 0740u}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto loaded = read_key_file(path);
    ASSERT_FALSE(loaded.ok()) << std::oct << mode;
    EXPECT_NE(loaded.error().message.find("chmod 600"), std::string::npos)
        << loaded.error().message;
  }
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(read_key_file(path).ok());
}

TEST(KeyFile, TamperedContentIsRefusedWithReason) {
  TempDir dir;
  auto good_path = dir.path() / "good.key";
  ASSERT_TRUE(write_key_file(good_path, KeyRole::kValidator, 1, SecretKey::generate()).ok());
  const std::string good = read_text(good_path);
  auto other = SecretKey::generate();

  auto replace_line = [&](const std::string& prefix, const std::string& line) {
    auto start = good.find(prefix);
    auto end = good.find('\n', start);
    return good.substr(0, start) + line + good.substr(end);
  };
  struct Case {
    std::string name;
    std::string content;
    std::string reason;
  } cases[] = {
      {"empty", "", "first line"},
      {"bad header", replace_line("bftgate-secret-key", "bftgate-secret-key v9"), "first line"},
      {"bad role", replace_line("role", "role admin"), "role"},
      {"bad id", replace_line("id ", "id -1"), "id"},
      {"short seed", replace_line("seed", "seed abcd"), "seed"},
      {"non-hex seed", replace_line("seed", "seed " + std::string(64, 'z')), "seed"},
      {"key of another seed", replace_line("public-key", "public-key " + other.public_key().hex()),
       "does not match"},
      {"trailing content", good + "extra\n", "unexpected content"},
      {"missing seed", good.substr(0, good.find("seed")), "seed"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto path = dir.path() / "tampered.key";
    write_text(path, c.content, 0600);
    auto loaded = read_key_file(path);
    ASSERT_FALSE(loaded.ok());
    EXPECT_NE(loaded.error().message.find(c.reason), std::string::npos) << loaded.error().message;
  }
}

TEST(KeyFile, MissingFileAndDirectoryAreRefused) {
  TempDir dir;
  EXPECT_FALSE(read_key_file(dir.path() / "absent.key").ok());
  auto sub = dir.path() / "sub";
  std::filesystem::create_directory(sub);
  ::chmod(sub.c_str(), 0700);
  auto loaded = read_key_file(sub);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("not a regular file"), std::string::npos);
}

TEST(KeyFile, ASymbolicLinkIsRefusedEvenToAGoodKey) {
  TempDir dir;
  auto real = dir.path() / "real.key";
  ASSERT_TRUE(write_key_file(real, KeyRole::kValidator, 1, SecretKey::generate()).ok());
  auto link = dir.path() / "link.key";
  std::filesystem::create_symlink(real, link);
  auto loaded = read_key_file(link);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("symbolic link"), std::string::npos);
  EXPECT_TRUE(read_key_file(real).ok());
}

TEST(KeyFile, EveryMemberRoleRoundTrips) {
  TempDir dir;
  for (auto role : {KeyRole::kValidator, KeyRole::kOperator, KeyRole::kStore, KeyRole::kNode}) {
    auto path = dir.path() / (std::string(to_string(role)) + ".key");
    auto key = SecretKey::generate();
    ASSERT_TRUE(write_key_file(path, role, 3, key).ok());
    auto loaded = read_key_file(path);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    EXPECT_EQ(loaded->role, role);
    EXPECT_EQ(parse_key_role(to_string(role)), role);
    EXPECT_EQ(loaded->key.public_key(), key.public_key());
  }
  EXPECT_FALSE(parse_key_role("admin"));
}

TEST(KeyFile, FileNeverContainsTheSeedOutsideTheSeedLine) {
  TempDir dir;
  auto path = dir.path() / "k.key";
  auto key = SecretKey::generate();
  ASSERT_TRUE(write_key_file(path, KeyRole::kValidator, 0, key).ok());
  std::array<std::uint8_t, kSeedSize> seed{};
  key.copy_seed_to(seed);
  auto text = read_text(path);
  auto seed_hex = to_hex(seed);
  EXPECT_EQ(text.find(seed_hex), text.find("seed ") + 5);
  EXPECT_EQ(text.rfind(seed_hex), text.find(seed_hex));
}

}  // namespace
}  // namespace bftgate::crypto
