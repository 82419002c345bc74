// The register tests' fixture (register_test.cpp, register_votes_test.cpp): a register over a
// generated cluster, with helpers that propose, vote and check refusals and certificates.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "bftgate/register/register.hpp"
#include "register_test_support.hpp"

namespace bftgate::bft::testing {

class RegisterTest : public ::testing::Test {
 protected:
  void use(std::size_t n, FaultModel model = FaultModel::kBft) {
    cluster_ = std::make_unique<RegisterTestCluster>(n, model);
    register_ = std::make_unique<AdapterRegister>(cluster_->config());
  }
  void SetUp() override { use(4); }

  AdapterRegister& reg() { return *register_; }
  const RegisterTestCluster& cluster() const { return *cluster_; }

  RegisterReply propose(std::uint64_t version) { return submit(reg(), cluster().propose(version)); }
  // `validator`'s honest vote on the entry with `version` (which must exist).
  RegisterReply vote(std::uint32_t validator, std::uint64_t version, Verdict verdict) {
    const auto* entry = reg().entry(version);
    EXPECT_NE(entry, nullptr);
    return submit(reg(), cluster().vote(validator, *entry, verdict), validator);
  }
  // Copies the entry: the register may reallocate its entries.
  RegisterEntry entry(std::uint64_t version) {
    const auto* found = reg().entry(version);
    EXPECT_NE(found, nullptr) << "no entry for version " << version;
    return found == nullptr ? RegisterEntry{} : *found;
  }

  // Applies `operation`, expects it refused with `reason_part`, and checks that only the log
  // changed: one more record, invalid, with that reason.
  void expect_refused(ByteView operation, std::string_view reason_part) {
    auto entries_before = reg().entries();
    auto log_before = reg().log().size();
    auto reply = submit(reg(), operation, 42);
    EXPECT_FALSE(reply.valid);
    EXPECT_TRUE(contains(reply.reason, reason_part)) << "reason: " << reply.reason;
    EXPECT_EQ(reg().entries(), entries_before);
    ASSERT_EQ(reg().log().size(), log_before + 1);
    const auto& record = reg().log().back();
    EXPECT_FALSE(record.valid);
    EXPECT_EQ(record.reason, reply.reason);
    EXPECT_EQ(record.client, 42u);
    EXPECT_EQ(record.operation_digest, crypto::sha256(operation));
  }

  void expect_certificate_verifies(const RegisterEntry& released) {
    ASSERT_EQ(released.state, EntryState::kReleaseCommit);
    ASSERT_TRUE(released.certificate.has_value());
    const auto& certificate = *released.certificate;
    auto verdict = crypto::verify(certificate, cluster().config().validator_set(),
                                  {.threads = 1, .artifact_digest = released.artifact_digest});
    EXPECT_TRUE(verdict.ok()) << verdict.reason;
    EXPECT_EQ(certificate.statement, release_statement(cluster().config(), released));
    EXPECT_EQ(certificate.statement.previous_entry_hash, released.previous_entry_hash);
    EXPECT_EQ(certificate.statement.adapter_version, released.version);
    // Its signers are exactly the PASS voters.
    std::vector<std::uint32_t> pass_voters;
    for (const auto& v : released.votes) {
      if (v.verdict == Verdict::kPass) pass_voters.push_back(v.validator);
    }
    std::sort(pass_voters.begin(), pass_voters.end());
    EXPECT_EQ(certificate.signers().ids(), pass_voters);
    EXPECT_GE(pass_voters.size(), cluster().quorum());
  }

  std::unique_ptr<RegisterTestCluster> cluster_;
  std::unique_ptr<AdapterRegister> register_;
};

}  // namespace bftgate::bft::testing
