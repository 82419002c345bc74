// The write-ahead log of a validator: append-only, checksummed records, fsync'd before the
// messages that depend on them leave. A crash can leave a torn last record; opening the log
// truncates it and keeps every complete record. A bad record followed by intact ones is not a
// torn write but corruption: opening refuses the log, naming the offset, rather than cut off
// the records after it.
//
// File layout: "BFTGWAL2" then records, each  u32 length | u32 checksum of the payload | payload,
// the checksum being crypto::record_checksum (SipHash-2-4, 5.7 times faster than CRC-32 here: the
// CRC was a seventh of a loaded validator's CPU). A log in the first format ("BFTGWAL1", CRC-32)
// is still read and appended to in its own format; compaction rewrites it in the current one.
// A current-format log may end in zeros written ahead of its last record (WalOptions): an
// all-zero frame (an empty payload, checksum 0) is no record there, as the empty payload's
// checksum is not 0; in the first format it is one (CRC-32 of nothing is 0), so those logs are
// never written ahead.
// Compaction rewrites the log (temp file, fsync, rename, fsync of the directory) so that it
// starts at the newest stable checkpoint.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "bftgate/base/bytes.hpp"
#include "bftgate/base/result.hpp"

namespace bftgate::runtime {

enum class WalFormat { kCrc32 = 1, kSipHash = 2 };

struct WalOptions {
  // Keep this many zero bytes written ahead of the last record (a log in the current format
  // only): appends then overwrite allocated blocks without growing the file, so an fdatasync
  // need not commit the file's size through the journal (29% faster here). 0: grow as written.
  std::uint64_t preallocate = 0;
};

struct WalRecovery {
  std::vector<Bytes> records;
  std::uint64_t truncated_bytes = 0;  // a torn tail that was cut off
};

class WriteAheadLog {
 public:
  static constexpr std::size_t kMaxRecord = 256 << 20;

  // Opens (creating if absent) the log at `path`, returning it and every complete record in it.
  // Zero bytes after the last record are space written ahead (WalOptions::preallocate), not a
  // torn tail: they are kept and the next record overwrites them.
  static Result<std::pair<WriteAheadLog, WalRecovery>> open(const std::filesystem::path& path,
                                                            WalOptions options = {});

  WriteAheadLog(WriteAheadLog&& other) noexcept;
  WriteAheadLog& operator=(WriteAheadLog&& other) noexcept;
  WriteAheadLog(const WriteAheadLog&) = delete;
  WriteAheadLog& operator=(const WriteAheadLog&) = delete;
  ~WriteAheadLog();

  // Appends records (buffered); nothing is durable until sync().
  Status append(ByteView record);
  // Writes what was appended to the file without syncing it: it survives the process, not the
  // machine, until the next sync().
  Status write();
  // Makes everything appended or written durable (one fsync for the whole batch).
  Status sync();
  // Whether anything appended or written is not durable yet.
  bool unsynced() const { return !buffer_.empty() || written_unsynced_; }
  // Replaces the whole log with `records` atomically (compaction).
  Status rewrite(const std::vector<Bytes>& records);

  std::uint64_t size_bytes() const { return size_; }
  std::uint64_t syncs() const { return syncs_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  WriteAheadLog(std::filesystem::path path, int fd, std::uint64_t size, std::uint64_t allocated,
                WalFormat format, WalOptions options)
      : path_(std::move(path)),
        fd_(fd),
        size_(size),
        allocated_(allocated),
        format_(format),
        options_(options) {}
  Status flush_buffer();
  Status preallocate_for(std::uint64_t end);

  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;       // up to the end of the last record
  std::uint64_t allocated_ = 0;  // the file's size: zeros from size_ on
  std::uint64_t syncs_ = 0;
  WalFormat format_ = WalFormat::kSipHash;
  WalOptions options_;
  Bytes buffer_;
  bool written_unsynced_ = false;
};

// The framing of one record, and a log's header (exposed for tests and tools).
Bytes frame_record(ByteView payload, WalFormat format = WalFormat::kSipHash);
Bytes wal_header(WalFormat format = WalFormat::kSipHash);

}  // namespace bftgate::runtime
