#include "bftgate/runtime/client/cluster_client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/cluster/ed25519_signer.hpp"
#include "bftgate/runtime/net/envelope.hpp"

namespace bftgate::runtime {

using Clock = std::chrono::steady_clock;

namespace {
// A status answer holds the whole register (entries with their votes and certificates) and the
// validator's kept metrics: generous, but bounded.
constexpr JsonLimits kAnswerLimits{.max_bytes = 64 << 20, .max_depth = 16, .max_values = 1 << 22};
}  // namespace

ClusterClient::ClusterClient(const ClusterConfig& config, const LinkSecurity& security)
    : config_(config), verifier_(std::make_shared<bft::Ed25519Verifier>(config)) {
  for (const auto& v : config.validators) {
    auto& socket =
        sockets_.emplace(v.id, zmq::socket_t(context_, zmq::socket_type::dealer)).first->second;
    socket.set(zmq::sockopt::linger, 0);
    // Validators' answers are input like any other: none larger than the reader takes, and
    // few queued from one validator (any f of which may flood).
    socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(kAnswerLimits.max_bytes) + 1);
    socket.set(zmq::sockopt::rcvhwm, 64);
    // A validator whose key has no X25519 form cannot be reached; it simply never answers.
    if (!security.secure_client(socket, v.public_key)) continue;
    socket.connect(v.endpoint);
  }
}

std::vector<bft::ReplicaId> ClusterClient::validators() const {
  std::vector<bft::ReplicaId> ids;
  for (const auto& [id, socket] : sockets_) ids.push_back(id);
  return ids;
}

std::map<bft::ReplicaId, nlohmann::json> ClusterClient::query_all(const nlohmann::json& query,
                                                                  std::chrono::milliseconds timeout,
                                                                  Wait wait) {
  return this->query(validators(), query, timeout, wait);
}

ClusterClient::Statuses ClusterClient::status_all(std::chrono::milliseconds timeout,
                                                  const StatusPage& page, Wait wait) {
  Statuses statuses;
  for (auto& [id, answer] : query_all(page.to_query(), timeout, wait)) {
    auto status = status_from_json(answer);
    if (!status) {
      statuses.refused.emplace(id, status.error().message);
    } else if (status->validator != id) {
      statuses.refused.emplace(id, fmt::format("answered as validator {}", status->validator));
    } else {
      statuses.answers.emplace(id, std::move(status.value()));
    }
  }
  return statuses;
}

std::optional<StatusAnswer> ClusterClient::full_status(bft::ReplicaId id,
                                                       std::chrono::milliseconds timeout) {
  std::optional<StatusAnswer> full;
  StatusPage page{.before = std::nullopt, .limit = StatusPage::kMaxLimit};
  // Each page must hold at most `limit` entries, in ascending order, below the oldest of the
  // page before, with fewer entries left before it each time: a validator that lies about its
  // pages is dropped, never followed for ever.
  std::uint64_t omitted = 0;
  constexpr int kMaxPages = 1 << 16;  // 4 M entries: far more than any register holds
  for (int pages = 0; pages < kMaxPages; ++pages) {
    auto answers = query({id}, page.to_query(), timeout);
    auto it = answers.find(id);
    if (it == answers.end()) return std::nullopt;
    auto status = status_from_json(it->second);
    if (!status || status->validator != id) return std::nullopt;
    const auto& entries = status->entries;
    if (entries.size() > page.limit) return std::nullopt;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if ((i > 0 && entries[i].version <= entries[i - 1].version) ||
          (page.before && entries[i].version >= *page.before))
        return std::nullopt;
    }
    if (full && status->entries_omitted + entries.size() != omitted) return std::nullopt;
    omitted = status->entries_omitted;
    const bool last = entries.empty() || omitted == 0;
    if (!full) {
      full = std::move(status.value());
    } else {
      full->entries.insert(full->entries.begin(), entries.begin(), entries.end());
      full->validations.insert(status->validations.begin(), status->validations.end());
    }
    if (last) {
      full->entries_omitted = 0;
      return full;
    }
    page.before = full->entries.front().version;
  }
  return std::nullopt;
}

Result<std::uint64_t> ClusterClient::highest_request_id(bft::PrincipalId client,
                                                        std::chrono::milliseconds timeout) {
  std::vector<std::uint64_t> reported;
  for (auto& [id, answer] :
       query_all({{"query", "client"}, {"client", client}}, timeout, Wait::kAllButF)) {
    auto decoded = client_answer_from_json(answer);
    if (decoded && decoded->validator == id && decoded->client == client)
      reported.push_back(decoded->highest_request_id);
  }
  const std::size_t needed = config_.f + 1;
  if (reported.size() < needed) {
    return Error{
        fmt::format("{} of {} validators told their last request id of client {} (f+1 = "
                    "{} needed)",
                    reported.size(), config_.n(), client, needed)};
  }
  std::sort(reported.begin(), reported.end(), std::greater<>());
  return reported[needed - 1];
}

std::map<bft::ReplicaId, nlohmann::json> ClusterClient::query(
    const std::vector<bft::ReplicaId>& validators, const nlohmann::json& query,
    std::chrono::milliseconds timeout, Wait wait) {
  std::set<bft::ReplicaId> asked;
  for (auto id : validators) {
    if (sockets_.contains(id)) asked.insert(id);
  }
  // Each query carries a fresh id that validators echo: a late answer to an earlier query (one
  // that timed out, or was queued while a validator was starting) is drained, never taken.
  auto tagged = query;
  auto query_id = ++last_query_id_;
  tagged["query_id"] = query_id;
  auto text = tagged.dump();
  auto frame = make_envelope(EnvelopeKind::kQuery, as_bytes(text));
  for (auto id : asked) (void)sockets_.at(id).send(zmq::buffer(frame), zmq::send_flags::dontwait);
  std::map<bft::ReplicaId, nlohmann::json> answers;
  const auto started = Clock::now();
  auto deadline = started + timeout;
  const std::size_t all_but_f = asked.size() - std::min<std::size_t>(config_.f, asked.size());
  bool shortened = wait == Wait::kEveryone;
  while (answers.size() < asked.size() && Clock::now() < deadline) {
    if (!shortened && answers.size() >= all_but_f) {
      shortened = true;
      const auto now = Clock::now();
      deadline = std::min(
          deadline, now + std::max<Clock::duration>(now - started, std::chrono::milliseconds(20)));
    }
    std::vector<zmq::pollitem_t> items;
    std::vector<bft::ReplicaId> ids;
    for (auto id : asked) {
      auto& socket = sockets_.at(id);
      if (answers.contains(id)) continue;
      items.push_back({socket.handle(), 0, ZMQ_POLLIN, 0});
      ids.push_back(id);
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    zmq::poll(items, std::max(left, std::chrono::milliseconds(1)));
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      zmq::message_t message;
      while (!answers.contains(ids[i]) &&
             sockets_.at(ids[i]).recv(message, zmq::recv_flags::dontwait)) {
        auto envelope = open_envelope(
            ByteView(static_cast<const std::uint8_t*>(message.data()), message.size()));
        if (!envelope || envelope->kind != EnvelopeKind::kQueryReply) continue;
        auto answer =
            parse_json(std::string_view(reinterpret_cast<const char*>(envelope->payload.data()),
                                        envelope->payload.size()),
                       kAnswerLimits);
        if (answer && answer->is_object() && answer->contains("query_id") &&
            (*answer)["query_id"] == query_id) {
          answers[ids[i]] = std::move(answer.value());
        }
      }
    }
  }
  return answers;
}

Result<Bytes> ClusterClient::submit(const bft::MessagePtr& request,
                                    std::chrono::milliseconds timeout,
                                    std::chrono::milliseconds retry) {
  const auto* body = request->as<bft::Request>();
  auto frame = make_envelope(EnvelopeKind::kProtocol, request->wire());
  auto deadline = Clock::now() + timeout;
  auto next_send = Clock::now();
  std::map<bft::ReplicaId, Bytes> results;  // one result per validator, first one counts
  while (Clock::now() < deadline) {
    if (Clock::now() >= next_send) {
      for (auto& [id, socket] : sockets_)
        (void)socket.send(zmq::buffer(frame), zmq::send_flags::dontwait);
      next_send = Clock::now() + retry;
    }
    std::vector<zmq::pollitem_t> items;
    std::vector<bft::ReplicaId> ids;
    for (auto& [id, socket] : sockets_) {
      items.push_back({socket.handle(), 0, ZMQ_POLLIN, 0});
      ids.push_back(id);
    }
    zmq::poll(items, std::chrono::milliseconds(50));
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      zmq::message_t message;
      while (sockets_.at(ids[i]).recv(message, zmq::recv_flags::dontwait)) {
        auto envelope = open_envelope(
            ByteView(static_cast<const std::uint8_t*>(message.data()), message.size()));
        if (!envelope || envelope->kind != EnvelopeKind::kProtocol) continue;
        auto reply = bft::decode_message(envelope->payload);
        if (!reply || reply.value()->sender != ids[i] ||
            !bft::verify_signature(*verifier_, **reply))
          continue;
        const auto* r = reply.value()->as<bft::Reply>();
        if (r == nullptr || r->client != request->sender || r->request_id != body->request_id)
          continue;
        results.emplace(ids[i], r->result);
      }
    }
    std::map<Bytes, std::size_t> counts;
    for (const auto& [id, result] : results) {
      if (++counts[result] >= std::size_t{config_.f} + 1) return result;
    }
  }
  return Error{fmt::format(
      "no f+1 = {} matching replies within {} ms ({} of {} validators replied to this request)",
      config_.f + 1, timeout.count(), results.size(), config_.n())};
}

}  // namespace bftgate::runtime
