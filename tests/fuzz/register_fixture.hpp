// The register traffic of the fixed cluster (fuzz_support.hpp), shared by the register fuzz
// targets and the protocol seed generator: a script of signed operations (the operator's
// proposals, the validators' votes) that releases, rejects, supersedes and retries versions, and
// the register states it goes through. The seed generator commits exactly this script through
// four real replicas, so the committed seeds and the states the targets start from agree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bftgate/base/bytes.hpp"
#include "bftgate/register/register.hpp"

namespace bftgate::fuzz {

struct ScriptedOp {
  std::uint32_t client = 0;  // bft::kOperatorPrincipal or bft::kValidatorClientBase + validator
  Bytes operation;
  std::string label;  // what it does, for seed file names
};

// The operations, in commit order (deterministic: fixed keys, Ed25519 is deterministic).
const std::vector<ScriptedOp>& register_script();

// A register of fixed_config() after the first `count` scripted operations.
bft::AdapterRegister register_after(std::size_t count);

// The script without its last operation, the operator's retry of the proposal under
// validation (idempotent: answered valid, no new entry). A register that applied such a retry
// currently makes snapshots its own decoder refuses (register_snapshot.cpp's check_log counts
// every valid proposal as an entry), so the states the targets start from stop before it and
// the retry is left to the fuzzers as a seed, where it is reported as the bug it is.
std::size_t consistent_prefix();

// A reconfiguration, from the state after v2's rejection (register_after(kEpochScriptBase), no
// vote under way): the operator's Reconfigure rotating validator 3's key, then the approvals of
// validators 0, 1 and 2, which certify epoch 2.
inline constexpr std::size_t kEpochScriptBase = 8;
const std::vector<ScriptedOp>& epoch_script();
// register_after(kEpochScriptBase) then the first `count` operations of epoch_script().
bft::AdapterRegister epoch_register_after(std::size_t count);

// Script prefixes worth starting from: 0 (fresh), v1 one PASS short of release, v2 one FAIL
// short of rejection, v4 in beta after superseding v3, and consistent_prefix().
std::vector<std::size_t> interesting_prefixes();

}  // namespace bftgate::fuzz
