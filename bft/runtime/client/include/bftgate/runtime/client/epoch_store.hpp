// The epochs a member of the cluster went through, kept in a directory of its own: epochs/
// handoff-<e>.bin for each epoch e that ended (the register frozen at the switch with the epoch
// certificate complete: bft::EpochHandoff), written whole and synced. A validator keeps its own
// before it starts epoch e+1; the operator's tools and the inference nodes keep those they
// fetched (catch_up_epochs). Reading the newest back (bft::join_next_epoch, every link verified
// from the genesis config) gives the epoch that runs now, its set and endpoints, and the
// register it started from, so a validator restarted anywhere in a switch ends in the right
// epoch. Each epoch's write-ahead log is its own file (epoch_dir).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <vector>

#include "bftgate/base/bytes.hpp"
#include "bftgate/base/result.hpp"
#include "bftgate/config/cluster_config.hpp"
#include "bftgate/crypto/epoch.hpp"
#include "bftgate/register/register_epoch.hpp"
#include "bftgate/runtime/net/link_security.hpp"

namespace bftgate::runtime {

struct EpochStart {
  ClusterConfig config;  // the genesis config, or that of the epoch after the newest handoff
  Bytes snapshot;        // the register it starts from; empty for the genesis epoch
  std::vector<crypto::EpochLink> links;  // the chain from genesis to it, each link verified
};

// The epoch the kept handoffs lead to (the genesis config's when there is none); an error names
// a handoff that does not read or verify.
Result<EpochStart> newest_epoch(const ClusterConfig& genesis,
                                const std::filesystem::path& data_dir);
// The epoch `member` runs: the newest it is in. `removed_in` is set when a newer epoch's set
// leaves it out (its register of the epoch before is frozen there: it only answers queries).
struct MemberEpoch {
  EpochStart start;
  std::optional<std::uint64_t> removed_in;
};
Result<MemberEpoch> member_epoch(const ClusterConfig& genesis,
                                 const std::filesystem::path& data_dir, std::uint32_t member);

// Keeps `handoff` (written to a temporary file, synced, renamed, the directory synced).
Status save_handoff(const std::filesystem::path& data_dir, const bft::EpochHandoff& handoff);
// The kept handoff that ends `epoch`, if any.
Result<std::optional<bft::EpochHandoff>> load_handoff(const std::filesystem::path& data_dir,
                                                      std::uint64_t epoch);

// A member that missed switches (a new machine, a validator down while the others switched, an
// operator or node that was not looking) asks the validators of the newest epoch it holds for the
// handoff that ended it ({"query": "handoff", "epoch": e}); the first answer that joins (every link
// verified from `genesis`) is kept, and the next epoch's validators are asked in turn, over links
// secured by `security` (the member's own). Returns the epochs it caught up.
//
// follow_epochs: that, then the config of the newest epoch kept.
std::size_t catch_up_epochs(const ClusterConfig& genesis, const std::filesystem::path& data_dir,
                            const LinkSecurity& security, std::chrono::milliseconds timeout);
Result<EpochStart> follow_epochs(const ClusterConfig& genesis,
                                 const std::filesystem::path& state_dir,
                                 const LinkSecurity& security, std::chrono::milliseconds timeout);
// Where the operator's tools keep the handoffs of a cluster they talk to, by default:
// $XDG_CACHE_HOME (or ~/.cache)/bftgate/<cluster id>-<config fingerprint prefix>.
std::filesystem::path default_epoch_state(const ClusterConfig& genesis);

// Where epoch `epoch`'s write-ahead log lives: the data directory itself for the genesis epoch
// (as before epochs existed), epoch-<e>/ for the later ones.
std::filesystem::path epoch_dir(const std::filesystem::path& data_dir, const ClusterConfig& genesis,
                                std::uint64_t epoch);

}  // namespace bftgate::runtime
