// bftgate submit and status: what an operator does with a running cluster.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/config/key_file.hpp"
#include "bftgate/register/register.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/client/epoch_store.hpp"
#include "bftgate/runtime/client/operator.hpp"
#include "bftgate/runtime/net/register_json.hpp"
#include "cli_common.hpp"

namespace bftgate::cli {

namespace {
using nlohmann::json;
using std::chrono::milliseconds;

struct SubmitArgs {
  std::filesystem::path config;
  std::filesystem::path operator_key;
  std::filesystem::path adapter;
  std::uint64_t version = 0;
  bool wait = false;
  double timeout_s = 60;
  bool json_output = false;
  bool no_store = false;
  bool no_check = false;
  bool insecure_plaintext = false;
};

struct StatusArgs {
  std::filesystem::path config;
  std::filesystem::path key;
  bool insecure_plaintext = false;
  bool json_output = false;
  bool all = false;
  double timeout_s = 2;
};

// Exit code of a proposal that the cluster has not decided in time: not a refusal, and safe to
// retry.
constexpr int kExitUndecided = 3;

int propose_error_exit(const runtime::ProposeError& error, bool json_output) {
  using Kind = runtime::ProposeError::Kind;
  if (json_output) {
    auto state = error.kind == Kind::kUndecided ? "UNDECIDED"
                 : error.kind == Kind::kRefused ? "REFUSED"
                                                : "FAILED";
    fmt::print("{}\n", dump_json(json({{"state", state}, {"error", error.message}})));
  }
  print_error(error.message);
  return error.kind == Kind::kUndecided ? kExitUndecided : kExitFailure;
}

int submit(const SubmitArgs& args) {
  auto config = ClusterConfig::load(args.config);
  if (!config) {
    print_error(config.error().message);
    return kExitFailure;
  }
  auto key = crypto::read_key_file(args.operator_key);
  if (!key) {
    print_error(key.error().message);
    return kExitFailure;
  }
  if (key->role != crypto::KeyRole::kOperator ||
      key->key.public_key() != config->operator_public_key) {
    print_error(fmt::format("{} is not the operator key of {}", args.operator_key.string(),
                            args.config.string()));
    return kExitFailure;
  }
  // A PEFT directory travels packed into one file: that file's digest is what gets certified.
  auto packed = runtime::artifact_file_for(
      args.adapter, std::filesystem::temp_directory_path() / "bftgate-packed", !args.no_check);
  if (!packed) {
    print_error(packed.error().message);
    return kExitFailure;
  }
  auto artifact = packed.value();
  auto timeout = milliseconds(static_cast<std::int64_t>(args.timeout_s * 1000));
  // The epoch that runs now: its set, endpoints and the epoch number the proposal is signed for.
  auto current = runtime::follow_epochs(*config, runtime::default_epoch_state(*config),
                                        args.insecure_plaintext
                                            ? runtime::LinkSecurity::insecure_plaintext()
                                            : runtime::LinkSecurity::curve(key->key, *config),
                                        milliseconds(1000));
  if (!current) {
    print_error(current.error().message);
    return kExitFailure;
  }
  config = std::move(current->config);
  if (!args.json_output)
    fmt::print("submitting {}{}\n", artifact.string(),
               args.no_store ? " (by path)" : " via the artifact store");
  auto security = args.insecure_plaintext ? runtime::LinkSecurity::insecure_plaintext()
                                          : runtime::LinkSecurity::curve(key->key, *config);
  auto proposal = runtime::propose_adapter(*config, security, key->key, artifact, args.version,
                                           !args.no_store, timeout);
  if (!proposal) return propose_error_exit(proposal.error(), args.json_output);
  if (!args.json_output) {
    fmt::print("accepted: version {} (sha256 {}, {} bytes, {}); validators are validating it\n",
               proposal->version, proposal->digest.hex(), proposal->size, proposal->source);
  }
  if (!args.wait) {
    if (args.json_output)
      fmt::print("{}\n", json({{"version", proposal->version}, {"state", "BETA_TESTING"}}).dump());
    return kExitOk;
  }
  auto decided = runtime::wait_for_decision(*config, security, proposal->version, timeout,
                                            [&](const std::string& line) {
                                              if (!args.json_output) fmt::print("  {}\n", line);
                                            });
  if (!decided) return propose_error_exit(decided.error(), args.json_output);
  const auto& entry = decided->entry;
  if (args.json_output) {
    fmt::print("{}\n", dump_json(decided->to_json(), 2));
  } else {
    fmt::print("decided: version {} is {}{}\n", proposal->version, bft::to_string(entry.state),
               entry.reason.empty() ? "" : " (" + entry.reason + ")");
    // Who voted what, and why (the reason each validator kept with its metrics).
    for (const auto& voter : decided->voters) {
      fmt::print("  validator {} voted {}{}\n", voter.validator, bft::to_string(voter.verdict),
                 voter.reason ? ": " + *voter.reason : "");
    }
    if (entry.certificate)
      fmt::print("certificate:\n{}\n", dump_json(entry.certificate->to_json(), 2));
  }
  return entry.state == bft::EntryState::kReleaseCommit ? kExitOk : kExitFailure;
}

// "4 of 4 validators agree on head ... and log ...", or each group that differs.
void print_agreement(const runtime::Agreement& agreement, std::size_t answered) {
  if (agreement.groups.empty()) return;
  const auto& largest = agreement.groups[0];
  fmt::print("agreement: {} of {} validators agree on head {} and log {}\n",
             largest.validators.size(), answered, largest.head_hash.hex().substr(0, 16),
             largest.log_head_hash.hex().substr(0, 16));
  for (std::size_t i = 1; i < agreement.groups.size(); ++i) {
    const auto& group = agreement.groups[i];
    fmt::print("  DIFFERS: validator(s) {} (executed {}) hold head {} and log {}\n",
               fmt::join(group.validators, ","), fmt::join(group.last_executed, ","),
               group.head_hash.hex().substr(0, 16), group.log_head_hash.hex().substr(0, 16));
  }
}

// One register entry with every validator's vote, and the metrics the voter kept checked
// against the digest its signed vote carries.
void print_entry(const runtime::EntryReport& entry,
                 const std::map<bft::ReplicaId, runtime::StatusAnswer>& answers) {
  fmt::print("version {}: {}  digest {}  {} PASS / {} FAIL{}\n", entry.version,
             bft::to_string(entry.state), entry.artifact_digest.hex().substr(0, 16),
             entry.pass_votes(), entry.fail_votes(),
             entry.reason.empty() ? "" : "  (" + printable(entry.reason) + ")");
  for (const auto& vote : entry.votes) {
    std::string detail;
    if (auto it = answers.find(vote.validator); it != answers.end()) {
      if (const auto* kept = it->second.validation(entry.version)) {
        detail =
            fmt::format(": {} (metrics {})", printable(kept->reason),
                        kept->digest() == vote.metrics_digest ? "match the vote's digest"
                                                              : "DO NOT match the vote's digest");
      }
    }
    fmt::print("    validator {} voted {}{}\n", vote.validator, bft::to_string(vote.verdict),
               detail);
  }
  if (entry.certificate)
    fmt::print("    certificate signed by {}\n", entry.certificate->signatures().size());
}

int status(const StatusArgs& args) {
  auto config = ClusterConfig::load(args.config);
  if (!config) {
    print_error(config.error().message);
    return kExitFailure;
  }
  // The epoch that runs now (the handoffs kept for the operator's tools; none fetched here).
  if (auto current = runtime::newest_epoch(*config, runtime::default_epoch_state(*config)))
    config = std::move(current->config);
  auto security = link_security(*config, args.key, args.insecure_plaintext);
  if (!security) {
    print_error(security.error().message);
    return kExitUsage;
  }
  runtime::ClusterClient client(*config, *security);
  const auto timeout = milliseconds(static_cast<std::int64_t>(args.timeout_s * 1000));
  auto statuses = client.status_all(timeout);
  if (args.all) {
    // Every entry, page by page, from each validator that answered the first page.
    for (auto& [id, answer] : statuses.answers) {
      if (auto full = client.full_status(id, timeout)) answer = std::move(*full);
    }
  }
  const auto& answers = statuses.answers;
  auto agreement = runtime::agreement_of(answers);
  auto enough = answers.size() >= std::size_t{config->f} + 1 ? kExitOk : kExitFailure;
  if (args.json_output) {
    json validators = json::object();
    for (const auto& [id, answer] : answers) validators[std::to_string(id)] = to_json(answer);
    json refused = json::object();
    for (const auto& [id, why] : statuses.refused) refused[std::to_string(id)] = why;
    fmt::print("{}\n", dump_json(json{{"validators", validators},
                                      {"malformed_answers", refused},
                                      {"agreement", agreement.to_json()}},
                                 2));
    return enough;
  }
  fmt::print("cluster '{}' epoch {}: {} of {} validators answered\n", config->cluster_id,
             config->epoch, answers.size(), config->n());
  for (const auto& v : config->validators) {
    if (auto refused = statuses.refused.find(v.id); refused != statuses.refused.end()) {
      fmt::print("  validator {:<3} {:<24} a malformed answer: {}\n", v.id, v.endpoint,
                 refused->second);
      continue;
    }
    auto it = answers.find(v.id);
    if (it == answers.end()) {
      fmt::print("  validator {:<3} {:<24} no answer\n", v.id, v.endpoint);
      continue;
    }
    const auto& a = it->second;
    fmt::print("  validator {:<3} {:<24} view {}{}, executed {}, stable checkpoint {}\n", v.id,
               v.endpoint, a.view,
               !a.view_active ? " (changing)"
               : !a.voting    ? " (following, not voting until the next view change)"
                              : "",
               a.last_executed, a.stable_seq);
    if (a.judging && a.judging->cannot_judge) {
      // No verdict: a fault of the store, the disk or that host; it abstains and tries again.
      fmt::print("      cannot judge version {} ({} attempts, no vote): {}\n", a.judging->version,
                 a.judging->attempts, printable(a.judging->reason, 300));
    } else if (a.judging) {
      fmt::print("      validating version {}\n", a.judging->version);
    }
  }
  print_agreement(agreement, answers.size());
  if (answers.empty()) return kExitFailure;
  // Entries as the validator with the longest register reports them.
  const runtime::StatusAnswer* fullest = nullptr;
  for (const auto& [id, answer] : answers) {
    if (fullest == nullptr || answer.entries.size() > fullest->entries.size()) fullest = &answer;
  }
  if (fullest->entries_omitted > 0) {
    fmt::print("({} older entries not shown: --all shows every one)\n", fullest->entries_omitted);
  }
  for (const auto& entry : fullest->entries) {
    if (entry.version != 0) print_entry(entry, answers);
  }
  return enough;
}
}  // namespace

void register_submit(CLI::App& app, Runner& run) {
  auto args = std::make_shared<SubmitArgs>();
  auto* cmd = app.add_subcommand(
      "submit", "Propose an adapter artifact to the cluster (signed by the operator key)");
  cmd->add_option("--config", args->config, "Cluster config")->required()->check(CLI::ExistingFile);
  cmd->add_option("--operator-key", args->operator_key, "Operator secret-key file")->required();
  cmd->add_option("--adapter", args->adapter, "Adapter file (or a PEFT directory)")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option(
         "--version", args->version,
         fmt::format("Version to propose, 1 to {} (default: one above the highest registered)",
                     bft::kMaxAdapterVersion))
      ->check(CLI::Range(std::uint64_t{1}, bft::kMaxAdapterVersion));
  cmd->add_flag("--wait", args->wait, "Wait for the verdict, with progress");
  cmd->add_option("--timeout", args->timeout_s,
                  "Seconds to wait; when they run out the command exits 3 (not decided yet: check "
                  "`status`, or submit "
                  "again, which is safe)")
      ->default_val(60)
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", args->json_output, "Print the result as JSON");
  cmd->add_flag("--no-store", args->no_store,
                "Propose the local file path instead of uploading to the store");
  cmd->add_flag("--no-check", args->no_check,
                "Upload a .safetensors file without checking that it is a packed adapter (the "
                "validators judge it "
                "anyway)");
  add_insecure_plaintext_flag(cmd, args->insecure_plaintext);
  cmd->callback([&run, args] { run = [args] { return submit(*args); }; });
}

void register_status(CLI::App& app, Runner& run) {
  auto args = std::make_shared<StatusArgs>();
  auto* cmd = app.add_subcommand(
      "status", "Show every validator's view of the register: entries, votes, certificates");
  cmd->add_option("--config", args->config, "Cluster config")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--json", args->json_output, "Print every validator's answer as JSON");
  cmd->add_flag("--all", args->all,
                "Every register entry, asked for page by page (otherwise the newest 32)");
  cmd->add_option("--timeout", args->timeout_s, "Seconds to wait for answers")->default_val(2);
  auto* key =
      cmd->add_option("--key", args->key,
                      "A member's secret-key file (the operator's, say): links are CURVE under it, "
                      "and validators answer queries from any member of the config");
  add_insecure_plaintext_flag(cmd, args->insecure_plaintext)->excludes(key);
  cmd->callback([&run, args] { run = [args] { return status(*args); }; });
}

}  // namespace bftgate::cli
