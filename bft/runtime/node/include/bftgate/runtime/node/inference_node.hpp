// An inference node: it polls validators (f+1 at a time, trusting nothing it cannot verify),
// and when a newer RELEASE_COMMIT appears it verifies the certificate against the cluster
// config, downloads the artifact from the store, checks the digest, and only then hot-swaps the
// adapter into the serving plane (gpu/: the CUDA backend on a GPU, else the CPU backend), whose
// swap API accepts only a VerifiedAdapter. It never loads without a certificate and never goes
// back a version. A synthetic request loop runs the tiny model with the active adapter and
// records the adapter version that computed each response. HTTP on the node's endpoint:
// GET /status (JSON) and GET /metrics (Prometheus text format).
//
// Backend "opaque" serves no model: adapters are verified bytes only (for protocol tests and the
// stand-in demo, whose artifacts are not adapters).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>

#include "bftgate/base/result.hpp"

namespace bftgate::runtime {

struct NodeOptions {
  std::filesystem::path config;
  std::uint32_t id = 0;
  // This node's secret key (keys/node-<id>.key), whose public key the config lists for it: its
  // links to the validators and the store are CURVE under it.
  std::filesystem::path key;
  // Links without CURVE, and no key (runtime/net/link_security.hpp): loopback benchmarks only.
  bool insecure_plaintext = false;
  std::filesystem::path cache_dir;
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds request_interval{10};
  std::string backend = "auto";  // auto, cpu, cuda or opaque
  std::filesystem::path model;   // model.safetensors; empty: the cached default model
  // Where /status and /metrics are served: this host only, unless told otherwise.
  std::string http_bind = "127.0.0.1";
};

class InferenceNode {
 public:
  virtual ~InferenceNode() = default;
  virtual int run() = 0;  // until SIGTERM/SIGINT
};

Result<std::unique_ptr<InferenceNode>> make_inference_node(const NodeOptions& options);

}  // namespace bftgate::runtime
