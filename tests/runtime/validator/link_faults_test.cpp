// The --faults spec: every key parsed into bounded values, a clear error for anything else.
#include "bftgate/runtime/validator/link_faults.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "test_dirs.hpp"

namespace bftgate::runtime {
namespace {

using std::chrono::steady_clock;

TEST(LinkFaults, AStragglerWaitsWithinItsRangeBeforeEveryMessage) {
  auto faults = LinkFaults::parse("process=100-500us");
  ASSERT_TRUE(faults.ok()) << faults.error().message;
  EXPECT_FALSE(faults->empty());
  bool varied = false;
  auto first = faults->processing_delay(steady_clock::now());
  for (int i = 0; i < 200; ++i) {
    auto delay = faults->processing_delay(steady_clock::now());
    EXPECT_GE(delay.count(), 100);
    EXPECT_LE(delay.count(), 500);
    varied = varied || delay != first;
  }
  EXPECT_TRUE(varied);
  // The straggler delays processing, not sending.
  EXPECT_EQ(faults->outgoing(1, steady_clock::now()), std::chrono::milliseconds(0));
}

TEST(LinkFaults, NoProcessingDelayUnlessAsked) {
  auto faults = LinkFaults::parse("loss=0.5,peers=1");
  ASSERT_TRUE(faults.ok());
  EXPECT_EQ(faults->processing_delay(steady_clock::now()).count(), 0);
  auto after = LinkFaults::parse("process=200us,until=0");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->processing_delay(steady_clock::now() + std::chrono::seconds(1)).count(), 0);
}

TEST(LinkFaults, APartitionHealsWhenItsHealFileAppears) {
  bftgate::TempDir dir;
  const auto file = dir.path() / "healed";
  auto faults = LinkFaults::parse("cut=2,heal-file=" + file.string());
  ASSERT_TRUE(faults.ok()) << faults.error().message;
  auto now = steady_clock::now();
  EXPECT_TRUE(faults->drop_incoming(2, now));
  EXPECT_EQ(faults->outgoing(2, now), std::nullopt);
  std::ofstream(file) << "now";
  now += std::chrono::milliseconds(20);  // the file is looked at every 10 ms
  EXPECT_FALSE(faults->drop_incoming(2, now));
  EXPECT_EQ(faults->outgoing(2, now), std::chrono::milliseconds(0));
}

TEST(LinkFaults, RefusesMalformedSpecsWithTheRuleNamed) {
  for (const char* spec :
       {"process=500-100us", "process=5ms", "process=-1us", "process=2000000us", "process=abc",
        "heal-file=", "delay=5", "loss=2", "cut=1+x", "speed=3", "loss"}) {
    auto faults = LinkFaults::parse(spec);
    EXPECT_FALSE(faults.ok()) << spec;
    if (!faults.ok()) {
      EXPECT_NE(faults.error().message.find("--faults"), std::string::npos) << spec;
    }
  }
  auto cut = LinkFaults::parse("cut=1+2,until=5");
  ASSERT_TRUE(cut.ok());
  EXPECT_TRUE(cut->drop_incoming(2, steady_clock::now()));
  EXPECT_FALSE(cut->drop_incoming(3, steady_clock::now()));
}

}  // namespace
}  // namespace bftgate::runtime
