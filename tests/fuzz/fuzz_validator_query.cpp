// libFuzzer target: what a validator does with one frame from its ROUTER socket before any
// state is involved (runtime/validator_daemon.cpp, on_frames and answer_query): the envelope
// (runtime::open_envelope); for kProtocol the message decoder and its refusal text; for kQuery
// parse_json under the validator's query limits (64 KiB, depth 4, 256 values) and the parts of
// the answer that come from the query (the query name, printed; the echoed query_id; the page a
// status query asks for).
//
// Properties checked on every input:
//   - nothing throws or crashes;
//   - open_envelope accepts exactly the frames whose first byte is 1, 2 or 3, and the payload is
//     the rest of the frame;
//   - every refusal text (envelope, message, query) is valid UTF-8 and dumps as JSON with the
//     strict handler, as the validator logs it and puts it in its reply;
//   - a parsed query is within the limits (depth and value count computed from the result) and
//     dumps without throwing; the reply built from it dumps with the strict handler.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/core/messages.hpp"
#include "bftgate/runtime/net/envelope.hpp"
#include "bftgate/runtime/net/register_json.hpp"
#include "fuzz_support.hpp"
#include "json_checks.hpp"

using bftgate::ByteView;
using bftgate::fuzz::fail;
namespace runtime = bftgate::runtime;

namespace {

// validator_daemon.cpp: kQueryLimits.
constexpr bftgate::JsonLimits kQueryLimits{
    .max_bytes = 64 << 10, .max_depth = 4, .max_values = 256};

void check_reply(const nlohmann::json& reply, ByteView input) {
  try {
    (void)reply.dump();
  } catch (const std::exception& e) {
    fail(std::string("a query reply does not dump with the strict handler (") + e.what() + ")",
         input);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  auto envelope = runtime::open_envelope(input);
  bool known = size > 0 && data[0] >= 1 && data[0] <= 3;
  if (envelope.has_value() != known)
    fail("open_envelope accepted or refused the wrong frames", input);
  if (!envelope) return 0;
  if (envelope->payload.data() != data + 1 || envelope->payload.size() != size - 1 ||
      static_cast<std::uint8_t>(envelope->kind) != data[0]) {
    fail("open_envelope's kind or payload is not the frame's", input);
  }
  auto rebuilt = runtime::make_envelope(envelope->kind, envelope->payload);
  if (!std::equal(rebuilt.begin(), rebuilt.end(), input.begin(), input.end())) {
    fail("make_envelope(open_envelope(frame)) != frame", input);
  }

  switch (envelope->kind) {
    case runtime::EnvelopeKind::kProtocol: {
      auto message = bftgate::bft::decode_message(envelope->payload);
      if (!message) {
        bftgate::fuzz::check_safe_text("the refusal of a protocol message",
                                       bftgate::printable(message.error().message), input);
      } else {
        bftgate::fuzz::check_safe_text("describe()", bftgate::bft::describe(**message), input);
      }
      break;
    }
    case runtime::EnvelopeKind::kQuery: {
      const std::string_view text(reinterpret_cast<const char*>(envelope->payload.data()),
                                  envelope->payload.size());
      auto query = bftgate::parse_json(text, kQueryLimits);
      bool parsed = bftgate::fuzz::check_parse(query, text, kQueryLimits, "the query", input);
      nlohmann::json reply;
      if (!parsed || !query->is_object()) {
        auto why = parsed ? std::string("not a JSON object") : query.error().message;
        reply = {{"error", "bad query: " + why}};
      } else {
        const auto& kind = query->contains("query") ? (*query)["query"] : nlohmann::json();
        std::string what = kind.is_string() ? kind.get<std::string>() : "";
        if (what == "status") {
          // The page a status query asks for (runtime/register_json.hpp): bounded, and what it
          // parses it writes back the same way.
          auto page = runtime::StatusPage::from_query(*query);
          if (!page) {
            bftgate::fuzz::check_safe_text("a status page refusal", page.error().message, input);
          } else {
            if (page->limit == 0 || page->limit > runtime::StatusPage::kMaxLimit)
              fail("a status page outside its limits was accepted", input);
            auto again = runtime::StatusPage::from_query(page->to_query());
            if (!again || again->limit != page->limit || again->before != page->before)
              fail("a status page changes when written and read again", input);
          }
        }
        if (what != "status" && what != "latest-release" && what != "client") {
          auto shown = bftgate::printable(what, 64);
          bftgate::fuzz::check_safe_text("the printed query name", shown, input);
          reply = {{"error", "unknown query '" + shown + "'"}};
        } else {
          reply = {{"validator", 0}, {"answer", what}};
        }
        if (query->contains("query_id") && (*query)["query_id"].is_number_unsigned()) {
          reply["query_id"] = (*query)["query_id"];
        }
      }
      check_reply(reply, input);
      break;
    }
    case runtime::EnvelopeKind::kQueryReply:
      break;  // refused by a validator: "a query reply sent to a validator"
  }
  return 0;
}
