#include "bftgate/runtime/validator/wal.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "../core/test_cluster.hpp"
#include "bftgate/core/persist_codec.hpp"
#include "bftgate/crypto/checksum.hpp"
#include "test_dirs.hpp"

namespace bftgate::runtime {
namespace {

Bytes bytes_of(const std::string& s) {
  return Bytes(s.begin(), s.end());
}

std::vector<Bytes> reopen(const std::filesystem::path& path, std::uint64_t* truncated = nullptr) {
  auto opened = WriteAheadLog::open(path);
  EXPECT_TRUE(opened.ok()) << opened.error().message;
  if (truncated != nullptr) *truncated = opened->second.truncated_bytes;
  return opened->second.records;
}

void append_raw(const std::filesystem::path& path, ByteView bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

TEST(WriteAheadLog, RecordsSurviveReopening) {
  TempDir dir;
  auto path = dir.path() / "wal.log";
  {
    auto opened = WriteAheadLog::open(path);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    EXPECT_TRUE(opened->second.records.empty());
    auto& wal = opened->first;
    ASSERT_TRUE(wal.append(bytes_of("first")).ok());
    ASSERT_TRUE(wal.append(bytes_of("")).ok());
    ASSERT_TRUE(wal.append(Bytes(100'000, 7)).ok());
    ASSERT_TRUE(wal.sync().ok());
    EXPECT_EQ(wal.syncs(), 1u);  // one fsync for the batch
  }
  auto records = reopen(path);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0], bytes_of("first"));
  EXPECT_TRUE(records[1].empty());
  EXPECT_EQ(records[2], Bytes(100'000, 7));
}

// A log written in the first format (CRC-32 checksums) still opens with every record, takes
// appends in its own format, and moves to the current format when compaction rewrites it.
TEST(WriteAheadLog, ALogInTheFirstFormatIsReadAppendedToAndRewrittenInTheCurrentOne) {
  TempDir dir;
  auto path = dir.path() / "wal.log";
  append_raw(path, wal_header(WalFormat::kCrc32));
  append_raw(path, frame_record(bytes_of("old one"), WalFormat::kCrc32));
  append_raw(path, frame_record(Bytes(5000, 3), WalFormat::kCrc32));
  {
    auto opened = WriteAheadLog::open(path);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    ASSERT_EQ(opened->second.records.size(), 2u);
    EXPECT_EQ(opened->second.truncated_bytes, 0u);
    ASSERT_TRUE(opened->first.append(bytes_of("appended")).ok());
    ASSERT_TRUE(opened->first.sync().ok());
  }
  auto records = reopen(path);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2], bytes_of("appended"));
  {
    auto opened = WriteAheadLog::open(path);
    ASSERT_TRUE(opened.ok());
    ASSERT_TRUE(opened->first.rewrite({bytes_of("kept")}).ok());
    ASSERT_TRUE(opened->first.append(bytes_of("after")).ok());
    ASSERT_TRUE(opened->first.sync().ok());
  }
  std::ifstream in(path, std::ios::binary);
  std::string header(8, '\0');
  in.read(header.data(), 8);
  auto current = wal_header();
  EXPECT_EQ(header, std::string(current.begin(), current.end()));
  records = reopen(path);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1], bytes_of("after"));
}

// The checksum belongs to the file's format: a record framed for the other one reads as torn.
TEST(WriteAheadLog, ARecordFramedInTheOtherFormatIsNotTakenForIntact) {
  TempDir dir;
  auto path = dir.path() / "wal.log";
  append_raw(path, wal_header());
  append_raw(path, frame_record(bytes_of("current")));
  append_raw(path, frame_record(bytes_of("crc-32 framed"), WalFormat::kCrc32));
  std::uint64_t truncated = 0;
  auto records = reopen(path, &truncated);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0], bytes_of("current"));
  EXPECT_GT(truncated, 0u);
}

TEST(WriteAheadLog, UnsyncedRecordsAreNotOnDisk) {
  TempDir dir;
  auto path = dir.path() / "wal.log";
  auto opened = WriteAheadLog::open(path);
  ASSERT_TRUE(opened.ok());
  ASSERT_TRUE(opened->first.append(bytes_of("buffered")).ok());
  EXPECT_TRUE(reopen(path).empty());
  ASSERT_TRUE(opened->first.sync().ok());
  EXPECT_EQ(reopen(path).size(), 1u);
}

// write() hands the records to the file (a process that dies now keeps them) without a sync; the
// next sync() covers them with whatever was appended since, in one fdatasync.
TEST(WriteAheadLog, WrittenRecordsAreInTheFileAndTheNextSyncCoversThem) {
  TempDir dir;
  auto path = dir.path() / "wal.log";
  auto opened = WriteAheadLog::open(path);
  ASSERT_TRUE(opened.ok());
  auto& wal = opened->first;
  EXPECT_FALSE(wal.unsynced());
  ASSERT_TRUE(wal.append(bytes_of("executed")).ok());
  ASSERT_TRUE(wal.write().ok());
  EXPECT_EQ(reopen(path).size(), 1u);
  EXPECT_TRUE(wal.unsynced());
  EXPECT_EQ(wal.syncs(), 0u);
  ASSERT_TRUE(wal.sync().ok());
  EXPECT_EQ(wal.syncs(), 1u);
  EXPECT_FALSE(wal.unsynced());
  ASSERT_TRUE(wal.sync().ok());
  EXPECT_EQ(wal.syncs(), 1u);  // nothing new: no fdatasync
  ASSERT_TRUE(wal.append(bytes_of("a")).ok());
  ASSERT_TRUE(wal.write().ok());
  ASSERT_TRUE(wal.append(bytes_of("b")).ok());
  ASSERT_TRUE(wal.sync().ok());
  EXPECT_EQ(wal.syncs(), 2u);
  EXPECT_EQ(reopen(path), (std::vector<Bytes>{bytes_of("executed"), bytes_of("a"), bytes_of("b")}));
}

TEST(WriteAheadLog, TornTailIsTruncatedAndAppendingContinues) {
  TempDir dir;
  auto path = dir.path() / "wal.log";
  {
    auto opened = WriteAheadLog::open(path);
    ASSERT_TRUE(opened.ok());
    ASSERT_TRUE(opened->first.append(bytes_of("complete-1")).ok());
    ASSERT_TRUE(opened->first.append(bytes_of("complete-2")).ok());
    ASSERT_TRUE(opened->first.sync().ok());
  }
  // A crash in the middle of writing the third record: only part of its frame reached the disk.
  auto torn = frame_record(bytes_of("the third record, cut short"));
  for (std::size_t cut : {std::size_t{3}, std::size_t{8}, torn.size() - 1}) {
    auto before = std::filesystem::file_size(path);
    append_raw(path, ByteView(torn).first(cut));
    std::uint64_t truncated = 0;
    auto records = reopen(path, &truncated);
    ASSERT_EQ(records.size(), 2u) << "cut " << cut;
    EXPECT_EQ(truncated, cut);
    EXPECT_EQ(std::filesystem::file_size(path), before);
  }
  {
    auto opened = WriteAheadLog::open(path);
    ASSERT_TRUE(opened.ok());
    ASSERT_TRUE(opened->first.append(bytes_of("after-recovery")).ok());
    ASSERT_TRUE(opened->first.sync().ok());
  }
  auto records = reopen(path);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2], bytes_of("after-recovery"));
}

// Written ahead, the log keeps zeros after its last record: appends overwrite them without
// growing the file, reopening keeps them (they are no torn tail), and a record torn while being
// written over them is cut off like any other.
TEST(WriteAheadLog, SpaceWrittenAheadIsKeptOverwrittenAndNeverTakenForATornTail) {
  TempDir dir;
  auto path = dir.path() / "wal.log";
  const WalOptions ahead{.preallocate = 4096};
  // What makes zeros unambiguous: an all-zero frame would be an empty payload with checksum 0.
  ASSERT_NE(crypto::record_checksum(ByteView{}), 0u);
  std::uint64_t logical = 0;
  {
    auto opened = WriteAheadLog::open(path, ahead);
    ASSERT_TRUE(opened.ok());
    auto& wal = opened->first;
    ASSERT_TRUE(wal.append(bytes_of("first")).ok());
    ASSERT_TRUE(wal.sync().ok());
    logical = wal.size_bytes();
    EXPECT_EQ(logical, 8u + 8 + 5);
    EXPECT_EQ(std::filesystem::file_size(path), logical + 4096);
    ASSERT_TRUE(wal.append(bytes_of("second")).ok());
    ASSERT_TRUE(wal.sync().ok());
    EXPECT_EQ(std::filesystem::file_size(path), logical + 4096);  // overwritten, not grown
    logical = wal.size_bytes();
  }
  std::uint64_t truncated = 1;
  EXPECT_EQ(reopen(path, &truncated), (std::vector<Bytes>{bytes_of("first"), bytes_of("second")}));
  EXPECT_EQ(truncated, 0u);
  {
    auto opened = WriteAheadLog::open(path, ahead);
    ASSERT_TRUE(opened.ok());
    EXPECT_EQ(opened->first.size_bytes(), logical);
    ASSERT_TRUE(opened->first.append(Bytes(5000, 9)).ok());  // beyond what was written ahead
    ASSERT_TRUE(opened->first.sync().ok());
    logical = opened->first.size_bytes();
    EXPECT_EQ(std::filesystem::file_size(path), logical + 4096);
  }
  ASSERT_EQ(reopen(path).size(), 3u);
  // A crash while the fourth record was being written: part of its frame lies over the zeros.
  auto torn = frame_record(bytes_of("the fourth record, cut short"));
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, torn.data(), 10, static_cast<off_t>(logical)), 10);
  ::close(fd);
  auto records = reopen(path, &truncated);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(truncated, 10u + 4096 - 10);  // the torn frame and the zeros after it
  EXPECT_EQ(std::filesystem::file_size(path), logical);
  // A log in the first format is never written ahead: an all-zero frame is a record there.
  auto old_path = dir.path() / "old.log";
  append_raw(old_path, wal_header(WalFormat::kCrc32));
  {
    auto opened = WriteAheadLog::open(old_path, ahead);
    ASSERT_TRUE(opened.ok());
    ASSERT_TRUE(opened->first.append(bytes_of("old")).ok());
    ASSERT_TRUE(opened->first.sync().ok());
    EXPECT_EQ(std::filesystem::file_size(old_path), opened->first.size_bytes());
  }
  EXPECT_EQ(reopen(old_path).size(), 1u);
}

TEST(WriteAheadLog, CorruptionInTheMiddleIsRefusedNotCutOff) {
  TempDir dir;
  auto path = dir.path() / "wal.log";
  {
    auto opened = WriteAheadLog::open(path);
    ASSERT_TRUE(opened.ok());
    for (const char* r : {"a", "b", "c"}) ASSERT_TRUE(opened->first.append(bytes_of(r)).ok());
    ASSERT_TRUE(opened->first.sync().ok());
  }
  // Flip the payload byte of record "b": its checksum fails, and intact "c" follows it.
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  off_t offset = 8 + (8 + 1) + 8;
  char flipped = 'x';
  ASSERT_EQ(::pwrite(fd, &flipped, 1, offset), 1);
  ::close(fd);
  auto size = std::filesystem::file_size(path);
  auto opened = WriteAheadLog::open(path);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("record at byte 17 is corrupt"), std::string::npos)
      << opened.error().message;
  EXPECT_NE(opened.error().message.find("1 intact record(s) follow"), std::string::npos)
      << opened.error().message;
  EXPECT_NE(opened.error().message.find("--recover-from-peers"), std::string::npos);
  EXPECT_EQ(std::filesystem::file_size(path), size);  // nothing was cut off
}

TEST(WriteAheadLog, ACorruptLastRecordIsATornTail) {
  TempDir dir;
  auto path = dir.path() / "wal.log";
  {
    auto opened = WriteAheadLog::open(path);
    ASSERT_TRUE(opened.ok());
    for (const char* r : {"a", "b", "c"}) ASSERT_TRUE(opened->first.append(bytes_of(r)).ok());
    ASSERT_TRUE(opened->first.sync().ok());
  }
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  off_t offset = 8 + 2 * (8 + 1) + 8;  // the payload of "c"
  char flipped = 'x';
  ASSERT_EQ(::pwrite(fd, &flipped, 1, offset), 1);
  ::close(fd);
  std::uint64_t truncated = 0;
  auto records = reopen(path, &truncated);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1], bytes_of("b"));
  EXPECT_EQ(truncated, 8u + 1);
}

TEST(WriteAheadLog, RefusesAFileThatIsNotAWal) {
  TempDir dir;
  auto path = dir.path() / "notes.txt";
  append_raw(path, bytes_of("hello, world"));
  auto opened = WriteAheadLog::open(path);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("not a bftgate write-ahead log"), std::string::npos);
  EXPECT_EQ(std::filesystem::file_size(path), 12u);  // left untouched
}

TEST(WriteAheadLog, RewriteCompactsAtomically) {
  TempDir dir;
  auto path = dir.path() / "wal.log";
  auto opened = WriteAheadLog::open(path);
  ASSERT_TRUE(opened.ok());
  auto& wal = opened->first;
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(wal.append(Bytes(1000, static_cast<std::uint8_t>(i))).ok());
  ASSERT_TRUE(wal.sync().ok());
  auto big = wal.size_bytes();
  ASSERT_TRUE(wal.rewrite({bytes_of("checkpoint"), bytes_of("after")}).ok());
  EXPECT_LT(wal.size_bytes(), big / 10);
  ASSERT_TRUE(wal.append(bytes_of("newest")).ok());
  ASSERT_TRUE(wal.sync().ok());
  auto records = reopen(path);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0], bytes_of("checkpoint"));
  EXPECT_EQ(records[2], bytes_of("newest"));
}

// A replica's persisted records through the codec and the WAL rebuild the same replica.
TEST(WriteAheadLog, ReplicaRecoversThroughTheLog) {
  bft::testing::TestCluster cluster(4);
  for (int i = 1; i <= 22; ++i) {
    cluster.submit(cluster.request(static_cast<std::uint64_t>(i), "op-" + std::to_string(i)));
    cluster.advance(bft::Duration(5'000));
  }
  TempDir dir;
  auto path = dir.path() / "replica-1.wal";
  {
    auto opened = WriteAheadLog::open(path);
    ASSERT_TRUE(opened.ok());
    for (const auto& record : cluster.disks[1])
      ASSERT_TRUE(opened->first.append(bft::encode_record(record)).ok());
    ASSERT_TRUE(opened->first.sync().ok());
  }
  std::vector<bft::PersistRecord> recovered;
  for (const auto& bytes : reopen(path)) {
    auto record = bft::decode_record(bytes);
    ASSERT_TRUE(record.ok()) << record.error().message;
    EXPECT_EQ(bft::encode_record(*record), bytes);
    recovered.push_back(std::move(record.value()));
  }
  ASSERT_EQ(recovered.size(), cluster.disks[1].size());
  cluster.disks[1] = std::move(recovered);
  auto before = cluster.apps[1]->applied;
  cluster.crash(1);
  cluster.start(1, /*recover=*/true);
  EXPECT_EQ(cluster.apps[1]->applied, before);
  EXPECT_EQ(cluster.replicas[1]->stable_seq(), cluster.replicas[0]->stable_seq());
}

TEST(PersistCodec, RefusesMalformedRecords) {
  EXPECT_FALSE(bft::decode_record(Bytes{}).ok());
  EXPECT_FALSE(bft::decode_record(Bytes{9, 0}).ok());        // unknown format
  EXPECT_FALSE(bft::decode_record(Bytes{1, 77}).ok());       // unknown kind
  EXPECT_FALSE(bft::decode_record(Bytes{1, 0, 1, 2}).ok());  // truncated view
  bft::PersistRecord view;
  view.view = 3;
  auto bytes = bft::encode_record(view);
  bytes.push_back(0);
  EXPECT_FALSE(bft::decode_record(bytes).ok());  // trailing byte
}

}  // namespace
}  // namespace bftgate::runtime
