#include "bftgate/gpu/slot_table.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace bftgate::gpu {
namespace {

using std::chrono::milliseconds;

Status stage(SlotTable& table, std::uint64_t version) {
  auto slot = table.begin_stage(version, milliseconds(0));
  if (!slot.ok()) return fail(slot.error().message);
  return table.finish_stage(*slot);
}

TEST(SlotTableTest, StageFlipServeAndRetire) {
  SlotTable table(3);
  EXPECT_EQ(table.active_version(), 0u);
  auto base = table.acquire();
  EXPECT_EQ(base.slot, -1);
  EXPECT_EQ(base.version, 0u);
  table.release(base);

  ASSERT_TRUE(stage(table, 1).ok());
  EXPECT_EQ(table.staged_version(), 1u);
  EXPECT_EQ(table.active_version(), 0u);  // staging alone changes nothing served
  auto flipped = table.flip();
  ASSERT_TRUE(flipped.ok()) << flipped.error().message;
  EXPECT_EQ(flipped->version, 1u);
  EXPECT_EQ(flipped->previous_version, 0u);
  EXPECT_EQ(table.active_version(), 1u);

  auto lease = table.acquire();  // a batch in flight on version 1
  EXPECT_EQ(lease.version, 1u);
  ASSERT_TRUE(stage(table, 2).ok());
  auto second = table.flip();
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->previous_freed);
  EXPECT_EQ(table.state(lease.slot), SlotState::kRetiring);
  EXPECT_EQ(table.in_flight(lease.slot), 1u);
  table.release(lease);
  EXPECT_EQ(table.state(lease.slot), SlotState::kFree);  // freed by its last batch
}

TEST(SlotTableTest, VersionsNeverGoBackwards) {
  SlotTable table(3);
  ASSERT_TRUE(stage(table, 5).ok());
  ASSERT_TRUE(table.flip().ok());
  for (std::uint64_t stale : {0u, 3u, 5u}) {
    auto refused = table.begin_stage(stale, milliseconds(0));
    ASSERT_FALSE(refused.ok()) << stale;
    EXPECT_NE(refused.error().message.find("not newer than the active version 5"),
              std::string::npos)
        << refused.error().message;
  }
  ASSERT_TRUE(stage(table, 7).ok());
  auto below_staged = table.begin_stage(6, milliseconds(0));
  ASSERT_FALSE(below_staged.ok());
  EXPECT_NE(below_staged.error().message.find("already staged"), std::string::npos);
  EXPECT_EQ(table.active_version(), 5u);
}

TEST(SlotTableTest, FlipWithNothingStagedIsRefused) {
  SlotTable table(2);
  auto refused = table.flip();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("no staged adapter"), std::string::npos);
}

TEST(SlotTableTest, ANewerStagedVersionReplacesAnOlderOneThatNeverWentLive) {
  SlotTable table(3);
  ASSERT_TRUE(stage(table, 1).ok());
  ASSERT_TRUE(stage(table, 2).ok());
  EXPECT_EQ(table.staged_version(), 2u);
  auto flipped = table.flip();
  ASSERT_TRUE(flipped.ok());
  EXPECT_EQ(flipped->version, 2u);
  // Slots: one active (2), two free: version 1's slot was released when 2 was staged.
  int free_slots = 0;
  for (int s = 0; s < table.slot_count(); ++s)
    free_slots += table.state(s) == SlotState::kFree ? 1 : 0;
  EXPECT_EQ(free_slots, 2);
}

TEST(SlotTableTest, AStageOvertakenWhileLoadingIsRefusedAndFreed) {
  SlotTable table(3);
  auto slow = table.begin_stage(3, milliseconds(0));
  ASSERT_TRUE(slow.ok());
  ASSERT_TRUE(stage(table, 4).ok());  // a newer version starts and finishes meanwhile
  auto finished = table.finish_stage(*slow);
  ASSERT_FALSE(finished.ok());
  EXPECT_NE(finished.error().message.find("superseded by version 4"), std::string::npos)
      << finished.error().message;
  EXPECT_EQ(table.state(*slow), SlotState::kFree);
  EXPECT_EQ(table.staged_version(), 4u);
}

TEST(SlotTableTest, StageWaitsForARetiringSlotAndTimesOutWithTheSlotStates) {
  SlotTable table(2);
  ASSERT_TRUE(stage(table, 1).ok());
  ASSERT_TRUE(table.flip().ok());
  auto lease = table.acquire();
  ASSERT_TRUE(stage(table, 2).ok());
  ASSERT_TRUE(table.flip().ok());  // slot of v1 retires: no free slot while the batch runs

  auto timed_out = table.begin_stage(3, milliseconds(20));
  ASSERT_FALSE(timed_out.ok());
  EXPECT_NE(timed_out.error().message.find("no free adapter slot"), std::string::npos);
  EXPECT_NE(timed_out.error().message.find("retiring v1 (1 in flight)"), std::string::npos)
      << timed_out.error().message;

  std::thread finisher([&] {
    std::this_thread::sleep_for(milliseconds(20));
    table.release(lease);
  });
  auto waited = table.begin_stage(3, milliseconds(5000));
  finisher.join();
  ASSERT_TRUE(waited.ok()) << waited.error().message;
  EXPECT_EQ(*waited, lease.slot);
}

TEST(SlotTableTest, AbortedStageFreesTheSlot) {
  SlotTable table(2);
  auto slot = table.begin_stage(1, milliseconds(0));
  ASSERT_TRUE(slot.ok());
  EXPECT_EQ(table.state(*slot), SlotState::kLoading);
  table.abort_stage(*slot);
  EXPECT_EQ(table.state(*slot), SlotState::kFree);
  EXPECT_TRUE(stage(table, 1).ok());  // the version may be tried again
}

}  // namespace
}  // namespace bftgate::gpu
