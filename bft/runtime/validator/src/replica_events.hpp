// What a validator says about its replica: each event of a Ready in its log (and, for evidence
// against a peer or a refused client request, in its refusal counts), and each adapter version's
// new state after a commit.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "bftgate/core/replica.hpp"
#include "bftgate/register/register.hpp"
#include "bftgate/runtime/net/refusals.hpp"

namespace bftgate::runtime {

void log_replica_event(std::uint32_t validator, const bft::ReplicaEvent& event, Refusals& refusals);

// Logs each version's state once, when it changes.
class DecisionLog {
 public:
  explicit DecisionLog(std::uint32_t validator) : validator_(validator) {}
  void after_commit(const bft::AdapterRegister& app);

 private:
  std::uint32_t validator_;
  std::map<std::uint64_t, std::string> decided_;
};

}  // namespace bftgate::runtime
