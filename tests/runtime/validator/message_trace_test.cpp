// The validator's message trace: what the writer writes the reader reads back; a torn last line
// (a killed validator) is left out; anything else malformed is refused with its line.
#include "bftgate/runtime/validator/message_trace.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "bftgate/core/signer.hpp"
#include "test_dirs.hpp"

namespace bftgate::runtime {
namespace {

class FixedSigner final : public bft::Signer {
 public:
  explicit FixedSigner(bft::PrincipalId id) : id_(id) {}
  bft::PrincipalId id() const override { return id_; }
  crypto::Signature sign(crypto::Domain, ByteView) const override { return {}; }

 private:
  bft::PrincipalId id_;
};

TEST(MessageTrace, WhatIsWrittenIsReadBackWithTheBatchesRequests) {
  FixedSigner client(bft::kOperatorPrincipal), primary(0);
  auto r7 = bft::make_message(client, bft::Request{7, {}});
  auto r9 = bft::make_message(client, bft::Request{9, {}});
  auto pp =
      bft::make_message(primary, bft::PrePrepare{2, 41, bft::batch_digest_of({r9, r7}), {r9, r7}});
  auto commit = bft::make_message(primary, bft::Commit{2, 41, {}});
  const auto at = std::chrono::steady_clock::now();
  const std::vector<TraceRecord> written = {
      TraceRecord::of(*pp, 3, at), TraceRecord::of(*commit, 1, at), TraceRecord::of(*r7, 1, at)};
  EXPECT_EQ(written[0].seq, 41u);
  EXPECT_EQ(written[0].view, 2u);
  EXPECT_EQ(written[0].first_request, 7u);
  EXPECT_EQ(written[0].last_request, 9u);
  EXPECT_EQ(written[2].first_request, 7u);

  bftgate::TempDir dir;
  auto writer = MessageTraceWriter::open(dir.path() / "t");
  ASSERT_TRUE(writer.ok()) << writer.error().message;
  for (const auto& r : written) writer->record(r);
  writer->flush();
  std::ifstream in(dir.path() / "t");
  auto read = read_message_trace(in);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(*read, written);
}

const std::string kHeader =
    "# bftgate message trace v1: t_ns,type,sender,view,seq,checks,first_request,last_request\n";

TEST(MessageTrace, ATornLastLineIsLeftOut) {
  std::istringstream in(kHeader + "10,3,1,0,5,1,0,0\n11,4,1,0,5,1,0,0\n12,4,2,0,5");
  auto read = read_message_trace(in);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->size(), 2u);
}

TEST(MessageTrace, RefusesWhatIsNotATraceNamingTheLine) {
  for (const auto& text :
       {std::string(""), std::string("t_ns,type\n1,2\n"), kHeader + "10,3,1,0,5,1,0\n",
        kHeader + "10,3,1,0,5,1,0,0,9\n", kHeader + "10,0,1,0,5,1,0,0\n",
        kHeader + "10,99,1,0,5,1,0,0\n", kHeader + "10,3,99999999999,0,5,1,0,0\n",
        kHeader + "a,3,1,0,5,1,0,0\n", kHeader + "10,3,1,0,5,1,0,-1\n"}) {
    std::istringstream in(text);
    auto read = read_message_trace(in);
    EXPECT_FALSE(read.ok()) << text;
  }
  std::istringstream many(kHeader + "1,3,1,0,1,1,0,0\n2,3,1,0,2,1,0,0\n3,3,1,0,3,1,0,0\n");
  auto bounded = read_message_trace(many, 2);
  ASSERT_FALSE(bounded.ok());
  EXPECT_NE(bounded.error().message.find("more than 2"), std::string::npos);
}

}  // namespace
}  // namespace bftgate::runtime
