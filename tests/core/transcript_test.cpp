// Transcript tests in the style of etcd-raft's datadriven tests: each file under testdata/ is a
// script for the fake network, and after each command the exact messages sent, records
// persisted, batches executed and events raised, in order. A change to message-level behaviour
// shows up as a diff here. After an intended change, rewrite the expected output with
//   BFTGATE_REWRITE_TRANSCRIPTS=1 build/debug/tests/core/core_tests --gtest_filter='Transcript*'
// and review the diff.
//
// File format: a command line, "----", the expected output, a blank line. Lines starting with
// '#' are comments. Commands:
//   submit ids=A[-B]          client requests A..B (operation "op-<id>") to every replica
//   drop from=R | to=R [type=T]  from now on, drop matching messages (T: a message type name)
//   heal                      drop nothing any more
//   tick [ms=M] [n=N]         advance the clock N times by M ms (default 20 ms, once)
//   crash r=R / restart r=R   stop replica R / restart it from what it persisted
//   state                     view, activity, voting, executed, stable, low of every replica
// Status messages are left out of the output (periodic, and not what these pin).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "test_cluster.hpp"

namespace bftgate::bft::testing {
namespace {

struct Block {
  std::vector<std::string> comments;  // kept when the file is rewritten
  std::string command;
  std::vector<std::string> expected;
};

std::vector<Block> read_blocks(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<Block> blocks;
  std::vector<std::string> comments;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.starts_with("#")) {
      comments.push_back(line);
      continue;
    }
    Block block;
    block.comments = std::move(comments);
    comments.clear();
    block.command = line;
    if (!std::getline(in, line) || line != "----")
      throw std::runtime_error(path.string() + ": expected ---- after '" + block.command + "'");
    while (std::getline(in, line) && !line.empty()) block.expected.push_back(line);
    blocks.push_back(std::move(block));
  }
  return blocks;
}

void write_blocks(const std::filesystem::path& path, const std::vector<Block>& blocks) {
  std::ofstream out(path, std::ios::trunc);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    if (i > 0) out << "\n";
    for (const auto& c : blocks[i].comments) out << c << "\n";
    out << blocks[i].command << "\n----\n";
    for (const auto& e : blocks[i].expected) out << e << "\n";
  }
}

std::map<std::string, std::string> arguments(std::istringstream& words) {
  std::map<std::string, std::string> args;
  std::string word;
  while (words >> word) {
    auto eq = word.find('=');
    if (eq == std::string::npos) throw std::runtime_error("argument without '=': " + word);
    args[word.substr(0, eq)] = word.substr(eq + 1);
  }
  return args;
}

class Transcript {
 public:
  explicit Transcript(TestCluster& cluster) : cluster_(cluster) {
    cluster_.observer = [this](ReplicaId r, const Ready& ready) { record(r, ready); };
    cluster_.filter = [this](PrincipalId from, PrincipalId to, const SignedMessage& m) {
      for (const auto& rule : drops_) {
        if ((rule.from && *rule.from != from) || (rule.to && *rule.to != to)) continue;
        if (!rule.type.empty() && rule.type != to_string(m.type())) continue;
        return true;
      }
      return false;
    };
  }

  std::vector<std::string> run(const std::string& command) {
    output_.clear();
    std::istringstream words(command);
    std::string verb;
    words >> verb;
    auto args = arguments(words);
    auto number = [&](const std::string& key, std::uint64_t fallback) {
      return args.contains(key) ? std::stoull(args[key]) : fallback;
    };
    if (verb == "submit") {
      auto ids = args.at("ids");
      auto dash = ids.find('-');
      auto first = std::stoull(ids.substr(0, dash));
      auto last = dash == std::string::npos ? first : std::stoull(ids.substr(dash + 1));
      for (auto id = first; id <= last; ++id)
        cluster_.submit(cluster_.request(id, "op-" + std::to_string(id)));
    } else if (verb == "drop") {
      Drop rule;
      if (args.contains("from")) rule.from = static_cast<PrincipalId>(number("from", 0));
      if (args.contains("to")) rule.to = static_cast<PrincipalId>(number("to", 0));
      if (args.contains("type")) rule.type = args["type"];
      drops_.push_back(rule);
    } else if (verb == "heal") {
      drops_.clear();
    } else if (verb == "tick") {
      cluster_.advance(Duration(static_cast<std::int64_t>(number("ms", 20) * 1000)),
                       static_cast<int>(number("n", 1)));
    } else if (verb == "crash") {
      cluster_.crash(static_cast<ReplicaId>(number("r", 0)));
    } else if (verb == "restart") {
      cluster_.start(static_cast<ReplicaId>(number("r", 0)), /*recover=*/true);
    } else if (verb == "state") {
      for (std::size_t r = 0; r < cluster_.n(); ++r) {
        const auto& replica = *cluster_.replicas[r];
        output_.push_back(
            fmt::format("r{}: view={} active={} voting={} executed={} stable={} low={}{}", r,
                        replica.view(), replica.view_active(), replica.voting(),
                        replica.last_executed(), replica.stable_seq(), replica.low_watermark(),
                        cluster_.down.contains(static_cast<ReplicaId>(r)) ? " (down)" : ""));
      }
    } else {
      throw std::runtime_error("unknown command: " + verb);
    }
    if (output_.empty()) output_.push_back("(nothing)");
    return output_;
  }

 private:
  struct Drop {
    std::optional<PrincipalId> from;
    std::optional<PrincipalId> to;
    std::string type;
  };

  // Batch digests depend on the generated keys: name them B1, B2, ... in order of appearance.
  std::string stable_text(const std::string& text) {
    constexpr std::string_view kBatch = "batch=";
    constexpr std::size_t kHex = 12;
    std::string out;
    std::size_t at = 0;
    for (auto found = text.find(kBatch); found != std::string::npos;
         found = text.find(kBatch, at)) {
      auto hex = text.substr(found + kBatch.size(), kHex);
      out += text.substr(at, found - at) + std::string(kBatch);
      auto [it, inserted] = batches_.emplace(hex, batches_.size() + 1);
      out += fmt::format("B{}", it->second);
      at = found + kBatch.size() + hex.size();
    }
    return out + text.substr(at);
  }

  std::string label(const CommittedBatch& batch) {
    auto hex = batch.batch_digest.hex().substr(0, 12);
    auto [it, inserted] = batches_.emplace(hex, batches_.size() + 1);
    return fmt::format("B{}", it->second);
  }

  void record(ReplicaId r, const Ready& ready) {
    for (const auto& p : ready.persist) {
      switch (p.kind) {
        case PersistRecord::Kind::kView:
          output_.push_back(fmt::format("r{} persist view {} active={}", r, p.view, p.view_active));
          break;
        case PersistRecord::Kind::kSent:
          output_.push_back(
              stable_text(fmt::format("r{} persist sent {}", r, describe(*p.message))));
          break;
        case PersistRecord::Kind::kPrepared:
          output_.push_back(stable_text(fmt::format("r{} persist prepared {} with {} prepares", r,
                                                    describe(*p.prepared.pre_prepare),
                                                    p.prepared.prepares.size())));
          break;
        case PersistRecord::Kind::kExecuted:
          output_.push_back(fmt::format("r{} persist executed seq={}", r, p.seq));
          break;
        case PersistRecord::Kind::kStable:
          output_.push_back(fmt::format("r{} persist stable checkpoint seq={} proof={}", r, p.seq,
                                        p.checkpoint_proof.size()));
          break;
      }
    }
    for (const auto& out : ready.messages) {
      if (out.message->type() == MessageType::kStatus) continue;
      auto to = out.to == Outbound::To::kAllReplicas ? std::string("all")
                : out.to == Outbound::To::kReplica   ? fmt::format("r{}", out.destination)
                                                     : std::string("client");
      output_.push_back(stable_text(fmt::format("r{} -> {}: {}", r, to, describe(*out.message))));
    }
    for (const auto& batch : ready.committed) {
      output_.push_back(fmt::format("r{} executed seq={} view={} batch={} requests={}", r,
                                    batch.seq, batch.view, label(batch), batch.requests.size()));
    }
    for (const auto& event : ready.events) {
      // A commit quorum shows as the "executed" line that follows it (or, out of order, later).
      if (event.kind == ReplicaEvent::Kind::kRejected ||
          event.kind == ReplicaEvent::Kind::kCheckpointTaken ||
          event.kind == ReplicaEvent::Kind::kCommitted)
        continue;
      static const char* names[] = {"view-change-started", "new-view-entered", "returned-to-view",
                                    "state-transferred",   "checkpoint-taken", "checkpoint-stable",
                                    "committed",           "rejected",         "equivocation"};
      output_.push_back(fmt::format("r{} event {} view={} seq={}", r,
                                    names[static_cast<int>(event.kind)], event.view, event.seq));
    }
  }

  TestCluster& cluster_;
  std::vector<Drop> drops_;
  std::map<std::string, std::size_t> batches_;
  std::vector<std::string> output_;
};

class Transcripts : public ::testing::TestWithParam<std::string> {};

TEST_P(Transcripts, MatchTheirExpectedOutput) {
  auto path = std::filesystem::path(BFTGATE_TRANSCRIPTS) / GetParam();
  auto blocks = read_blocks(path);
  ASSERT_FALSE(blocks.empty()) << path;
  TestCluster cluster(4);
  Transcript transcript(cluster);
  bool rewrite = std::getenv("BFTGATE_REWRITE_TRANSCRIPTS") != nullptr;
  for (auto& block : blocks) {
    auto actual = transcript.run(block.command);
    if (rewrite) {
      block.expected = actual;
      continue;
    }
    std::string diff;
    for (std::size_t i = 0; i < std::max(actual.size(), block.expected.size()); ++i) {
      auto a = i < actual.size() ? actual[i] : "(missing)";
      auto e = i < block.expected.size() ? block.expected[i] : "(missing)";
      if (a != e)
        diff += fmt::format("\n  line {}: expected: {}\n           actual:   {}", i + 1, e, a);
    }
    EXPECT_TRUE(diff.empty()) << GetParam() << ", after '" << block.command << "':" << diff;
    if (!diff.empty()) return;  // later blocks depend on this one
  }
  if (rewrite) write_blocks(path, blocks);
}

std::vector<std::string> transcript_files() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(BFTGATE_TRANSCRIPTS)) {
    if (entry.path().extension() == ".txt") files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

INSTANTIATE_TEST_SUITE_P(Core, Transcripts, ::testing::ValuesIn(transcript_files()),
                         [](const auto& param_info) {
                           auto name = param_info.param.substr(0, param_info.param.size() - 4);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace bftgate::bft::testing
