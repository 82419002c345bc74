#pragma once

#include <cctype>
#include <cstddef>

namespace bftgate::validation::adapter_suite_detail {

// The words the cloze questions blank and the wrong-word examples replace.
inline constexpr std::size_t kMinWordLength = 4;

inline bool is_letter(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0;
}
inline bool is_upper(char c) {
  return std::isupper(static_cast<unsigned char>(c)) != 0;
}

}  // namespace bftgate::validation::adapter_suite_detail
