#include "bftgate/runtime/validator/request_ids.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <string>

#include "bftgate/io/file_io.hpp"

namespace bftgate::runtime {

Result<RequestIdReservation> RequestIdReservation::open(std::filesystem::path path,
                                                        std::uint64_t floor) {
  std::uint64_t next = 1;
  std::error_code ec;
  const bool exists = std::filesystem::exists(path, ec);
  // Not knowing whether it exists is not "it does not": ids could start again at 1.
  if (ec) return Error{fmt::format("cannot look at {}: {}", path.string(), ec.message())};
  if (exists) {
    auto text = read_small_file(path, 64);
    if (!text) return text.error();
    std::string_view digits(*text);
    while (!digits.empty() && (digits.back() == '\n' || digits.back() == ' '))
      digits.remove_suffix(1);
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), next);
    if (error != std::errc() || end != digits.data() + digits.size() || digits.empty() ||
        next == 0) {
      return Error{fmt::format("{}: not a request id reservation", path.string())};
    }
  }
  return RequestIdReservation(std::move(path), std::max<std::uint64_t>({next, floor, 1}));
}

Result<std::uint64_t> RequestIdReservation::next() {
  if (next_ >= reserved_until_) {
    if (next_ > UINT64_MAX - kBlock) return Error{"request ids are used up"};
    const auto until = next_ + kBlock;
    auto text = fmt::format("{}\n", until);
    if (auto s = write_file_atomic(path_, as_bytes(text), {.mode = 0644, .overwrite = true}); !s)
      return Error{fmt::format("cannot reserve request ids: {}", s.error().message)};
    reserved_until_ = until;
  }
  return next_++;
}

}  // namespace bftgate::runtime
