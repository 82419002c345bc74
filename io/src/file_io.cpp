#include "bftgate/io/file_io.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bftgate {

namespace {
std::string os_error(std::string_view what, const std::filesystem::path& path) {
  return fmt::format("{} {}: {}", what, path.string(), std::strerror(errno));
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};
}  // namespace

Status write_file_atomic(const std::filesystem::path& path, ByteView content,
                         const WriteOptions& options) {
  std::error_code ec;
  if (!options.overwrite && std::filesystem::exists(path, ec)) {
    return fail(fmt::format("{} already exists (refusing to overwrite)", path.string()));
  }
  auto directory = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  auto temporary = directory / fmt::format(".{}.tmp.{}", path.filename().string(), ::getpid());

  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, options.mode);
  if (fd < 0) return fail(os_error("cannot create", temporary));
  {
    FdCloser closer{fd};
    // The umask may have removed bits; set exactly the requested mode.
    if (::fchmod(fd, options.mode) != 0) {
      auto message = os_error("cannot chmod", temporary);
      ::unlink(temporary.c_str());
      return fail(message);
    }
    std::size_t written = 0;
    while (written < content.size()) {
      ssize_t n = ::write(fd, content.data() + written, content.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        auto message = os_error("cannot write", temporary);
        ::unlink(temporary.c_str());
        return fail(message);
      }
      written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
      auto message = os_error("cannot fsync", temporary);
      ::unlink(temporary.c_str());
      return fail(message);
    }
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    auto message = os_error("cannot rename into place", path);
    ::unlink(temporary.c_str());
    return fail(message);
  }
  int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return fail(os_error("cannot open directory", directory));
  FdCloser dir_closer{dir_fd};
  if (::fsync(dir_fd) != 0) return fail(os_error("cannot fsync directory", directory));
  return ok_status();
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

Result<OpenedFile> open_regular_file(const std::filesystem::path& path, std::uint64_t max_size) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (fd.get() < 0) return Error{os_error("cannot open", path)};
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return Error{os_error("cannot stat", path)};
  if (!S_ISREG(info.st_mode)) return Error{fmt::format("{} is not a regular file", path.string())};
  if (static_cast<std::uint64_t>(info.st_size) > max_size) {
    return Error{
        fmt::format("{} is {} bytes; the limit is {}", path.string(), info.st_size, max_size)};
  }
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)
    return Error{os_error("cannot set up", path)};
  return OpenedFile{std::move(fd), static_cast<std::uint64_t>(info.st_size)};
}

Status write_all(int fd, ByteView data) {
  for (std::size_t written = 0; written < data.size();) {
    auto n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(std::strerror(errno));
    if (n == 0) return fail(std::strerror(ENOSPC));
    written += static_cast<std::size_t>(n);
  }
  return ok_status();
}

Result<std::string> read_small_file(const std::filesystem::path& path, std::size_t max_size) {
  auto opened = open_regular_file(path, max_size);
  if (!opened) return opened.error();
  const int fd = opened->fd.get();
  std::string content;
  char buffer[8192];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{os_error("cannot read", path)};
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
    if (content.size() > max_size) {
      return Error{fmt::format("{} grew past the limit of {} bytes", path.string(), max_size)};
    }
  }
  return content;
}

}  // namespace bftgate
