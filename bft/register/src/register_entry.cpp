#include "bftgate/register/register_entry.hpp"

#include <algorithm>

namespace bftgate::bft {

std::string_view to_string(EntryState state) {
  switch (state) {
    case EntryState::kStable:
      return "STABLE";
    case EntryState::kBetaTesting:
      return "BETA_TESTING";
    case EntryState::kReleaseCommit:
      return "RELEASE_COMMIT";
    case EntryState::kRejected:
      return "REJECTED";
  }
  return "UNKNOWN";
}

std::size_t RegisterEntry::pass_votes() const {
  return static_cast<std::size_t>(
      std::count_if(votes.begin(), votes.end(),
                    [](const RecordedVote& vote) { return vote.verdict == Verdict::kPass; }));
}

std::size_t RegisterEntry::fail_votes() const {
  return votes.size() - pass_votes();
}

bool RegisterEntry::has_voted(std::uint32_t validator) const {
  return std::any_of(votes.begin(), votes.end(),
                     [validator](const RecordedVote& vote) { return vote.validator == validator; });
}

crypto::Digest compute_entry_hash(const RegisterEntry& entry) {
  crypto::Encoder encoder;
  encoder.fixed(entry.previous_entry_hash.bytes)
      .u64(entry.version)
      .fixed(entry.artifact_digest.bytes)
      .u64(entry.size)
      .str(entry.source)
      .fixed(entry.operator_signature.bytes);
  return crypto::sha256(encoder.data());
}

RegisterEntry genesis_entry() {
  RegisterEntry genesis;
  genesis.state = EntryState::kStable;
  genesis.reason = "genesis";
  genesis.entry_hash = compute_entry_hash(genesis);
  return genesis;
}

crypto::ReleaseStatement release_statement(const ClusterConfig& config,
                                           const RegisterEntry& entry) {
  return {.cluster_id = config.cluster_id,
          .epoch = config.epoch,
          .adapter_version = entry.version,
          .artifact_digest = entry.artifact_digest,
          .previous_entry_hash = entry.previous_entry_hash};
}

crypto::Digest compute_record_hash(const LogRecord& record) {
  crypto::Encoder encoder;
  encoder.fixed(record.previous_hash.bytes)
      .u64(record.index)
      .u32(record.client)
      .u8(static_cast<std::uint8_t>(record.kind))
      .boolean(record.valid)
      .str(record.reason)
      .fixed(record.operation_digest.bytes);
  return crypto::sha256(encoder.data());
}

}  // namespace bftgate::bft
