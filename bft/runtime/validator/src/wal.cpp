#include "bftgate/runtime/validator/wal.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/crc.hpp>
#include <cerrno>
#include <cstring>

#include "bftgate/crypto/checksum.hpp"
#include "bftgate/io/file_io.hpp"

namespace bftgate::runtime {

namespace {
// The header names the format; the formats differ only in the records' checksum.
constexpr std::array<std::uint8_t, 8> kMagicCrc32 = {'B', 'F', 'T', 'G', 'W', 'A', 'L', '1'};
constexpr std::array<std::uint8_t, 8> kMagic = {'B', 'F', 'T', 'G', 'W', 'A', 'L', '2'};
constexpr std::size_t kFrameHeader = 8;

std::uint32_t checksum(WalFormat format, ByteView bytes) {
  if (format == WalFormat::kCrc32) {
    boost::crc_32_type crc;
    crc.process_bytes(bytes.data(), bytes.size());
    return crc.checksum();
  }
  return crypto::record_checksum(bytes);
}

const std::array<std::uint8_t, 8>& magic_of(WalFormat format) {
  return format == WalFormat::kCrc32 ? kMagicCrc32 : kMagic;
}

void put_u32(Bytes& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::uint32_t get_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

// How many well-formed records chain from `offset` (a torn record may end them).
std::size_t intact_records_from(WalFormat format, const Bytes& content, std::size_t offset) {
  std::size_t count = 0;
  while (offset + kFrameHeader <= content.size()) {
    auto length = get_u32(content.data() + offset);
    if (length > WriteAheadLog::kMaxRecord || offset + kFrameHeader + length > content.size())
      break;
    ByteView payload(content.data() + offset + kFrameHeader, length);
    if (checksum(format, payload) != get_u32(content.data() + offset + 4)) break;
    ++count;
    offset += kFrameHeader + length;
  }
  return count;
}

std::string os_error(std::string_view what, const std::filesystem::path& path) {
  return fmt::format("{} {}: {}", what, path.string(), std::strerror(errno));
}

Status write_all(int fd, ByteView bytes, const std::filesystem::path& path) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(os_error("cannot write", path));
    done += static_cast<std::size_t>(n);
  }
  return ok_status();
}

Status fsync_directory(const std::filesystem::path& file) {
  auto dir = file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail(os_error("cannot open directory", dir));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return fail(os_error("cannot fsync directory", dir));
  return ok_status();
}
}  // namespace

Bytes frame_record(ByteView payload, WalFormat format) {
  Bytes out;
  out.reserve(kFrameHeader + payload.size());
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  put_u32(out, checksum(format, payload));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Bytes wal_header(WalFormat format) {
  const auto& magic = magic_of(format);
  return Bytes(magic.begin(), magic.end());
}

Result<std::pair<WriteAheadLog, WalRecovery>> WriteAheadLog::open(const std::filesystem::path& path,
                                                                  WalOptions options) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Error{os_error("cannot open write-ahead log", path)};
  auto close_on_error = [fd](Error e) {
    ::close(fd);
    return e;
  };
  struct stat info {};
  if (::fstat(fd, &info) != 0) return close_on_error(Error{os_error("cannot stat", path)});
  auto file_size = static_cast<std::uint64_t>(info.st_size);

  WalRecovery recovery;
  std::uint64_t good = 0;
  std::uint64_t allocated = 0;
  auto format = WalFormat::kSipHash;
  if (file_size == 0) {
    if (auto s = write_all(fd, kMagic, path); !s) return close_on_error(s.error());
    if (::fsync(fd) != 0) return close_on_error(Error{os_error("cannot fsync", path)});
    if (auto s = fsync_directory(path); !s) return close_on_error(s.error());
    good = kMagic.size();
  } else {
    Bytes content(file_size);
    std::size_t done = 0;
    while (done < content.size()) {
      auto n = ::pread(fd, content.data() + done, content.size() - done, static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return close_on_error(Error{os_error("cannot read", path)});
      done += static_cast<std::size_t>(n);
    }
    const auto has = [&](const std::array<std::uint8_t, 8>& magic) {
      return content.size() >= magic.size() &&
             std::equal(magic.begin(), magic.end(), content.begin());
    };
    if (has(kMagicCrc32)) {
      format = WalFormat::kCrc32;  // appends keep the file's format; compaction moves it on
    } else if (!has(kMagic)) {
      return close_on_error(
          Error{fmt::format("{} is not a bftgate write-ahead log (bad header)", path.string())});
    }
    good = kMagic.size();
    while (good + kFrameHeader <= content.size()) {
      auto length = get_u32(content.data() + good);
      auto stored = get_u32(content.data() + good + 4);
      if (length > kMaxRecord || good + kFrameHeader + length > content.size()) break;
      ByteView payload(content.data() + good + kFrameHeader, length);
      if (checksum(format, payload) != stored) {
        // A torn write damages only the last record. A bad record with intact ones after it is
        // corruption: cutting it off would silently drop safety state, so refuse instead.
        auto intact = intact_records_from(format, content, good + kFrameHeader + length);
        if (intact > 0) {
          return close_on_error(
              Error{fmt::format("{}: the record at byte {} is corrupt (checksum mismatch) and {} "
                                "intact record(s) follow it; "
                                "refusing to cut them off. Restore the file, or start with "
                                "--recover-from-peers to set "
                                "it aside and rejoin by state transfer",
                                path.string(), good, intact)});
        }
        break;
      }
      recovery.records.emplace_back(payload.begin(), payload.end());
      good += kFrameHeader + length;
    }
    if (good < content.size() &&
        std::all_of(content.begin() + static_cast<std::ptrdiff_t>(good), content.end(),
                    [](std::uint8_t b) { return b == 0; })) {
      // Space written ahead: the next record overwrites it (wal.hpp: an all-zero frame is no
      // record in the current format, and only current-format logs are written ahead).
      allocated = content.size();
    } else if (good < content.size()) {
      // A torn write (or corruption) at the end: cut it off so appends continue from a clean end.
      recovery.truncated_bytes = content.size() - good;
      if (::ftruncate(fd, static_cast<off_t>(good)) != 0 || ::fsync(fd) != 0) {
        return close_on_error(Error{os_error("cannot truncate the torn tail of", path)});
      }
    }
  }
  if (::lseek(fd, static_cast<off_t>(good), SEEK_SET) < 0)
    return close_on_error(Error{os_error("cannot seek", path)});
  return std::pair{WriteAheadLog(path, fd, good, std::max(good, allocated), format, options),
                   std::move(recovery)};
}

WriteAheadLog::WriteAheadLog(WriteAheadLog&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(other.fd_),
      size_(other.size_),
      allocated_(other.allocated_),
      syncs_(other.syncs_),
      format_(other.format_),
      options_(other.options_),
      buffer_(std::move(other.buffer_)),
      written_unsynced_(other.written_unsynced_) {
  other.fd_ = -1;
}

WriteAheadLog& WriteAheadLog::operator=(WriteAheadLog&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    size_ = other.size_;
    allocated_ = other.allocated_;
    syncs_ = other.syncs_;
    format_ = other.format_;
    options_ = other.options_;
    buffer_ = std::move(other.buffer_);
    written_unsynced_ = other.written_unsynced_;
    other.fd_ = -1;
  }
  return *this;
}

WriteAheadLog::~WriteAheadLog() {
  if (fd_ >= 0) ::close(fd_);
}

Status WriteAheadLog::append(ByteView record) {
  if (record.size() > kMaxRecord)
    return fail(fmt::format("record of {} bytes exceeds the WAL limit", record.size()));
  auto framed = frame_record(record, format_);
  buffer_.insert(buffer_.end(), framed.begin(), framed.end());
  return ok_status();
}

Status WriteAheadLog::preallocate_for(std::uint64_t end) {
  if (options_.preallocate == 0 || format_ != WalFormat::kSipHash || end <= allocated_)
    return ok_status();
  const auto target = end + options_.preallocate;
  static const Bytes zeros(1 << 20, 0);
  while (allocated_ < target) {
    auto chunk = std::min<std::uint64_t>(zeros.size(), target - allocated_);
    auto n = ::pwrite(fd_, zeros.data(), chunk, static_cast<off_t>(allocated_));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(os_error("cannot write ahead in", path_));
    allocated_ += static_cast<std::uint64_t>(n);
  }
  return ok_status();
}

Status WriteAheadLog::flush_buffer() {
  if (buffer_.empty()) return ok_status();
  if (auto s = preallocate_for(size_ + buffer_.size()); !s) return s;
  if (auto s = write_all(fd_, buffer_, path_); !s) return s;
  size_ += buffer_.size();
  buffer_.clear();
  return ok_status();
}

Status WriteAheadLog::write() {
  if (buffer_.empty()) return ok_status();
  if (auto s = flush_buffer(); !s) return s;
  written_unsynced_ = true;
  return ok_status();
}

Status WriteAheadLog::sync() {
  if (!unsynced()) return ok_status();
  if (auto s = flush_buffer(); !s) return s;
  if (::fdatasync(fd_) != 0) return fail(os_error("cannot fsync", path_));
  written_unsynced_ = false;
  ++syncs_;
  return ok_status();
}

Status WriteAheadLog::rewrite(const std::vector<Bytes>& records) {
  // A rewrite is always in the current format.
  auto content = wal_header(WalFormat::kSipHash);
  for (const auto& r : records) {
    auto framed = frame_record(r, WalFormat::kSipHash);
    content.insert(content.end(), framed.begin(), framed.end());
  }
  if (auto s = write_file_atomic(path_, content, {.mode = 0600, .overwrite = true}); !s) return s;
  int fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return fail(os_error("cannot reopen", path_));
  if (::lseek(fd, 0, SEEK_END) < 0) {
    ::close(fd);
    return fail(os_error("cannot seek", path_));
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  size_ = content.size();
  allocated_ = size_;
  format_ = WalFormat::kSipHash;
  buffer_.clear();
  written_unsynced_ = false;  // the rewrite was synced
  return ok_status();
}

}  // namespace bftgate::runtime
