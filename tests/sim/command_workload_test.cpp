// The SMR command workload (Antoniadis et al.): the per-command SMR cost counts what a straggler
// must process to catch up when the quorum needs it; the per-instance consensus cost does not.
#include "bftgate/sim/command_workload.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "bftgate/sim/aggregate.hpp"

namespace bftgate::sim {
namespace {

CommandWorkload small(std::size_t pipeline) {
  CommandWorkload w;
  w.commands = 600;
  w.pipeline = pipeline;
  return w;
}

std::vector<double> smr_costs(const CommandRunResult& r, std::size_t from, std::size_t to) {
  std::vector<double> out;
  for (std::size_t i = from; i < to && i < r.commands.size(); ++i)
    out.push_back(static_cast<double>(r.commands[i].smr_messages));
  return out;
}

TEST(CommandWorkload, GracefulRunCompletesEveryCommandOnce) {
  auto r = run_commands(small(10), 1);
  ASSERT_TRUE(r.completed);
  EXPECT_TRUE(r.violations.empty());
  EXPECT_EQ(r.view_changes, 0u);
  std::vector<std::uint64_t> ids, seqs;
  for (const auto& c : r.commands) {
    ids.push_back(c.id);
    seqs.push_back(c.seq);
    EXPECT_GT(c.completed_s, c.submitted_s);
    // The request, a pre-prepare to 3 backups, prepares, commits and replies: at least n-f of
    // each reach someone.
    EXPECT_GE(c.consensus_messages, 10u);
  }
  std::sort(ids.begin(), ids.end());
  std::sort(seqs.begin(), seqs.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
  EXPECT_EQ(std::adjacent_find(seqs.begin(), seqs.end()), seqs.end());
  EXPECT_EQ(ids.front(), 1u);
  EXPECT_EQ(ids.back(), 600u);
}

TEST(CommandWorkload, SameSeedSameRun) {
  auto w = small(10);
  w.straggler = 3;
  auto a = run_commands(w, 7), b = run_commands(w, 7);
  ASSERT_EQ(a.commands.size(), b.commands.size());
  for (std::size_t i = 0; i < a.commands.size(); ++i) {
    EXPECT_EQ(a.commands[i].completed_s, b.commands[i].completed_s);
    EXPECT_EQ(a.commands[i].smr_messages, b.commands[i].smr_messages);
  }
}

TEST(CommandWorkload, SwitchChargesTheStragglersCatchUpToSmrNotToConsensus) {
  auto w = small(10);
  w.straggler = 3;
  w.crash = 1;
  w.crash_at_command = 300;
  auto r = run_commands(w, 3);
  ASSERT_TRUE(r.completed) << r.commands.size() << " commands";
  ASSERT_TRUE(r.violations.empty()) << r.violations.front();
  EXPECT_GT(r.max_queue, 100u) << "the straggler never fell behind";
  // The command that completes first after the in-flight ones pays for the straggler's backlog.
  std::size_t spike_at = 300;
  for (std::size_t i = 300; i < 300 + w.pipeline + 2; ++i) {
    if (r.commands[i].smr_messages > r.commands[spike_at].smr_messages) spike_at = i;
  }
  const auto& spike = r.commands[spike_at];
  auto before = sim::percentile(smr_costs(r, 100, 300), 0.5);
  EXPECT_GT(static_cast<double>(spike.smr_messages), 50 * before);
  // Its consensus instance costs no more than one before the crash.
  std::vector<double> consensus;
  for (std::size_t i = 100; i < 300; ++i)
    consensus.push_back(static_cast<double>(r.commands[i].consensus_messages));
  EXPECT_LE(static_cast<double>(spike.consensus_messages), sim::percentile(consensus, 0.5));
  // And its latency jumps: the straggler is on the critical path.
  EXPECT_GT(spike.completed_s - spike.submitted_s,
            20 * (r.commands[299].completed_s - r.commands[299].submitted_s));
}

TEST(CommandWorkload, ARejoiningReplicaCatchesUpByLogReplayOrStateTransfer) {
  for (bool state_transfer : {false, true}) {
    CommandWorkload w;
    w.commands = 700;
    w.isolated = 3;
    w.crash = 1;
    w.crash_at_command = 500;
    if (state_transfer) {
      w.checkpoint_interval = 16;
      w.watermark_window = 64;
    } else {
      w.checkpoint_interval = 1024;
      w.watermark_window = 2048;
    }
    auto r = run_commands(w, 5);
    ASSERT_TRUE(r.completed) << "state transfer " << state_transfer;
    EXPECT_TRUE(r.violations.empty());
    EXPECT_EQ(r.state_transfers > 0, state_transfer);
    EXPECT_GT(r.catch_ups, 0u);
    // The commands after the rejoin paid for the catch-up.
    std::uint64_t after = 0;
    for (std::size_t i = 500; i < 520; ++i) after += r.commands[i].smr_catch_up_messages;
    EXPECT_GT(after, 0u) << "state transfer " << state_transfer;
  }
}

}  // namespace
}  // namespace bftgate::sim
