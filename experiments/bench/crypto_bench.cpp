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
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "crypto_bench_support.hpp"

using bftgate::crypto_bench::remove_temp_file;
using bftgate::crypto_bench::remove_temp_file_and_die;

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
