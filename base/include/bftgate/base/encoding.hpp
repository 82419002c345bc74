// Canonical binary encoding for everything bftgate signs or stores.
//
// Integers are fixed-width little-endian; variable-length fields carry a u32 length prefix;
// fixed-size fields (digests, keys, signatures) are written raw. One value has exactly one
// encoding, and the decoder refuses anything else (trailing bytes, non-0/1 booleans, lengths
// past the end), so a signature binds to a value, never to one of several spellings of it.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "bftgate/base/bytes.hpp"

namespace bftgate::crypto {

// Version of the encoding rules; part of every signed message, so a future change of the
// rules can never make an old signature verify over a differently-laid-out value.
inline constexpr std::uint8_t kEncodingVersion = 1;

// Domain-separation tag: which kind of statement a signature is over. The tag is part of the
// signed bytes, so a signature made for one domain never verifies in another.
enum class Domain : std::uint16_t {
  kReleaseApproval = 1,   // a validator approves (cluster, epoch, version, digest, previous hash)
  kRegisterVote = 2,      // a validator's PASS/FAIL vote on a candidate adapter
  kOperatorProposal = 3,  // the operator proposes a candidate adapter
  kProtocolMessage = 4,   // PBFT pre-prepare / prepare / commit / view change / new view
  kCheckpoint = 5,        // PBFT checkpoint
  kClientRequest = 6,     // a client request submitted to the replicated register
  kClientSession = 7,     // a client opens a MAC session: its crypto_kx key (session.hpp)
  kMemberCard = 8,        // a member's card: proof that its key's holder made it (card.hpp)
  kEpochApproval = 9,     // a validator of epoch e approves the set of epoch e+1 (epoch.hpp)
  kReconfiguration = 10,  // the operator proposes the validator set of the next epoch
  kReplicaReply = 11,     // a replica's reply to a client's request
  kGateApproval = 12,     // a validator's approval of (version, digest) for the threshold gate
};

std::string_view to_string(Domain domain);

// The exact bytes that are signed: "BFTG" | encoding version | u16 domain | body.
Bytes signing_message(Domain domain, ByteView body);

class Encoder {
 public:
  // Most encodings (messages, votes, statements) fit the first allocation; growing from empty
  // took several reallocations each.
  static constexpr std::size_t kInitialCapacity = 256;
  Encoder() { buffer_.reserve(kInitialCapacity); }
  Encoder& u8(std::uint8_t value);
  Encoder& u16(std::uint16_t value);
  Encoder& u32(std::uint32_t value);
  Encoder& u64(std::uint64_t value);
  Encoder& boolean(bool value) { return u8(value ? 1 : 0); }
  // Raw bytes with no length prefix: only for fields whose size the type fixes.
  Encoder& fixed(ByteView bytes);
  // Length-prefixed (u32) bytes.
  Encoder& bytes(ByteView bytes);
  Encoder& str(std::string_view text) { return bytes(as_bytes(text)); }

  const Bytes& data() const { return buffer_; }
  Bytes take() { return std::move(buffer_); }

 private:
  Bytes buffer_;
};

class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads what Encoder wrote; every method throws DecodeError with the field name on bad input.
class Decoder {
 public:
  explicit Decoder(ByteView input) : input_(input) {}

  std::uint8_t u8(std::string_view field);
  std::uint16_t u16(std::string_view field);
  std::uint32_t u32(std::string_view field);
  std::uint64_t u64(std::string_view field);
  bool boolean(std::string_view field);
  ByteView fixed(std::size_t size, std::string_view field);
  template <std::size_t N>
  std::array<std::uint8_t, N> fixed_array(std::string_view field) {
    std::array<std::uint8_t, N> out{};
    auto view = fixed(N, field);
    std::copy(view.begin(), view.end(), out.begin());
    return out;
  }
  Bytes bytes(std::size_t max_size, std::string_view field);
  std::string str(std::size_t max_size, std::string_view field);

  std::size_t remaining() const { return input_.size() - offset_; }
  std::size_t offset() const { return offset_; }
  // Throws unless every input byte has been consumed.
  void expect_end(std::string_view what) const;

 private:
  ByteView take(std::size_t size, std::string_view field);

  ByteView input_;
  std::size_t offset_ = 0;
};

}  // namespace bftgate::crypto
