#include "bftgate/core/client_table.hpp"

#include <fmt/format.h>

namespace bftgate::bft {

namespace {
constexpr std::size_t kMaxResult = 1 << 20;
constexpr std::size_t kMaxClients = 1 << 20;
}  // namespace

ClientTable::Seen ClientTable::seen(PrincipalId client, std::uint64_t request_id) const {
  auto it = clients_.find(client);
  if (it == clients_.end()) return Seen::kNew;
  const auto& executed = it->second;
  if (executed.contains(request_id)) return Seen::kExecuted;
  if (executed.size() >= kWindow && request_id < executed.begin()->first) return Seen::kTooOld;
  return Seen::kNew;
}

const Bytes* ClientTable::result(PrincipalId client, std::uint64_t request_id) const {
  auto it = clients_.find(client);
  if (it == clients_.end()) return nullptr;
  auto found = it->second.find(request_id);
  return found == it->second.end() ? nullptr : &found->second;
}

void ClientTable::record(PrincipalId client, std::uint64_t request_id, Bytes result) {
  auto& executed = clients_[client];
  executed[request_id] = std::move(result);
  while (executed.size() > kWindow) executed.erase(executed.begin());
}

std::uint64_t ClientTable::highest(PrincipalId client) const {
  auto it = clients_.find(client);
  return it == clients_.end() || it->second.empty() ? 0 : it->second.rbegin()->first;
}

void ClientTable::encode(crypto::Encoder& encoder) const {
  encoder.u32(static_cast<std::uint32_t>(clients_.size()));
  for (const auto& [client, executed] : clients_) {
    encoder.u32(client).u32(static_cast<std::uint32_t>(executed.size()));
    for (const auto& [id, result] : executed) encoder.u64(id).bytes(result);
  }
}

Result<ClientTable> ClientTable::decode(crypto::Decoder& decoder) {
  ClientTable table;
  auto count = decoder.u32("clients");
  if (count > kMaxClients) return Error{"too many clients"};
  for (std::uint32_t i = 0; i < count; ++i) {
    auto client = decoder.u32("client");
    auto requests = decoder.u32("requests");
    if (requests == 0 || requests > kWindow)
      return Error{fmt::format("client {}: {} requests kept", client, requests)};
    if (table.clients_.contains(client))
      return Error{fmt::format("client {} listed twice", client)};
    auto& executed = table.clients_[client];
    for (std::uint32_t k = 0; k < requests; ++k) {
      auto id = decoder.u64("request_id");
      if (!executed.empty() && id <= executed.rbegin()->first)
        return Error{"request ids out of order"};
      executed[id] = decoder.bytes(kMaxResult, "result");
    }
  }
  return table;
}

}  // namespace bftgate::bft
