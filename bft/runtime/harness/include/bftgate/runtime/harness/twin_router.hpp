// Twins on the wire (BRIEF §3): two validator processes run under one identity and one key, and
// the network shows each of them to a different part of the cluster. The router listens on the
// identity's endpoint from the cluster config and forwards each peer's traffic to one twin: peers
// in `side_b` reach twin B, everyone else (the other peers, clients, inference nodes) twin A.
// Both twins send to every peer directly, so peers receive two diverging replicas that sign as
// the same validator. Replies travel back through the router to whoever asked.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>

#include "bftgate/base/result.hpp"

namespace bftgate::runtime {

struct TwinRouterOptions {
  std::filesystem::path config;
  std::uint32_t id = 0;            // the identity both twins use
  // That identity's key: the router is a CURVE server under it to the cluster, and a CURVE
  // client under it to each twin (which listens under the same key).
  std::filesystem::path key;
  bool insecure_plaintext = false;  // no CURVE anywhere (the cluster runs in plaintext)
  std::string twin_a;              // endpoint twin A listens on (validator --listen)
  std::string twin_b;              // endpoint twin B listens on
  std::set<std::uint32_t> side_b;  // validator ids whose traffic goes to twin B
};

// Runs until SIGTERM or SIGINT; returns the process exit code.
int run_twin_router(const TwinRouterOptions& options);

// Which twin a sender's routing id belongs to: 'B' for a validator of side_b, else 'A'.
// Validators' routing ids are "validator-<id>-<pid>".
char twin_side_of(std::string_view routing_id, const std::set<std::uint32_t>& side_b);

}  // namespace bftgate::runtime
