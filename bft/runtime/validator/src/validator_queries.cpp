#include "validator_queries.hpp"

#include <fmt/format.h>

#include <limits>
#include <string>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/runtime/client/epoch_store.hpp"
#include "bftgate/runtime/net/register_json.hpp"

namespace bftgate::runtime {

namespace {

using json = nlohmann::json;

// Queries are small flat objects; anything bigger or deeper is refused before it costs memory.
constexpr JsonLimits kQueryLimits{.max_bytes = 64 << 10, .max_depth = 4, .max_values = 256};

json status_answer(const json& query, const ValidatorView& view) {
  auto page = StatusPage::from_query(query);
  if (!page) {
    view.refusals.refuse("query", page.error().message);
    return {{"error", fmt::format("bad status query: {}", page.error().message)}};
  }
  const auto& replica = view.replica;
  StatusAnswer status;
  status.validator = view.id;
  status.view = replica.view();
  status.view_active = replica.view_active();
  status.voting = replica.voting();
  status.wal_bytes = view.log.size_bytes();
  status.wal_syncs = view.log.syncs();
  status.wal_compactions = view.log.compactions();
  status.last_executed = replica.last_executed();
  status.stable_seq = replica.stable_seq();
  fill_register(status, view.app, *page);
  // The kept metrics of the versions in this page only: the answer stays bounded.
  const auto& validations = view.voting.validations();
  for (const auto& entry : status.entries) {
    if (auto kept = validations.find(entry.version); kept != validations.end())
      status.validations.insert(*kept);
  }
  status.judging = view.voting.judging();
  status.removed_in_epoch = view.removed_in_epoch;
  status.refused_inputs = view.refusals.to_json();
  return to_json(status);
}

json client_answer(const json& query, const ValidatorView& view) {
  const auto& client = query.contains("client") ? query["client"] : json();
  if (!client.is_number_unsigned() ||
      client.get<std::uint64_t>() > std::numeric_limits<bft::PrincipalId>::max()) {
    view.refusals.refuse("query", "a client query without a client id");
    return {{"error", "a client query needs \"client\": an unsigned 32-bit id"}};
  }
  auto id = static_cast<bft::PrincipalId>(client.get<std::uint64_t>());
  return to_json(ClientAnswer{view.id, id, view.replica.client_table().highest(id)});
}

// The kept handoff that ended epoch "epoch" (epoch_store.hpp), hex: what a validator that missed
// the switch starts the next epoch from, once it verified it from genesis.
json handoff_answer(const json& query, const ValidatorView& view) {
  const auto& epoch = query.contains("epoch") ? query["epoch"] : json();
  if (!epoch.is_number_unsigned()) {
    view.refusals.refuse("query", "a handoff query without an epoch");
    return {{"error", "a handoff query needs \"epoch\": an unsigned integer"}};
  }
  auto handoff = load_handoff(view.data_dir, epoch.get<std::uint64_t>());
  if (!handoff) return {{"error", handoff.error().message}};
  if (!*handoff) return {{"validator", view.id}, {"handoff", nullptr}};
  return {{"validator", view.id}, {"handoff", to_hex(bft::encode_handoff(**handoff))}};
}

json answer(const json& query, const ValidatorView& view) {
  json reply;
  const auto& kind = query.contains("query") ? query["query"] : json();
  std::string what = kind.is_string() ? kind.get<std::string>() : "";
  if (what == "status") {
    reply = status_answer(query, view);
  } else if (what == "client") {
    reply = client_answer(query, view);
  } else if (what == "handoff") {
    reply = handoff_answer(query, view);
  } else if (what == "latest-release") {
    reply = release_answer_json(
        view.id, view.strategy ? view.strategy->serve_poll(view.app) : view.app.latest_release());
  } else {
    auto why = fmt::format("unknown query '{}'", printable(what, 64));
    view.refusals.refuse("query", why);
    reply = {{"error", why}};
  }
  // Echoed so a client can tell this answer from a late one (ClusterClient); only a number.
  if (query.contains("query_id") && query["query_id"].is_number_unsigned())
    reply["query_id"] = query["query_id"];
  return reply;
}

}  // namespace

json answer_query(ByteView payload, const ValidatorView& view) {
  auto query =
      parse_json(std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()),
                 kQueryLimits);
  if (!query || !query->is_object()) {
    auto why = query ? std::string("not a JSON object") : query.error().message;
    view.refusals.refuse("query", why);
    return {{"error", fmt::format("bad query: {}", why)}};
  }
  return answer(*query, view);
}

}  // namespace bftgate::runtime
