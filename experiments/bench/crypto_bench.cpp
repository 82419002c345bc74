// Benchmarks of the bftgate crypto library (make bench runs them through scripts/run_bench.sh).
//
//   Ed25519       SecretKey::sign / crypto::verify over a ~100-byte message (an encoded release
//                 statement), and raw libsodium crypto_sign_{detached,verify_detached} beside them.
//   SHA-256       sha256_file over a 256 MiB temporary file, interleaved with `openssl dgst
//                 -sha256` on the same page-cache-warm file: counter ratio_vs_openssl = our time /
//                 openssl's time (target <= 1.2). One-shot sha256 over a 64 MiB in-memory buffer.
//   Certificates  crypto::verify(cert, config) for n = 4, 31, 100 BFT validators with exactly
//                 quorum() = 2f+1 signatures, interleaved with 2f+1 raw crypto_sign_verify_detached
//                 calls over the same signing message: counters raw_us, cert_us, ratio_vs_raw =
//                 cert / raw (target <= 1.1). The parallel variant (VerifyOptions threads = 0)
//                 reports speedup = single-threaded raw / parallel cert, and ratio_vs_raw =
//                 parallel cert / (single-threaded raw / threads), i.e. against perfect linear
//                 scaling. Interleaved with them, the same raw verifications on a pool of
//                 pre-started threads: pool_speedup (what the cores deliver right now) and
//                 ratio_vs_raw_parallel = parallel cert / pooled raw, the library's own overhead.
//
// Interleaved comparisons time every side with std::chrono inside the same iteration and rotate
// which side goes first, so CPU frequency changes and noisy neighbours hit all sides alike. The
// time the framework reports for them (manual time) is the bftgate side alone (a mean); the *_us
// counters are medians over iterations and the ratios medians of the per-iteration ratios.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bftgate/base/encoding.hpp"
#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/io/file_digest.hpp"

namespace {

namespace crypto = bftgate::crypto;
using bftgate::Bytes;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double per_iteration(double total, const benchmark::State& state) {
  return state.iterations() > 0 ? total / static_cast<double>(state.iterations()) : 0.0;
}

// Median of the samples (0 when there are none). Paired comparisons report the median of the
// per-iteration ratios: one preemption landing on one side of one iteration then moves nothing.
double median(std::vector<double> samples) {
  if (samples.empty()) return 0.0;
  auto middle = samples.begin() + static_cast<std::ptrdiff_t>(samples.size() / 2);
  std::nth_element(samples.begin(), middle, samples.end());
  double upper = *middle;
  if (samples.size() % 2 == 1) return upper;
  return (upper + *std::max_element(samples.begin(), middle)) / 2;
}

// Median over iterations of scale * numerator[i] / denominator[i].
double median_ratio(const std::vector<double>& numerator, const std::vector<double>& denominator,
                    double scale = 1.0) {
  std::vector<double> ratios;
  for (std::size_t i = 0; i < numerator.size() && i < denominator.size(); ++i) {
    if (denominator[i] > 0) ratios.push_back(scale * numerator[i] / denominator[i]);
  }
  return median(std::move(ratios));
}

// Deterministic pseudo-random content (splitmix64), so every run hashes the same bytes.
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void fill_deterministic(std::uint8_t* out, std::size_t size, std::uint64_t& state) {
  for (std::size_t i = 0; i < size; i += 8) {
    auto word = splitmix64(state);
    std::memcpy(out + i, &word, std::min<std::size_t>(8, size - i));
  }
}

// ---------------------------------------------------------------------------------------------
// Ed25519

struct SignFixture {
  std::array<std::uint8_t, crypto::kSeedSize> seed{};
  std::optional<crypto::SecretKey> key;
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> raw_secret{};  // same key, libsodium layout
  Bytes body;     // what bftgate signs (an encoded release statement, 97 bytes)
  Bytes message;  // signing_message(kReleaseApproval, body): the bytes Ed25519 actually signs
  crypto::Signature signature;

  SignFixture() {
    for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(i * 7 + 1);
    key = crypto::SecretKey::from_seed(seed);
    std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> raw_public{};
    crypto_sign_seed_keypair(raw_public.data(), raw_secret.data(), seed.data());
    crypto::ReleaseStatement statement{
        .cluster_id = "bftgate-local",
        .epoch = 1,
        .adapter_version = 42,
        .artifact_digest = crypto::sha256(bftgate::as_bytes("adapter artifact")),
        .previous_entry_hash = crypto::sha256(bftgate::as_bytes("previous register entry")),
    };
    body = statement.encode();
    message = crypto::signing_message(crypto::Domain::kReleaseApproval, body);
    signature = key->sign(crypto::Domain::kReleaseApproval, body);
  }
  ~SignFixture() { sodium_memzero(raw_secret.data(), raw_secret.size()); }
  SignFixture(const SignFixture&) = delete;
  SignFixture& operator=(const SignFixture&) = delete;
};

const SignFixture& sign_fixture() {
  static const SignFixture fixture;
  return fixture;
}

void BM_Ed25519_Sign(benchmark::State& state) {
  const auto& fx = sign_fixture();
  for ([[maybe_unused]] auto _ : state) {
    auto signature = fx.key->sign(crypto::Domain::kReleaseApproval, fx.body);
    benchmark::DoNotOptimize(signature);
  }
  state.counters["msg_bytes"] = static_cast<double>(fx.message.size());
}
BENCHMARK(BM_Ed25519_Sign)->Unit(benchmark::kMicrosecond);

void BM_Ed25519_Verify(benchmark::State& state) {
  const auto& fx = sign_fixture();
  const auto& public_key = fx.key->public_key();
  for ([[maybe_unused]] auto _ : state) {
    bool ok = crypto::verify(public_key, crypto::Domain::kReleaseApproval, fx.body, fx.signature);
    benchmark::DoNotOptimize(ok);
    if (!ok) {
      state.SkipWithError("crypto::verify rejected a valid signature");
      break;
    }
  }
  state.counters["msg_bytes"] = static_cast<double>(fx.message.size());
}
BENCHMARK(BM_Ed25519_Verify)->Unit(benchmark::kMicrosecond);

void BM_Sodium_SignDetached(benchmark::State& state) {
  const auto& fx = sign_fixture();
  for ([[maybe_unused]] auto _ : state) {
    std::array<std::uint8_t, crypto_sign_BYTES> signature{};
    crypto_sign_detached(signature.data(), nullptr, fx.message.data(), fx.message.size(),
                         fx.raw_secret.data());
    benchmark::DoNotOptimize(signature);
  }
  state.counters["msg_bytes"] = static_cast<double>(fx.message.size());
}
BENCHMARK(BM_Sodium_SignDetached)->Unit(benchmark::kMicrosecond);

void BM_Sodium_VerifyDetached(benchmark::State& state) {
  const auto& fx = sign_fixture();
  const auto& public_key = fx.key->public_key();
  for ([[maybe_unused]] auto _ : state) {
    int rc = crypto_sign_verify_detached(fx.signature.bytes.data(), fx.message.data(),
                                         fx.message.size(), public_key.bytes.data());
    benchmark::DoNotOptimize(rc);
    if (rc != 0) {
      state.SkipWithError("crypto_sign_verify_detached rejected a valid signature");
      break;
    }
  }
  state.counters["msg_bytes"] = static_cast<double>(fx.message.size());
}
BENCHMARK(BM_Sodium_VerifyDetached)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------------------------
// SHA-256

constexpr std::size_t kLargeFileSize = std::size_t{256} << 20;
constexpr std::size_t kBufferSize = std::size_t{64} << 20;
constexpr std::size_t kWriteChunk = std::size_t{1} << 20;

// The temporary file's path lives in a fixed buffer so that a signal handler can unlink it.
char g_temp_path[4096] = {};
volatile std::sig_atomic_t g_temp_exists = 0;

void remove_temp_file() {
  if (g_temp_exists != 0) {
    ::unlink(g_temp_path);
    g_temp_exists = 0;
  }
}

extern "C" void remove_temp_file_and_die(int signal_number) {
  remove_temp_file();
  // SA_RESETHAND restored the default action: this terminates as the signal would have.
  ::raise(signal_number);
}

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

// ---------------------------------------------------------------------------------------------
// Release certificates

struct CertFixture {
  bftgate::ClusterConfig config;
  bftgate::ValidatorSet validators;  // what the certificate is verified against
  crypto::ReleaseCertificate certificate;
  Bytes message;                        // the one signing message every signer signed
  std::vector<crypto::PublicKey> keys;  // the signers' public keys, in certificate order
  std::vector<crypto::Signature> signatures;
  std::string error;
};

std::unique_ptr<CertFixture> make_cert_fixture(std::size_t n) {
  auto fx = std::make_unique<CertFixture>();
  auto generated = bftgate::generate_cluster(bftgate::ClusterSpec{
      .validators = n,
      .inference_nodes = 0,
      .fault_model = bftgate::FaultModel::kBft,
      .cluster_id = "bftgate-bench",
      .epoch = 1,
      .host = "127.0.0.1",
      .base_port = 27000,
  });
  if (!generated) {
    fx->error = generated.error().message;
    return fx;
  }
  fx->config = generated->config;
  fx->validators = fx->config.validator_set();
  crypto::ReleaseStatement statement{
      .cluster_id = fx->config.cluster_id,
      .epoch = fx->config.epoch,
      .adapter_version = 42,
      .artifact_digest = crypto::sha256(bftgate::as_bytes("adapter artifact")),
      .previous_entry_hash = crypto::sha256(bftgate::as_bytes("previous register entry")),
  };
  fx->certificate.statement = statement;
  // Exactly quorum() signatures (2f+1 for n = 3f+1): the first quorum() validators sign.
  for (std::size_t i = 0; i < fx->config.quorum(); ++i) {
    fx->certificate.add_signature(fx->config.validators[i].id,
                                  crypto::sign_release(generated->validator_keys[i], statement));
  }
  fx->message = crypto::signing_message(crypto::Domain::kReleaseApproval, statement.encode());
  auto ids = fx->certificate.signers().ids();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    fx->keys.push_back(fx->config.find_validator(ids[i])->public_key);
    fx->signatures.push_back(fx->certificate.signatures()[i]);
  }
  if (auto verdict = crypto::verify(fx->certificate, fx->validators); !verdict.ok()) {
    fx->error = "the benchmark certificate does not verify: " + verdict.reason;
  }
  return fx;
}

const CertFixture& cert_fixture(std::size_t n) {
  // Benchmarks run one at a time on the main thread: no locking needed.
  static std::map<std::size_t, std::unique_ptr<CertFixture>> fixtures;
  auto& slot = fixtures[n];
  if (!slot) slot = make_cert_fixture(n);
  return *slot;
}

// The reference: plain libsodium verifications of signatures [begin, end) over the one message.
// Returns the number of failures.
int raw_verify_range(const CertFixture& fx, std::size_t begin, std::size_t end) {
  int failures = 0;
  for (std::size_t i = begin; i < end; ++i) {
    failures += crypto_sign_verify_detached(fx.signatures[i].bytes.data(), fx.message.data(),
                                            fx.message.size(), fx.keys[i].bytes.data()) != 0
                    ? 1
                    : 0;
  }
  return failures;
}

int raw_verify_all(const CertFixture& fx) {
  return raw_verify_range(fx, 0, fx.keys.size());
}

// The parallel reference: the same raw verifications split into the same contiguous chunks as
// verify() splits them, on threads that are started once and then only woken for each round
// (a minimal thread pool). What the machine's cores can do right now, measured interleaved with
// the library, so a noisy neighbour or a vCPU that is not really there weighs on both alike.
class RawPool {
 public:
  RawPool(const CertFixture& fx, unsigned threads)
      : fx_(fx), threads_(threads), failures_(threads) {
    for (unsigned t = 1; t < threads_; ++t) workers_.emplace_back([this, t] { work(t); });
  }
  ~RawPool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
  }  // the jthreads join here
  RawPool(const RawPool&) = delete;
  RawPool& operator=(const RawPool&) = delete;

  // One round: every chunk verified (chunk 0 on the caller's thread). Returns the failures.
  int verify_all() {
    {
      std::lock_guard lock(mutex_);
      ++generation_;
      pending_ = threads_ - 1;
    }
    wake_.notify_all();
    int failures = raw_verify_range(fx_, chunk_begin(0), chunk_begin(1));
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    for (unsigned t = 1; t < threads_; ++t) failures += failures_[t];
    return failures;
  }

 private:
  std::size_t chunk_begin(unsigned t) const { return fx_.keys.size() * t / threads_; }

  void work(unsigned t) {
    std::uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      int failures = raw_verify_range(fx_, chunk_begin(t), chunk_begin(t + 1));
      std::lock_guard lock(mutex_);
      failures_[t] = failures;
      if (--pending_ == 0) done_.notify_one();
    }
  }

  const CertFixture& fx_;
  const unsigned threads_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::uint64_t generation_ = 0;
  unsigned pending_ = 0;
  bool stop_ = false;
  std::vector<int> failures_;
  std::vector<std::jthread> workers_;  // last: joined before the state they use goes away
};

// Seconds per iteration of each side.
struct CertSamples {
  std::vector<double> raw;           // raw_verify_all (single-threaded)
  std::vector<double> raw_parallel;  // RawPool::verify_all (when a pool is given)
  std::vector<double> cert;          // crypto::verify with the given options
};

// Runs the interleaved loop: each iteration times the raw reference(s) and crypto::verify,
// rotating which goes first. Returns false (after SkipWithError) on any failure.
bool run_cert_loop(benchmark::State& state, const CertFixture& fx,
                   const crypto::VerifyOptions& options, RawPool* pool, CertSamples& samples) {
  std::size_t round = 0;
  for ([[maybe_unused]] auto _ : state) {
    double raw = 0, raw_parallel = 0, cert = 0;
    bool raw_ok = true, cert_ok = true;
    auto run_raw = [&] {
      auto start = Clock::now();
      int failures = raw_verify_all(fx);
      raw = seconds_since(start);
      benchmark::DoNotOptimize(failures);
      raw_ok = raw_ok && failures == 0;
    };
    auto run_raw_parallel = [&] {
      if (pool == nullptr) return;
      auto start = Clock::now();
      int failures = pool->verify_all();
      raw_parallel = seconds_since(start);
      benchmark::DoNotOptimize(failures);
      raw_ok = raw_ok && failures == 0;
    };
    auto run_cert = [&] {
      auto start = Clock::now();
      auto verdict = crypto::verify(fx.certificate, fx.validators, options);
      cert = seconds_since(start);
      cert_ok = verdict.ok();
    };
    switch (round++ % 3) {
      case 0:
        run_raw();
        run_raw_parallel();
        run_cert();
        break;
      case 1:
        run_cert();
        run_raw();
        run_raw_parallel();
        break;
      default:
        run_raw_parallel();
        run_cert();
        run_raw();
        break;
    }
    if (!raw_ok || !cert_ok) {
      state.SkipWithError(!cert_ok ? "crypto::verify rejected a valid certificate"
                                   : "libsodium rejected a valid signature");
      return false;
    }
    state.SetIterationTime(cert);
    samples.raw.push_back(raw);
    if (pool != nullptr) samples.raw_parallel.push_back(raw_parallel);
    samples.cert.push_back(cert);
  }
  return true;
}

void set_cluster_counters(benchmark::State& state, const CertFixture& fx) {
  state.counters["n"] = static_cast<double>(fx.config.n());
  state.counters["f"] = static_cast<double>(fx.config.f);
  state.counters["signers"] = static_cast<double>(fx.keys.size());
}

void BM_CertVerify(benchmark::State& state) {
  const auto& fx = cert_fixture(static_cast<std::size_t>(state.range(0)));
  if (!fx.error.empty()) {
    state.SkipWithError(fx.error.c_str());
    return;
  }
  crypto::VerifyOptions options;
  options.threads = 1;
  CertSamples samples;
  if (!run_cert_loop(state, fx, options, nullptr, samples)) return;
  set_cluster_counters(state, fx);
  state.counters["raw_us"] = median(samples.raw) * 1e6;
  state.counters["cert_us"] = median(samples.cert) * 1e6;
  state.counters["ratio_vs_raw"] = median_ratio(samples.cert, samples.raw);
}
BENCHMARK(BM_CertVerify)->Arg(4)->Arg(31)->Arg(100)->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_CertVerifyParallel(benchmark::State& state) {
  const auto& fx = cert_fixture(static_cast<std::size_t>(state.range(0)));
  if (!fx.error.empty()) {
    state.SkipWithError(fx.error.c_str());
    return;
  }
  // What verify() does with threads = 0: one thread per core, at most one per signature.
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  auto threads = static_cast<unsigned>(std::min<std::size_t>(cores, fx.keys.size()));
  RawPool pool(fx, threads);

  crypto::VerifyOptions options;
  options.threads = 0;  // every core
  CertSamples samples;
  if (!run_cert_loop(state, fx, options, &pool, samples)) return;
  set_cluster_counters(state, fx);
  state.counters["cores"] = static_cast<double>(cores);
  state.counters["verify_threads"] = static_cast<double>(threads);
  state.counters["raw_us"] = median(samples.raw) * 1e6;
  state.counters["raw_parallel_us"] = median(samples.raw_parallel) * 1e6;
  state.counters["cert_us"] = median(samples.cert) * 1e6;
  // Parallel certificate verification against single-threaded raw verification.
  state.counters["speedup"] = median_ratio(samples.raw, samples.cert);
  // Against perfect scaling of single-threaded raw verification over verify_threads threads.
  state.counters["ratio_vs_raw"] =
      median_ratio(samples.cert, samples.raw, static_cast<double>(threads));
  // What the pool got out of the same threads, and the library against the pool.
  state.counters["pool_speedup"] = median_ratio(samples.raw, samples.raw_parallel);
  state.counters["ratio_vs_raw_parallel"] = median_ratio(samples.cert, samples.raw_parallel);
}
BENCHMARK(BM_CertVerifyParallel)->Arg(31)->Arg(100)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  // The 256 MiB temporary file goes away however the run ends.
  std::atexit(remove_temp_file);
  struct sigaction action {};
  action.sa_handler = remove_temp_file_and_die;
  action.sa_flags = static_cast<int>(SA_RESETHAND);
  sigemptyset(&action.sa_mask);
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP, SIGQUIT})
    ::sigaction(signal_number, &action, nullptr);

  int status = 0;
  try {
    benchmark::RunSpecifiedBenchmarks();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crypto_bench: %s\n", e.what());
    status = 1;
  }
  benchmark::Shutdown();
  remove_temp_file();
  return status;
}
