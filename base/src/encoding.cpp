#include "bftgate/base/encoding.hpp"

#include <fmt/format.h>

namespace bftgate::crypto {

namespace {
constexpr std::array<std::uint8_t, 4> kSigningMagic = {'B', 'F', 'T', 'G'};

template <class T>
void put_le(Bytes& out, T value) {
  // One resize, then plain stores: per-byte push_back was the encoder's main cost.
  auto at = out.size();
  out.resize(at + sizeof(T));
  auto* p = out.data() + at;
  for (std::size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<std::uint8_t>(value >> (8 * i));
}

template <class T>
T get_le(ByteView bytes) {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value = static_cast<T>(value | static_cast<T>(static_cast<T>(bytes[i]) << (8 * i)));
  }
  return value;
}
}  // namespace

std::string_view to_string(Domain domain) {
  switch (domain) {
    case Domain::kReleaseApproval:
      return "release-approval";
    case Domain::kRegisterVote:
      return "register-vote";
    case Domain::kOperatorProposal:
      return "operator-proposal";
    case Domain::kProtocolMessage:
      return "protocol-message";
    case Domain::kCheckpoint:
      return "checkpoint";
    case Domain::kClientRequest:
      return "client-request";
    case Domain::kClientSession:
      return "client-session";
    case Domain::kMemberCard:
      return "member-card";
    case Domain::kEpochApproval:
      return "epoch-approval";
    case Domain::kReconfiguration:
      return "reconfiguration";
    case Domain::kReplicaReply:
      return "replica-reply";
    case Domain::kGateApproval:
      return "gate-approval";
  }
  return "unknown-domain";
}

Bytes signing_message(Domain domain, ByteView body) {
  Bytes out;
  out.reserve(kSigningMagic.size() + 3 + body.size());
  out.insert(out.end(), kSigningMagic.begin(), kSigningMagic.end());
  out.push_back(kEncodingVersion);
  put_le(out, static_cast<std::uint16_t>(domain));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Encoder& Encoder::u8(std::uint8_t value) {
  buffer_.push_back(value);
  return *this;
}
Encoder& Encoder::u16(std::uint16_t value) {
  put_le(buffer_, value);
  return *this;
}
Encoder& Encoder::u32(std::uint32_t value) {
  put_le(buffer_, value);
  return *this;
}
Encoder& Encoder::u64(std::uint64_t value) {
  put_le(buffer_, value);
  return *this;
}
Encoder& Encoder::fixed(ByteView bytes) {
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  return *this;
}
Encoder& Encoder::bytes(ByteView bytes) {
  if (bytes.size() > UINT32_MAX)
    throw std::length_error("field longer than 4 GiB cannot be encoded");
  u32(static_cast<std::uint32_t>(bytes.size()));
  return fixed(bytes);
}

ByteView Decoder::take(std::size_t size, std::string_view field) {
  if (size > remaining()) {
    throw DecodeError(
        fmt::format("truncated input: field '{}' needs {} bytes at offset {}, {} left", field, size,
                    offset_, remaining()));
  }
  auto view = input_.subspan(offset_, size);
  offset_ += size;
  return view;
}

std::uint8_t Decoder::u8(std::string_view field) {
  return take(1, field)[0];
}
std::uint16_t Decoder::u16(std::string_view field) {
  return get_le<std::uint16_t>(take(2, field));
}
std::uint32_t Decoder::u32(std::string_view field) {
  return get_le<std::uint32_t>(take(4, field));
}
std::uint64_t Decoder::u64(std::string_view field) {
  return get_le<std::uint64_t>(take(8, field));
}

bool Decoder::boolean(std::string_view field) {
  auto value = u8(field);
  if (value > 1)
    throw DecodeError(fmt::format("field '{}': boolean must be 0 or 1, got {}", field, value));
  return value == 1;
}

ByteView Decoder::fixed(std::size_t size, std::string_view field) {
  return take(size, field);
}

Bytes Decoder::bytes(std::size_t max_size, std::string_view field) {
  std::size_t size = u32(field);
  if (size > max_size) {
    throw DecodeError(
        fmt::format("field '{}': length {} exceeds the limit of {}", field, size, max_size));
  }
  auto view = take(size, field);
  return Bytes(view.begin(), view.end());
}

std::string Decoder::str(std::size_t max_size, std::string_view field) {
  auto raw = bytes(max_size, field);
  return std::string(raw.begin(), raw.end());
}

void Decoder::expect_end(std::string_view what) const {
  if (remaining() != 0) {
    throw DecodeError(fmt::format("{}: {} unexpected trailing bytes", what, remaining()));
  }
}

}  // namespace bftgate::crypto
