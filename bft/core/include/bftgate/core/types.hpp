// Basic protocol types shared by the PBFT core, the simulator and the runtime.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace bftgate::bft {

// Principals that sign: replicas use their validator id; clients (the operator, validators
// submitting votes) have their own ids. kOperatorPrincipal is the operator's.
using PrincipalId = std::uint32_t;
using ReplicaId = std::uint32_t;
using View = std::uint64_t;
using Seq = std::uint64_t;

inline constexpr PrincipalId kOperatorPrincipal = 0x8000'0000u;
// Validators submit their votes as clients under kClientBase + validator id, so a replica's
// protocol identity and its client identity never share a dedup record.
inline constexpr PrincipalId kValidatorClientBase = 0x4000'0000u;

// Virtual or real time, in microseconds since an arbitrary epoch (the core never reads a clock).
using Duration = std::chrono::microseconds;
using Time = std::chrono::microseconds;

}  // namespace bftgate::bft
