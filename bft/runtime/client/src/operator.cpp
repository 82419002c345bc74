#include "bftgate/runtime/client/operator.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <limits>
#include <thread>

#include "bftgate/cluster/ed25519_signer.hpp"
#include "bftgate/crypto/sodium.hpp"
#include "bftgate/io/file_digest.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/register/register.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/store/artifact_source.hpp"
#include "bftgate/runtime/store/artifact_store.hpp"
#include "bftgate/validation/peft.hpp"

namespace bftgate::runtime {

Result<std::filesystem::path> artifact_file_for(const std::filesystem::path& adapter,
                                                const std::filesystem::path& scratch_dir,
                                                bool check) {
  if (!std::filesystem::is_directory(adapter)) {
    if (check && adapter.extension() == ".safetensors") {
      auto bytes = read_small_file(adapter, std::size_t{4} << 30);
      if (!bytes) return bytes.error();
      if (auto s = validation::check_packed_adapter(as_bytes(*bytes)); !s) {
        return Error{fmt::format("{}: {}", adapter.string(), s.error().message)};
      }
    }
    return std::filesystem::absolute(adapter);
  }
  auto packed = validation::pack_peft_adapter(adapter);
  if (!packed) return Error{fmt::format("{}: {}", adapter.string(), packed.error().message)};
  std::error_code ec;
  std::filesystem::create_directories(scratch_dir, ec);
  if (ec) return Error{fmt::format("cannot create {}: {}", scratch_dir.string(), ec.message())};
  auto digest = crypto::sha256(*packed);
  auto file = std::filesystem::absolute(scratch_dir / (digest.hex() + ".adapter.safetensors"));
  // Content-addressed: a file of that name with those bytes is this artifact already.
  if (auto existing = bftgate::sha256_file(file); existing && existing->digest == digest)
    return file;
  if (auto s = write_file_atomic(file, *packed, WriteOptions{.mode = 0644, .overwrite = true}); !s)
    return s.error();
  return file;
}

using json = nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

// One above the highest version f+1 validators know of (at least one of them is honest).
Result<std::uint64_t, ProposeError> next_version(ClusterClient& client,
                                                 const ClusterConfig& config) {
  auto statuses = client.status_all(milliseconds(2000), {}, ClusterClient::Wait::kAllButF);
  if (statuses.answers.size() < std::size_t{config.f} + 1) {
    return ProposeError{
        ProposeError::Kind::kFailed,
        fmt::format(
            "only {} of {} validators answered; cannot pick the next version (f+1 = {} needed)",
            statuses.answers.size(), config.n(), config.f + 1)};
  }
  std::uint64_t highest = 0;
  for (const auto& [id, status] : statuses.answers) {
    for (const auto& entry : status.entries) highest = std::max(highest, entry.version);
  }
  if (highest >= bft::kMaxAdapterVersion) {
    return ProposeError{ProposeError::Kind::kRefused, "the register's version space is exhausted"};
  }
  return highest + 1;
}

// Whether f+1 validators (one of them honest) hold `digest` as the artifact of `version`.
bool holds_artifact(ClusterClient& client, const ClusterConfig& config, std::uint64_t version,
                    const crypto::Digest& digest) {
  std::size_t agreeing = 0;
  for (const auto& [id, status] :
       client
           .status_all(milliseconds(2000), {.before = version + 1, .limit = 1},
                       ClusterClient::Wait::kAllButF)
           .answers) {
    const auto* entry = status.entry(version);
    if (entry != nullptr && entry->artifact_digest == digest) ++agreeing;
  }
  return agreeing >= std::size_t{config.f} + 1;
}

// Each voter's verdict with the reason it kept for this version, so that a REJECTED result says
// who failed the adapter, and why.
std::vector<VoterReport> voter_reports(const std::map<bft::ReplicaId, StatusAnswer>& answers,
                                       const EntryReport& entry) {
  std::vector<VoterReport> reports;
  for (const auto& vote : entry.votes) {
    VoterReport report{vote.validator, vote.verdict, std::nullopt};
    if (auto it = answers.find(vote.validator); it != answers.end()) {
      if (const auto* kept = it->second.validation(entry.version)) report.reason = kept->reason;
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

// Request ids above the highest the cluster executed for the operator (learned at start, not
// read off a clock, so a clock that was wrong and then corrected locks nobody out), plus a
// random gap of up to 2^32, so that concurrent submits under one key each wait for the replies
// to their own ids.
Result<std::uint64_t> first_request_id(ClusterClient& client) {
  auto highest = client.highest_request_id(bft::kOperatorPrincipal, milliseconds(3000));
  if (!highest) return highest.error();
  crypto::ensure_sodium_initialized();
  const std::uint64_t gap = 1 + randombytes_uniform(UINT32_MAX);
  if (*highest > UINT64_MAX - gap - 1'000'000)
    return Error{"the operator's request ids are used up"};
  return *highest + gap;
}

// The operator's requests are signed with its key, as principal kOperatorPrincipal.
bft::Ed25519Signer operator_signer(const crypto::SecretKey& operator_key) {
  std::array<std::uint8_t, crypto::kSeedSize> seed{};
  operator_key.copy_seed_to(seed);
  bft::Ed25519Signer signer(bft::kOperatorPrincipal, crypto::SecretKey::from_seed(seed));
  sodium_memzero(seed.data(), seed.size());
  return signer;
}

ProposeError undecided_start(const Error& why) {
  return ProposeError{
      ProposeError::Kind::kUndecided,
      fmt::format("the cluster did not tell where the operator's requests stand: {}", why.message)};
}

}  // namespace

Result<bft::RegisterReply, ProposeError> submit_operator_operation(
    const ClusterConfig& config, const LinkSecurity& security,
    const crypto::SecretKey& operator_key, Bytes operation, milliseconds timeout) {
  using Kind = ProposeError::Kind;
  auto signer = operator_signer(operator_key);
  ClusterClient client(config, security);
  auto first_id = first_request_id(client);
  if (!first_id) return undecided_start(first_id.error());
  auto request = bft::make_message(signer, bft::Request{*first_id, std::move(operation)});
  auto result = client.submit(request, timeout);
  if (!result) {
    return ProposeError{
        Kind::kUndecided,
        fmt::format("not decided yet: {} (check `bftgate status`)", result.error().message)};
  }
  auto reply = bft::decode_reply(*result);
  if (!reply) return ProposeError{Kind::kFailed, reply.error().message};
  return std::move(reply.value());
}

Result<Proposal, ProposeError> propose_adapter(const ClusterConfig& config,
                                               const LinkSecurity& security,
                                               const crypto::SecretKey& operator_key,
                                               const std::filesystem::path& artifact,
                                               std::uint64_t version, bool use_store,
                                               milliseconds timeout) {
  using Kind = ProposeError::Kind;
  if (version > bft::kMaxAdapterVersion) {
    return ProposeError{Kind::kRefused,
                        fmt::format("version {} is above the highest allowed version {}", version,
                                    bft::kMaxAdapterVersion)};
  }
  auto digest = bftgate::sha256_file(artifact);
  if (!digest) return ProposeError{Kind::kFailed, digest.error().message};
  if (digest->size == 0)
    return ProposeError{Kind::kRefused,
                        fmt::format("{} is empty: an adapter has bytes", artifact.string())};
  if (digest->size > config.max_artifact_bytes) {
    return ProposeError{Kind::kRefused,
                        fmt::format("{} is {} bytes, above this cluster's limit of {} "
                                    "(artifact_store.max_artifact_bytes in the config)",
                                    artifact.string(), digest->size, config.max_artifact_bytes)};
  }
  Proposal proposal{0, digest->digest, digest->size,
                    ArtifactSource::file(std::filesystem::absolute(artifact)).to_string()};
  if (use_store) {
    StoreClient store(StoreLink::of(config, security));
    auto stored = store.put(artifact);
    if (!stored) {
      return ProposeError{Kind::kFailed,
                          fmt::format("upload to the artifact store {} failed: {}",
                                      config.artifact_store_endpoint, stored.error().message)};
    }
    proposal.source = ArtifactSource::store(*stored).to_string();
  }
  auto signer = operator_signer(operator_key);
  ClusterClient client(config, security);
  auto first_id = first_request_id(client);
  if (!first_id) return undecided_start(first_id.error());
  auto next_request_id = *first_id;
  auto deadline = Clock::now() + timeout;
  // Concurrent submits race for the next version; the loser of each round tries the next one.
  for (int attempt = 0; attempt < 1000 && Clock::now() < deadline; ++attempt) {
    auto chosen = version;
    if (chosen == 0) {
      auto next = next_version(client, config);
      if (!next) return next.error();
      chosen = *next;
    }
    auto op = bft::make_propose(operator_key, config.cluster_id, config.epoch, chosen,
                                proposal.digest, proposal.size, proposal.source);
    auto request = bft::make_message(signer, bft::Request{next_request_id++, std::move(op)});
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    auto result = client.submit(request, std::max(left, milliseconds(1)));
    if (!result) {
      auto reachable = client.status_all(milliseconds(1000)).answers.size();
      return ProposeError{
          Kind::kUndecided,
          fmt::format(
              "the proposal of version {} is not decided yet: {}; {} of {} validators answer "
              "queries and ordering needs 2f+1 = {} of them. It may still be decided: check "
              "`bftgate status`, or submit the same adapter again (the register names the "
              "existing entry instead of opening another)",
              chosen, result.error().message, reachable, config.n(), 2 * config.f + 1)};
    }
    auto reply = bft::decode_reply(*result);
    if (!reply) return ProposeError{Kind::kFailed, reply.error().message};
    if (reply->valid) {
      proposal.version = reply->entry_version;
      return proposal;
    }
    if (reply->entry_state.has_value()) {
      // The refusal names an entry: ours already (a retry, which the register de-duplicates), or
      // another proposal's that took this version between our status query and our request.
      if (holds_artifact(client, config, reply->entry_version, proposal.digest)) {
        proposal.version = reply->entry_version;
        return proposal;
      }
      if (version == 0) continue;
    }
    return ProposeError{Kind::kRefused,
                        fmt::format("the register refused the proposal: {}", reply->reason)};
  }
  return ProposeError{Kind::kUndecided,
                      "no free version found before the timeout (many concurrent proposals)"};
}

json Decision::to_json() const {
  auto j = runtime::to_json(entry);
  j["validator_reports"] = json::array();
  for (const auto& report : voters) {
    j["validator_reports"].push_back(
        {{"validator", report.validator},
         {"verdict", std::string(bft::to_string(report.verdict))},
         {"reason", report.reason ? json(*report.reason) : json(nullptr)}});
  }
  return j;
}

Result<Decision, ProposeError> wait_for_decision(
    const ClusterConfig& config, const LinkSecurity& security, std::uint64_t version,
    milliseconds timeout, const std::function<void(const std::string&)>& progress) {
  ClusterClient client(config, security);
  auto deadline = Clock::now() + timeout;
  std::string last;
  while (Clock::now() < deadline) {
    auto answers = client
                       .status_all(milliseconds(1000), {.before = version + 1, .limit = 1},
                                   ClusterClient::Wait::kAllButF)
                       .answers;
    std::map<std::pair<bft::EntryState, crypto::Digest>, std::size_t> decided;
    std::size_t pass = 0;
    std::size_t fail = 0;
    for (const auto& [id, status] : answers) {
      const auto* entry = status.entry(version);
      if (entry == nullptr) continue;
      pass = std::max(pass, entry->pass_votes());
      fail = std::max(fail, entry->fail_votes());
      // f+1 validators reporting the same decision of the same artifact include an honest one.
      if (entry->decided() &&
          ++decided[{entry->state, entry->entry_hash}] >= std::size_t{config.f} + 1) {
        return Decision{*entry, voter_reports(answers, *entry)};
      }
    }
    auto line =
        fmt::format("version {}: {} PASS, {} FAIL votes (quorum {}, {} validators answering)",
                    version, pass, fail, config.quorum(), answers.size());
    if (line != last && progress) progress(line);
    last = line;
    std::this_thread::sleep_for(milliseconds(200));
  }
  return ProposeError{
      ProposeError::Kind::kUndecided,
      fmt::format(
          "version {} was not decided within {} ms; it may still be decided (`bftgate status`)",
          version, timeout.count())};
}

}  // namespace bftgate::runtime
