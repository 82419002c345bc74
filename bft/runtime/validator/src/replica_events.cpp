#include "replica_events.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace bftgate::runtime {

void log_replica_event(std::uint32_t validator, const bft::ReplicaEvent& event,
                       Refusals& refusals) {
  using Kind = bft::ReplicaEvent::Kind;
  switch (event.kind) {
    case Kind::kViewChangeStarted:
      spdlog::info("validator {}: view change to view {}", validator, event.view);
      break;
    case Kind::kNewViewEntered:
      spdlog::info("validator {}: entered view {}", validator, event.view);
      break;
    case Kind::kReturnedToView:
      spdlog::info(
          "validator {}: no peer joined its view change; back in view {} with its peers, "
          "following without voting until the view it asked for",
          validator, event.view);
      break;
    case Kind::kStateTransferred:
      spdlog::info("validator {}: state transfer to checkpoint {}", validator, event.seq);
      break;
    case Kind::kCheckpointTaken:
      spdlog::debug("validator {}: checkpoint {} taken, state {}", validator, event.seq,
                    event.digest.hex().substr(0, 16));
      break;
    case Kind::kCheckpointStable:
      spdlog::debug("validator {}: checkpoint {} stable", validator, event.seq);
      break;
    case Kind::kCommitted:  // every decision: the metrics time it, the log would drown in it
      break;
    case Kind::kEquivocation:
      // Counted per signer: a peer's contradiction is evidence against it (an honest validator
      // restarted from its log must never show up here).
      refusals.refuse(fmt::format("equivocation-by-{}", event.peer), event.detail);
      break;
    case Kind::kRejected:
      // A client's request refused (too old an id, too many pending) is said at once: its
      // sender waits for a reply that will not come.
      if (event.client_request) {
        refusals.refuse("client-request", event.detail);
      } else {
        spdlog::debug("validator {}: refused: {}", validator, event.detail);
      }
      break;
  }
}

void DecisionLog::after_commit(const bft::AdapterRegister& app) {
  for (const auto& entry : app.entries()) {
    auto state = std::string(bft::to_string(entry.state));
    auto& known = decided_[entry.version];
    if (known != state) {
      if (!known.empty() || entry.version > 0) {
        spdlog::info("validator {}: adapter version {} is {} ({} PASS, {} FAIL){}", validator_,
                     entry.version, state, entry.pass_votes(), entry.fail_votes(),
                     entry.reason.empty() ? "" : ": " + entry.reason);
      }
      known = state;
    }
  }
}

}  // namespace bftgate::runtime
