#include "bftgate/base/strict_json.hpp"

#include <fmt/format.h>

#include <string>
#include <unordered_set>
#include <vector>

namespace bftgate {

namespace {

// Builds the value from SAX events, checking the limits as it goes, so that a document over a
// limit is refused before it costs more than the limit.
template <class Json>
class BoundedBuilder final : public nlohmann::json_sax<Json> {
 public:
  using number_integer_t = typename Json::number_integer_t;
  using number_unsigned_t = typename Json::number_unsigned_t;
  using number_float_t = typename Json::number_float_t;
  using string_t = typename Json::string_t;
  using binary_t = typename Json::binary_t;

  explicit BoundedBuilder(const JsonLimits& limits) : limits_(limits) {}

  bool null() override { return add(Json(nullptr)); }
  bool boolean(bool value) override { return add(Json(value)); }
  bool number_integer(number_integer_t value) override { return add(Json(value)); }
  bool number_unsigned(number_unsigned_t value) override { return add(Json(value)); }
  bool number_float(number_float_t value, const string_t& /*text*/) override {
    return add(Json(value));
  }
  bool string(string_t& value) override { return add(Json(std::move(value))); }
  bool binary(binary_t& /*value*/) override { return refuse("binary values are not JSON"); }

  bool start_object(std::size_t /*elements*/) override { return open(Json::object()); }
  bool key(string_t& name) override {
    if (!count()) return false;
    if (!keys_.back().insert(name).second)
      return refuse(fmt::format("duplicate key '{}'", printable(name)));
    key_ = std::move(name);
    return true;
  }
  bool end_object() override {
    keys_.pop_back();
    open_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*elements*/) override { return open(Json::array()); }
  bool end_array() override {
    open_.pop_back();
    return true;
  }

  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& e) override {
    if (error_.empty())
      error_ = fmt::format("invalid JSON near byte {}: {}", position, printable(e.what()));
    return false;
  }

  Json& root() { return root_; }
  const std::string& error() const { return error_; }

 private:
  bool refuse(std::string reason) {
    if (error_.empty()) error_ = std::move(reason);
    return false;
  }

  bool count() {
    if (++values_ > limits_.max_values) {
      return refuse(fmt::format("more than {} JSON values", limits_.max_values));
    }
    return true;
  }

  // Places a value in the open container (or as the root); returns where it went.
  Json* place(Json value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    Json& parent = *open_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    auto& slot = parent[key_];
    slot = std::move(value);
    return &slot;
  }

  bool add(Json value) {
    if (!count()) return false;
    place(std::move(value));
    return true;
  }

  bool open(Json container) {
    if (!count()) return false;
    if (open_.size() >= limits_.max_depth) {
      return refuse(fmt::format("JSON nested deeper than {} levels", limits_.max_depth));
    }
    bool object = container.is_object();
    open_.push_back(place(std::move(container)));
    if (object) keys_.emplace_back();
    return true;
  }

  const JsonLimits& limits_;
  Json root_;
  std::vector<Json*> open_;
  std::vector<std::unordered_set<std::string>> keys_;
  std::string key_;
  std::size_t values_ = 0;
  std::string error_;
};

template <class Json>
Result<Json> parse_bounded(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return Error{fmt::format("JSON text of {} bytes is over the limit of {}", text.size(),
                             limits.max_bytes)};
  }
  BoundedBuilder<Json> builder(limits);
  bool parsed = false;
  try {
    parsed = Json::sax_parse(text.begin(), text.end(), &builder);
  } catch (const std::exception& e) {
    return Error{fmt::format("invalid JSON: {}", printable(e.what()))};
  }
  if (!parsed)
    return Error{builder.error().empty() ? std::string("invalid JSON") : builder.error()};
  return std::move(builder.root());
}

// Length of the valid UTF-8 sequence at s[i] (RFC 3629: no overlong forms, no surrogates, at
// most U+10FFFF), or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(i);
  std::size_t length = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

Result<nlohmann::json> parse_json(std::string_view text, const JsonLimits& limits) {
  return parse_bounded<nlohmann::json>(text, limits);
}

Result<nlohmann::ordered_json> parse_ordered_json(std::string_view text, const JsonLimits& limits) {
  return parse_bounded<nlohmann::ordered_json>(text, limits);
}

std::string printable(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 8);
  for (std::size_t i = 0; i < text.size();) {
    if (out.size() >= max_bytes) {
      out += "...";
      break;
    }
    auto length = utf8_sequence(text, i);
    auto b = static_cast<unsigned char>(text[i]);
    if (length == 0 || (length == 1 && (b < 0x20 || b == 0x7F || b == '\\'))) {
      out += b == '\\' ? std::string("\\\\") : fmt::format("\\x{:02x}", b);
      ++i;
      continue;
    }
    out.append(text.substr(i, length));
    i += length;
  }
  return out;
}

}  // namespace bftgate
