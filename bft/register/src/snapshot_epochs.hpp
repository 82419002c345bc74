// The epoch parts of a register snapshot: the chain and the handover (register_snapshot.cpp's
// format comment), their encoding, decoding and the checks that they are what the register
// could have made.
#pragma once

#include "bftgate/base/encoding.hpp"
#include "bftgate/config/cluster_config.hpp"
#include "bftgate/register/register_snapshot.hpp"

namespace bftgate::bft::detail {

void encode_members(crypto::Encoder& encoder, const EpochMembers& members);
EpochMembers decode_members(crypto::Decoder& decoder);  // throws DecodeError

void encode_epochs(crypto::Encoder& encoder, const RegisterContents& contents);
void decode_epochs(crypto::Decoder& decoder, RegisterContents& contents);  // throws DecodeError
// Throws DecodeError naming the first link or handover field the register could not have made.
void check_epochs(const ClusterConfig& config, const RegisterContents& contents);

}  // namespace bftgate::bft::detail
