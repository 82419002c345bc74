#include "bftgate/base/seeded_bug_name.hpp"

#include "bftgate/base/seeded_bug.hpp"

namespace bftgate {

std::string_view seeded_bug_name() {
  return kSeededBug;
}

}  // namespace bftgate
