#include "bftgate/runtime/client/epoch_store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "bftgate/core/messages.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/register/register.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"

namespace bftgate::runtime {

namespace fs = std::filesystem;

namespace {

fs::path handoff_path(const fs::path& data_dir, std::uint64_t epoch) {
  return data_dir / "epochs" / fmt::format("handoff-{}.bin", epoch);
}

// The epochs of the kept handoffs, ascending (files that are not handoffs are left alone).
std::vector<std::uint64_t> kept_epochs(const fs::path& data_dir) {
  std::vector<std::uint64_t> epochs;
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(data_dir / "epochs", ec)) {
    auto name = item.path().filename().string();
    if (!name.starts_with("handoff-") || !name.ends_with(".bin")) continue;
    auto digits = name.substr(8, name.size() - 12);
    if (digits.empty() || digits.size() > 19 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    epochs.push_back(std::stoull(digits));
  }
  std::sort(epochs.begin(), epochs.end());
  return epochs;
}

Result<EpochStart> start_after(const ClusterConfig& genesis, const fs::path& data_dir,
                               std::uint64_t epoch) {
  auto handoff = load_handoff(data_dir, epoch);
  if (!handoff) return handoff.error();
  if (!*handoff) return Error{fmt::format("no kept handoff of epoch {}", epoch)};
  auto next = bft::join_next_epoch(genesis, **handoff);
  if (!next) {
    return Error{
        fmt::format("{}: {}", handoff_path(data_dir, epoch).string(), next.error().message)};
  }
  return EpochStart{(*next)->config(), (*next)->snapshot(), (*next)->epoch_links()};
}

}  // namespace

fs::path epoch_dir(const fs::path& data_dir, const ClusterConfig& genesis, std::uint64_t epoch) {
  return epoch == genesis.epoch ? data_dir : data_dir / fmt::format("epoch-{}", epoch);
}

Result<std::optional<bft::EpochHandoff>> load_handoff(const fs::path& data_dir,
                                                      std::uint64_t epoch) {
  auto path = handoff_path(data_dir, epoch);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<bft::EpochHandoff>{};
  auto bytes = read_small_file(path, bft::kMaxSnapshotBytes + (64 << 10));
  if (!bytes) return bytes.error();
  auto handoff = bft::decode_handoff(as_bytes(*bytes));
  if (!handoff) return Error{fmt::format("{}: {}", path.string(), handoff.error().message)};
  if (handoff->epoch != epoch)
    return Error{fmt::format("{}: a handoff of epoch {}", path.string(), handoff->epoch)};
  return std::optional<bft::EpochHandoff>{std::move(handoff.value())};
}

Status save_handoff(const fs::path& data_dir, const bft::EpochHandoff& handoff) {
  std::error_code ec;
  fs::create_directories(data_dir / "epochs", ec);
  if (ec)
    return Error{fmt::format("cannot create {}: {}", (data_dir / "epochs").string(), ec.message())};
  // Overwritten only by itself: a handoff is the same bytes however often it is made.
  return write_file_atomic(handoff_path(data_dir, handoff.epoch), bft::encode_handoff(handoff),
                           {.mode = 0600, .overwrite = true});
}

Result<EpochStart> newest_epoch(const ClusterConfig& genesis, const fs::path& data_dir) {
  auto epochs = kept_epochs(data_dir);
  if (epochs.empty()) return EpochStart{genesis, {}, {}};
  // The newest handoff holds the whole chain: joining it verifies every link from genesis.
  return start_after(genesis, data_dir, epochs.back());
}

Result<MemberEpoch> member_epoch(const ClusterConfig& genesis, const fs::path& data_dir,
                                 std::uint32_t member) {
  auto newest = newest_epoch(genesis, data_dir);
  if (!newest) return newest.error();
  if (newest->config.find_validator(member) != nullptr) return MemberEpoch{std::move(*newest), {}};
  const auto removed_in = newest->config.epoch;
  // The epoch before, where it was still a member: its register frozen at the switch.
  if (removed_in == genesis.epoch) {
    return Error{
        fmt::format("validator {} is not in the set of epoch {}, the newest known here "
                    "(a new member starts with --join once the validators run an "
                    "epoch that holds it)",
                    member, removed_in)};
  }
  auto before = removed_in - 1 == genesis.epoch ? Result<EpochStart>(EpochStart{genesis, {}, {}})
                                                : start_after(genesis, data_dir, removed_in - 2);
  if (!before) return before.error();
  if (before->config.find_validator(member) == nullptr) {
    return Error{fmt::format("validator {} is in neither epoch {} nor epoch {}", member,
                             removed_in - 1, removed_in)};
  }
  return MemberEpoch{std::move(*before), removed_in};
}

std::size_t catch_up_epochs(const ClusterConfig& genesis, const fs::path& data_dir,
                            const LinkSecurity& security, std::chrono::milliseconds timeout) {
  std::size_t caught_up = 0;
  for (;;) {
    auto start = newest_epoch(genesis, data_dir);
    if (!start) {
      spdlog::warn("cannot read the kept epochs: {}", start.error().message);
      return caught_up;
    }
    const auto& config = start->config;
    ClusterClient client(config, security);
    auto answers = client.query_all({{"query", "handoff"}, {"epoch", config.epoch}}, timeout,
                                    ClusterClient::Wait::kAllButF);
    bool joined = false;
    for (const auto& [from, answer] : answers) {
      if (!answer.contains("handoff") || !answer["handoff"].is_string()) continue;
      auto bytes = from_hex(answer["handoff"].get<std::string>());
      auto handoff =
          bytes ? bft::decode_handoff(*bytes) : Result<bft::EpochHandoff>(Error{"not hex"});
      auto next = handoff && handoff->epoch == config.epoch
                      ? bft::join_next_epoch(genesis, *handoff)
                      : Result<std::unique_ptr<bft::AdapterRegister>>(
                            Error{handoff ? "another epoch's handoff" : handoff.error().message});
      if (!next) {
        spdlog::warn("validator {}'s handoff of epoch {} is refused: {}", from, config.epoch,
                     next.error().message);
        continue;
      }
      if (auto saved = save_handoff(data_dir, *handoff); !saved) {
        spdlog::error("cannot keep the handoff of epoch {}: {}", config.epoch,
                      saved.error().message);
        return caught_up;
      }
      spdlog::info("caught up: epoch {} ended (handoff from validator {}); epoch {} runs now",
                   config.epoch, from, config.epoch + 1);
      joined = true;
      ++caught_up;
      break;
    }
    if (!joined) return caught_up;
  }
}

Result<EpochStart> follow_epochs(const ClusterConfig& genesis, const fs::path& state_dir,
                                 const LinkSecurity& security, std::chrono::milliseconds timeout) {
  catch_up_epochs(genesis, state_dir, security, timeout);
  return newest_epoch(genesis, state_dir);
}

fs::path default_epoch_state(const ClusterConfig& genesis) {
  fs::path base;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg == '/') {
    base = xdg;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
    base = fs::path(home) / ".cache";
  } else {
    base = fs::temp_directory_path();
  }
  return base / "bftgate" /
         fmt::format("{}-{}", genesis.cluster_id, genesis.fingerprint().substr(0, 16));
}

}  // namespace bftgate::runtime
