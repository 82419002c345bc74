// What travels between bftgate processes over ZeroMQ: one frame whose first byte says what it is.
//   kProtocol: a signed PBFT message (bft::SignedMessage::wire())
//   kQuery / kQueryReply: JSON questions to a validator (register state, status) and answers
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "bftgate/base/bytes.hpp"

namespace bftgate::runtime {

enum class EnvelopeKind : std::uint8_t { kProtocol = 1, kQuery = 2, kQueryReply = 3 };

inline Bytes make_envelope(EnvelopeKind kind, ByteView payload) {
  Bytes out;
  out.reserve(payload.size() + 1);
  out.push_back(static_cast<std::uint8_t>(kind));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

struct Envelope {
  EnvelopeKind kind;
  ByteView payload;
};

inline std::optional<Envelope> open_envelope(ByteView frame) {
  if (frame.empty() || frame[0] < 1 || frame[0] > 3) return std::nullopt;
  return Envelope{static_cast<EnvelopeKind>(frame[0]), frame.subspan(1)};
}

}  // namespace bftgate::runtime
