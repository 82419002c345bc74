#include "bftgate/core/client_table.hpp"

#include <gtest/gtest.h>

namespace bftgate::bft {
namespace {

Bytes result(std::uint64_t id) {
  return Bytes{static_cast<std::uint8_t>(id), static_cast<std::uint8_t>(id >> 8)};
}

TEST(ClientTable, RemembersExecutedIdsInAnyOrder) {
  ClientTable table;
  EXPECT_EQ(table.seen(7, 10), ClientTable::Seen::kNew);
  table.record(7, 10, result(10));
  EXPECT_EQ(table.seen(7, 10), ClientTable::Seen::kExecuted);
  EXPECT_EQ(table.seen(7, 5), ClientTable::Seen::kNew);  // lower, but never executed
  table.record(7, 5, result(5));
  EXPECT_EQ(table.seen(7, 5), ClientTable::Seen::kExecuted);
  ASSERT_NE(table.result(7, 5), nullptr);
  EXPECT_EQ(*table.result(7, 5), result(5));
  EXPECT_EQ(table.seen(8, 10), ClientTable::Seen::kNew);  // per client
  EXPECT_EQ(table.result(8, 10), nullptr);
}

TEST(ClientTable, IdsBelowAFullWindowAreTooOldToTell) {
  ClientTable table;
  for (std::uint64_t id = 1000; id < 1000 + ClientTable::kWindow; ++id)
    table.record(1, id, result(id));
  EXPECT_EQ(table.seen(1, 999), ClientTable::Seen::kTooOld);
  EXPECT_EQ(table.seen(1, 1000), ClientTable::Seen::kExecuted);
  table.record(1, 5000, result(5000));  // the oldest falls out of the window
  EXPECT_EQ(table.seen(1, 1000), ClientTable::Seen::kTooOld);
  EXPECT_EQ(table.result(1, 1000), nullptr);
  EXPECT_EQ(table.seen(1, 1001), ClientTable::Seen::kExecuted);
  EXPECT_EQ(table.seen(1, 2000), ClientTable::Seen::kNew);  // inside the window, never executed
}

TEST(ClientTable, TellsTheHighestIdExecutedPerClient) {
  ClientTable table;
  EXPECT_EQ(table.highest(7), 0u);
  table.record(7, 40, {});
  table.record(7, 12, {});
  table.record(8, 99, {});
  EXPECT_EQ(table.highest(7), 40u);
  EXPECT_EQ(table.highest(8), 99u);
  EXPECT_EQ(table.highest(9), 0u);
}

TEST(ClientTable, EncodesAndDecodesExactly) {
  ClientTable table;
  table.record(1, 3, result(3));
  table.record(1, 9, result(9));
  table.record(0x80000000u, 1, Bytes{});
  crypto::Encoder encoder;
  table.encode(encoder);
  auto bytes = encoder.take();
  crypto::Decoder decoder(bytes);
  auto decoded = ClientTable::decode(decoder);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  decoder.expect_end("table");
  EXPECT_EQ(decoded.value(), table);
}

TEST(ClientTable, DecodingRefusesTablesItCouldNotHaveWritten) {
  const auto decode = [](const Bytes& bytes) {
    crypto::Decoder decoder(bytes);
    try {
      return ClientTable::decode(decoder).ok();
    } catch (const crypto::DecodeError&) {
      return false;
    }
  };
  crypto::Encoder unordered;
  unordered.u32(1).u32(1).u32(2).u64(9).bytes(Bytes{}).u64(3).bytes(Bytes{});
  EXPECT_FALSE(decode(unordered.take()));
  crypto::Encoder empty_client;
  empty_client.u32(1).u32(1).u32(0);
  EXPECT_FALSE(decode(empty_client.take()));
  crypto::Encoder over_window;
  over_window.u32(1).u32(1).u32(static_cast<std::uint32_t>(ClientTable::kWindow + 1));
  EXPECT_FALSE(decode(over_window.take()));
  crypto::Encoder truncated;
  truncated.u32(2).u32(1).u32(1).u64(1);
  EXPECT_FALSE(decode(truncated.take()));
}

}  // namespace
}  // namespace bftgate::bft
