// Exactly-once execution per client with several requests in flight. PBFT's rule (execute a
// request only when its id is above the client's last executed one) loses requests when one
// client identity sends several at once, as concurrent `submit`s under one operator key do: the
// higher id executes first and the lower one is then dropped without a reply. Instead, per
// client, the ids and results of its most recent kWindow executed requests are kept: an id in
// the window is a duplicate (its reply is resent), an id below a full window is too old to tell
// and is refused, and any other id is new. Part of the checkpointed state.
#pragma once

#include <cstdint>
#include <map>

#include "bftgate/base/bytes.hpp"
#include "bftgate/base/encoding.hpp"
#include "bftgate/base/result.hpp"
#include "bftgate/core/types.hpp"

namespace bftgate::bft {

class ClientTable {
 public:
  static constexpr std::size_t kWindow = 256;

  enum class Seen { kNew, kExecuted, kTooOld };
  Seen seen(PrincipalId client, std::uint64_t request_id) const;
  // The result of an executed request still in the window, or nullptr.
  const Bytes* result(PrincipalId client, std::uint64_t request_id) const;
  void record(PrincipalId client, std::uint64_t request_id, Bytes result);
  // The highest request id executed for `client` (0: none): where a client that keeps no counter
  // of its own starts again, whatever its clock says.
  std::uint64_t highest(PrincipalId client) const;

  // u32 clients | per client: u32 client | u32 count | per request: u64 id | bytes result
  void encode(crypto::Encoder& encoder) const;
  static Result<ClientTable> decode(
      crypto::Decoder& decoder);  // throws crypto::DecodeError on truncation

  bool operator==(const ClientTable&) const = default;

 private:
  std::map<PrincipalId, std::map<std::uint64_t, Bytes>> clients_;
};

}  // namespace bftgate::bft
