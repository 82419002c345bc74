// A validator's own request ids: increasing across restarts without the clock.
#include "bftgate/runtime/validator/request_ids.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "test_dirs.hpp"

namespace bftgate::runtime {
namespace {

TEST(RequestIdReservation, IdsIncreaseAcrossRestartsAndNeverRepeat) {
  TempDir dir;
  auto path = dir.path() / "request-ids";
  std::uint64_t last = 0;
  for (int restart = 0; restart < 3; ++restart) {
    auto ids = RequestIdReservation::open(path, 1);
    ASSERT_TRUE(ids.ok()) << ids.error().message;
    for (int i = 0; i < 5; ++i) {
      auto id = ids->next();
      ASSERT_TRUE(id.ok()) << id.error().message;
      EXPECT_GT(*id, last);
      last = *id;
    }
    // What is reserved is on disk before any id of the block is used.
    EXPECT_GT(ids->reserved_until(), last);
  }
  // Each restart starts above the block the last one reserved: ids are spent, never reused.
  EXPECT_GE(last, 2 * RequestIdReservation::kBlock);
}

TEST(RequestIdReservation, StartsAboveWhatTheReplicatedStateSaysWasUsed) {
  TempDir dir;
  auto ids = RequestIdReservation::open(dir.path() / "request-ids", 1'000'000);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids->next(), 1'000'000u);
  ids->raise_to(5'000'000);
  EXPECT_EQ(*ids->next(), 5'000'000u);
  ids->raise_to(10);  // never down
  EXPECT_EQ(*ids->next(), 5'000'001u);
}

TEST(RequestIdReservation, AFileItCannotReadOrWriteIsAnError) {
  TempDir dir;
  auto path = dir.path() / "request-ids";
  std::ofstream(path) << "not a number\n";
  auto bad = RequestIdReservation::open(path, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("not a request id reservation"), std::string::npos);
  // No reservation written, no id handed out.
  auto unwritable = RequestIdReservation::open(dir.path() / "missing" / "request-ids", 1);
  ASSERT_TRUE(unwritable.ok());
  auto id = unwritable->next();
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.error().message.find("cannot reserve"), std::string::npos);
}

}  // namespace
}  // namespace bftgate::runtime
