// SHA-256 benchmarks (crypto_bench.cpp): sha256_file over a 256 MiB temporary file interleaved
// with `openssl dgst -sha256` on the same file, and one-shot sha256 over a 64 MiB buffer.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bftgate/crypto/sha256.hpp"
#include "bftgate/io/file_digest.hpp"
#include "crypto_bench_support.hpp"

namespace {

using namespace bftgate::crypto_bench;  // the shared helpers (crypto_bench_support.hpp)
namespace crypto = bftgate::crypto;
using bftgate::Bytes;

constexpr std::size_t kLargeFileSize = std::size_t{256} << 20;
constexpr std::size_t kBufferSize = std::size_t{64} << 20;
constexpr std::size_t kWriteChunk = std::size_t{1} << 20;

// The temporary file's path lives in a fixed buffer so that a signal handler can unlink it.
char g_temp_path[4096] = {};
volatile std::sig_atomic_t g_temp_exists = 0;

}  // namespace

namespace bftgate::crypto_bench {

void remove_temp_file() {
  if (g_temp_exists != 0) {
    ::unlink(g_temp_path);
    g_temp_exists = 0;
  }
}

void remove_temp_file_and_die(int signal_number) {  // extern "C" (crypto_bench_support.hpp)
  remove_temp_file();
  // SA_RESETHAND restored the default action: this terminates as the signal would have.
  ::raise(signal_number);
}

}  // namespace bftgate::crypto_bench

namespace {

// Runs `openssl dgst -sha256 PATH` (posix_spawnp, no shell) and returns what it printed, or
// nullopt if it could not be started or failed.
std::optional<std::string> openssl_dgst(const char* path) {
  std::array<int, 2> pipe_fds{};
  if (::pipe2(pipe_fds.data(), O_CLOEXEC) != 0) return std::nullopt;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  std::string arg0 = "openssl", arg1 = "dgst", arg2 = "-sha256", arg3 = path;
  std::array<char*, 5> argv{arg0.data(), arg1.data(), arg2.data(), arg3.data(), nullptr};
  pid_t pid = 0;
  int spawned = ::posix_spawnp(&pid, "openssl", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  std::string output;
  if (spawned == 0) {
    std::array<char, 4096> buffer{};
    for (;;) {
      ssize_t got = ::read(pipe_fds[0], buffer.data(), buffer.size());
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      output.append(buffer.data(), static_cast<std::size_t>(got));
    }
  }
  ::close(pipe_fds[0]);
  if (spawned != 0) return std::nullopt;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return std::nullopt;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return output;
}

struct LargeFile {
  std::string path;
  crypto::Digest digest;
  double openssl_startup_s = 0;  // `openssl dgst -sha256 /dev/null`: process start-up alone
  std::string error;             // set when the file could not be prepared
};

LargeFile make_large_file() {
  LargeFile file;
  const char* tmpdir = std::getenv("TMPDIR");
  std::string name =
      std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") + "/bftgate-bench-XXXXXX";
  if (name.size() >= sizeof(g_temp_path)) {
    file.error = "TMPDIR path is too long";
    return file;
  }
  std::memcpy(g_temp_path, name.c_str(), name.size() + 1);
  int fd = ::mkstemp(g_temp_path);
  if (fd < 0) {
    file.error = std::string("cannot create a temporary file: ") + std::strerror(errno);
    return file;
  }
  g_temp_exists = 1;
  file.path = g_temp_path;

  auto chunk = std::make_unique_for_overwrite<std::uint8_t[]>(kWriteChunk);
  std::uint64_t state = 0x6274666761746531ull;
  for (std::size_t written = 0; written < kLargeFileSize && file.error.empty();) {
    fill_deterministic(chunk.get(), kWriteChunk, state);
    std::size_t offset = 0;
    while (offset < kWriteChunk) {
      ssize_t got = ::write(fd, chunk.get() + offset, kWriteChunk - offset);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        file.error = file.path + ": write failed: " + std::strerror(errno);
        break;
      }
      offset += static_cast<std::size_t>(got);
    }
    written += offset;
  }
  // Write back now, so that dirty pages being flushed do not disturb the timed reads.
  if (file.error.empty() && ::fdatasync(fd) != 0) {
    file.error = file.path + ": fdatasync failed: " + std::strerror(errno);
  }
  ::close(fd);
  if (!file.error.empty()) return file;

  // Warm the page cache and take the reference digest.
  auto reference = bftgate::sha256_file(file.path);
  if (!reference || reference->size != kLargeFileSize) {
    file.error = reference ? "sha256_file read a wrong size" : reference.error().message;
    return file;
  }
  file.digest = reference->digest;

  // Warm openssl (binary and libraries in the page cache) and check that it agrees.
  auto output = openssl_dgst(file.path.c_str());
  if (!output) {
    file.error = "`openssl dgst -sha256` could not be run (is openssl installed?)";
    return file;
  }
  if (output->find(file.digest.hex()) == std::string::npos) {
    file.error = "openssl and sha256_file disagree on the digest of the test file";
    return file;
  }
  double best = 1e9;
  for (int i = 0; i < 5; ++i) {
    auto start = Clock::now();
    if (!openssl_dgst("/dev/null")) break;
    best = std::min(best, seconds_since(start));
  }
  file.openssl_startup_s = best < 1e9 ? best : 0.0;
  return file;
}

const LargeFile& large_file() {
  static const LargeFile file = make_large_file();
  return file;
}

void BM_Sha256_File256MiB(benchmark::State& state) {
  const auto& file = large_file();
  if (!file.error.empty()) {
    state.SkipWithError(file.error.c_str());
    return;
  }
  double ours_total = 0, openssl_total = 0;
  std::vector<double> ours_samples, openssl_samples;
  std::int64_t round = 0;
  for ([[maybe_unused]] auto _ : state) {
    double ours = 0, theirs = 0;
    bool ours_ok = true, theirs_ok = true;
    auto run_ours = [&] {
      auto start = Clock::now();
      auto result = bftgate::sha256_file(file.path);
      ours = seconds_since(start);
      ours_ok = result && result->digest == file.digest && result->size == kLargeFileSize;
    };
    auto run_openssl = [&] {
      auto start = Clock::now();
      auto output = openssl_dgst(file.path.c_str());
      theirs = seconds_since(start);
      theirs_ok = output.has_value();
    };
    if (round++ % 2 == 0) {
      run_ours();
      run_openssl();
    } else {
      run_openssl();
      run_ours();
    }
    if (!ours_ok || !theirs_ok) {
      state.SkipWithError(!ours_ok ? "sha256_file failed or gave a wrong digest"
                                   : "openssl dgst failed");
      break;
    }
    state.SetIterationTime(ours);
    ours_total += ours;
    openssl_total += theirs;
    ours_samples.push_back(ours);
    openssl_samples.push_back(theirs);
  }
  auto bytes = static_cast<double>(kLargeFileSize) * static_cast<double>(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kLargeFileSize));
  state.counters["MBps"] = ours_total > 0 ? bytes / ours_total / 1e6 : 0.0;
  state.counters["openssl_MBps"] = openssl_total > 0 ? bytes / openssl_total / 1e6 : 0.0;
  state.counters["openssl_ms"] = per_iteration(openssl_total, state) * 1e3;
  state.counters["openssl_startup_ms"] = file.openssl_startup_s * 1e3;
  state.counters["ratio_vs_openssl"] = median_ratio(ours_samples, openssl_samples);
}
BENCHMARK(BM_Sha256_File256MiB)->UseManualTime()->Unit(benchmark::kMillisecond);

void BM_Sha256_Buffer64MiB(benchmark::State& state) {
  static const std::vector<std::uint8_t> buffer = [] {
    std::vector<std::uint8_t> out(kBufferSize);
    std::uint64_t seed = 0x6275666665723634ull;
    fill_deterministic(out.data(), out.size(), seed);
    return out;
  }();
  for ([[maybe_unused]] auto _ : state) {
    auto digest = crypto::sha256(buffer);
    benchmark::DoNotOptimize(digest);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kBufferSize));
  state.counters["MBps"] = benchmark::Counter(
      static_cast<double>(kBufferSize) / 1e6 * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Sha256_Buffer64MiB)->Unit(benchmark::kMillisecond);

}  // namespace
