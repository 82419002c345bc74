// Release certificate benchmarks (crypto_bench.cpp): crypto::verify(cert, config) for n = 4, 31,
// 100 against the same 2f+1 raw libsodium verifications, single-threaded and in parallel.
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "crypto_bench_support.hpp"

namespace {

using namespace bftgate::crypto_bench;  // the shared helpers (crypto_bench_support.hpp)
namespace crypto = bftgate::crypto;
using bftgate::Bytes;

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
