// The node's cache folder (private to the node): the record of the highest version served, with
// its certificate (rollback protection across restarts, as TUF's), and the artifact it serves.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "bftgate/base/result.hpp"
#include "bftgate/config/cluster_config.hpp"
#include "bftgate/crypto/epoch_chain.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/crypto/verified_release.hpp"

namespace bftgate::runtime {

std::filesystem::path served_record_path(const std::filesystem::path& cache_dir);

// Writes (fsync'd, atomically) `release` as the version served.
Status write_served_record(const std::filesystem::path& cache_dir,
                           const crypto::VerifiedRelease& release);

// The version served before a restart, its certificate verified against the chain the node
// holds (the set of the certificate's own epoch); none at a first start, and none (with `why`
// set) for a record that does not parse or verify.
std::optional<crypto::VerifiedRelease> read_served_record(const std::filesystem::path& cache_dir,
                                                          const crypto::EpochChain& chain,
                                                          std::string& why);

// Removes every cached artifact but the one served (and the record): older versions are never
// served again.
void prune_cache(const std::filesystem::path& cache_dir, const crypto::Digest& served);

}  // namespace bftgate::runtime
