// The external validation command: output captured, exit codes reported, timeouts and
// cancellation kill the whole process group (a suite's children included).
#include "bftgate/validation/external_command.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace bftgate::validation {
namespace {

using namespace std::chrono_literals;

TEST(ExternalCommand, CapturesOutputAndExitCode) {
  auto outcome = run_command("echo '{\"pass\": true}'; exit 3", 5s);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->output, "{\"pass\": true}\n");
  EXPECT_EQ(outcome->exit_code, 3);
  EXPECT_FALSE(outcome->timed_out);
  EXPECT_FALSE(outcome->cancelled);
}

TEST(ExternalCommand, OutputIsCappedAtTheLimit) {
  auto outcome = run_command("head -c 100000 /dev/zero", 5s, 1000);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->output.size(), 1000u);
}

TEST(ExternalCommand, TimeoutKillsTheCommandAndItsChildren) {
  auto started = std::chrono::steady_clock::now();
  // The child sleeps in the background holding the pipe open: only a group kill ends it.
  auto outcome = run_command("sleep 30 & sleep 30", 300ms);
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->timed_out);
  EXPECT_EQ(outcome->exit_code, -1);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(ExternalCommand, CancellationStopsARunningCommand) {
  std::atomic<bool> cancel{false};
  std::thread canceller([&cancel] {
    std::this_thread::sleep_for(200ms);
    cancel = true;
  });
  auto started = std::chrono::steady_clock::now();
  auto outcome = run_command("sleep 30 & sleep 30", 60s, 1 << 20, &cancel);
  canceller.join();
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->cancelled);
  EXPECT_FALSE(outcome->timed_out);
  EXPECT_EQ(outcome->exit_code, -1);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(ExternalCommand, PlaceholdersAndQuoting) {
  EXPECT_EQ(fill_placeholders("run {adapter_path} {x} {adapter_path}", {{"adapter_path", "a b"}}),
            "run a b {x} a b");
  auto outcome = run_command("printf %s " + shell_quote("it's $HOME"), 5s);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->output, "it's $HOME");
}

}  // namespace
}  // namespace bftgate::validation
