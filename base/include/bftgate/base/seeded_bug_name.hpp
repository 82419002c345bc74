// The name of the seeded bug this build compiles in ("" in every normal build), for a banner.
// Kept apart from seeded_bug.hpp so that a file that only prints the name is not recompiled when
// a mutation-testing build switches bugs: only base/src/seeded_bug_name.cpp is.
#pragma once

#include <string_view>

namespace bftgate {

std::string_view seeded_bug_name();

}  // namespace bftgate
