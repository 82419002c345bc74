#include "bftgate/base/encoding.hpp"

#include <gtest/gtest.h>

namespace bftgate::crypto {
namespace {

TEST(Encoding, RoundTripsEveryFieldType) {
  Encoder encoder;
  std::array<std::uint8_t, 4> raw = {1, 2, 3, 4};
  encoder.u8(0xab)
      .u16(0x1234)
      .u32(0xdeadbeef)
      .u64(0x0102030405060708ULL)
      .boolean(true)
      .boolean(false)
      .fixed(raw)
      .bytes(Bytes{9, 8, 7})
      .str("hello")
      .str("");
  Decoder decoder(encoder.data());
  EXPECT_EQ(decoder.u8("a"), 0xab);
  EXPECT_EQ(decoder.u16("b"), 0x1234);
  EXPECT_EQ(decoder.u32("c"), 0xdeadbeefu);
  EXPECT_EQ(decoder.u64("d"), 0x0102030405060708ULL);
  EXPECT_TRUE(decoder.boolean("e"));
  EXPECT_FALSE(decoder.boolean("f"));
  EXPECT_EQ(decoder.fixed_array<4>("g"), raw);
  EXPECT_EQ(decoder.bytes(16, "h"), (Bytes{9, 8, 7}));
  EXPECT_EQ(decoder.str(16, "i"), "hello");
  EXPECT_EQ(decoder.str(16, "j"), "");
  EXPECT_NO_THROW(decoder.expect_end("record"));
}

TEST(Encoding, IntegersAreLittleEndianFixedWidth) {
  Encoder encoder;
  encoder.u32(0x01020304).u16(0x0506);
  EXPECT_EQ(encoder.data(), (Bytes{0x04, 0x03, 0x02, 0x01, 0x06, 0x05}));
}

TEST(Encoding, LengthPrefixIsU32) {
  Encoder encoder;
  encoder.str("ab");
  EXPECT_EQ(encoder.data(), (Bytes{2, 0, 0, 0, 'a', 'b'}));
}

TEST(Encoding, TruncationAtEveryByteIsRefused) {
  Encoder encoder;
  encoder.u64(42).str("payload").u32(7);
  const auto& full = encoder.data();
  for (std::size_t cut = 0; cut < full.size(); ++cut) {
    Decoder decoder(ByteView(full).first(cut));
    EXPECT_THROW(
        {
          decoder.u64("version");
          decoder.str(64, "name");
          decoder.u32("count");
        },
        DecodeError)
        << "cut at " << cut;
  }
}

TEST(Encoding, TruncationErrorNamesTheField) {
  Bytes two = {1, 2};
  Decoder decoder(two);
  try {
    decoder.u32("adapter_version");
    FAIL() << "expected a DecodeError";
  } catch (const DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("adapter_version"), std::string::npos);
  }
}

TEST(Encoding, TrailingBytesAreRefused) {
  Bytes input = {1, 0};
  Decoder decoder(input);
  decoder.u8("x");
  EXPECT_THROW(decoder.expect_end("record"), DecodeError);
}

TEST(Encoding, NonCanonicalBooleanIsRefused) {
  Bytes input = {2};
  Decoder decoder(input);
  EXPECT_THROW(decoder.boolean("flag"), DecodeError);
}

TEST(Encoding, LengthAboveLimitIsRefusedBeforeReading) {
  Encoder encoder;
  encoder.u32(0xffffffff);  // a hostile length with no data behind it
  Decoder decoder(encoder.data());
  EXPECT_THROW(decoder.bytes(1024, "blob"), DecodeError);
}

TEST(Encoding, SigningMessageLayout) {
  Bytes body = {0xaa, 0xbb};
  auto message = signing_message(Domain::kCheckpoint, body);
  EXPECT_EQ(message, (Bytes{'B', 'F', 'T', 'G', kEncodingVersion, 5, 0, 0xaa, 0xbb}));
  EXPECT_NE(signing_message(Domain::kRegisterVote, body),
            signing_message(Domain::kProtocolMessage, body));
}

}  // namespace
}  // namespace bftgate::crypto
