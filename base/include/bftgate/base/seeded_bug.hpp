// Seeded bugs, for mutation testing of the checks (scripts/mutation.sh): a build configured with
// -DBFTGATE_SEEDED_BUG=NAME compiles in one deliberate, realistic bug at the place that
// seeded_bug(NAME) marks, so that `make mutation` can show which test or search catches it. A
// normal build has none: every seeded_bug() is false at compile time and its branch is dead code.
#pragma once

#include <array>
#include <stdexcept>
#include <string_view>

#include "bftgate/base/seeded_bug_config.hpp"

namespace bftgate {

// The catalogue, one name a line: CMakeLists.txt and scripts/mutation.sh read the names from here.
inline constexpr std::array<std::string_view, 12> kSeededBugs = {
    "quorum-off-by-one",           // the PBFT quorum is 2f, not 2f+1
    "duplicate-signer",            // the register counts a validator's second vote again
    "stale-view-prepare",          // prepares from an older view count towards prepared
    "persist-after-send",          // a sent message's log record waits for the next Ready
    "new-view-without-proofs",     // a new view's re-issued pre-prepares are not checked
    "checkpoint-without-quorum",   // a checkpoint proof needs one signature, not 2f+1
    "node-skips-digest-check",     // an artifact is used without checking its digest
    "node-accepts-lower-version",  // the release selector ignores the node's floor
    "vote-for-other-digest",       // a vote naming another artifact digest is counted
    "unverified-snapshot",         // state transfer installs a snapshot its proof does not name
    "epoch-below-quorum",          // the register certifies the next epoch with f+1 approvals
    "retired-epoch-certifies",     // a node takes a superseded epoch's release of a new version
};

inline constexpr std::string_view kSeededBug = BFTGATE_SEEDED_BUG_NAME;

// True in the build that compiles in bug `name`. A name outside the catalogue does not compile.
consteval bool seeded_bug(std::string_view name) {
  bool known = false;
  for (auto bug : kSeededBugs) known = known || bug == name;
  if (!known) throw std::logic_error("not a seeded bug");
  return name == kSeededBug;
}

}  // namespace bftgate
