// Ids for a validator's own requests (its votes), increasing across restarts whatever the clock
// does: a clock that ran an hour fast and was corrected used to push new ids below the window of
// ids the replicas had executed, and every vote was refused. Ids are handed out below a
// reservation kept in a small file (written and fsync'd before an id above the old one is used),
// so a restart starts above every id this validator ever sent, executed or not.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>

#include "bftgate/base/result.hpp"

namespace bftgate::runtime {

class RequestIdReservation {
 public:
  static constexpr std::uint64_t kBlock = 1024;

  // Reads the reservation in `path` (none yet: ids start at 1). `floor`: the lowest id still
  // free by what the replicated state says (the client table's highest executed id + 1), for a
  // validator whose file was lost.
  static Result<RequestIdReservation> open(std::filesystem::path path, std::uint64_t floor);

  // The next id; reserves a new block (a durable write) when the current one is used up. An error
  // (a full disk) hands out no id: the caller does not send.
  Result<std::uint64_t> next();

  // Ids below `floor` are not handed out (the replicated state says they were used).
  void raise_to(std::uint64_t floor) { next_ = std::max(next_, floor); }

  std::uint64_t reserved_until() const { return reserved_until_; }

 private:
  RequestIdReservation(std::filesystem::path path, std::uint64_t next)
      : path_(std::move(path)), next_(next), reserved_until_(next) {}
  std::filesystem::path path_;
  std::uint64_t next_;
  std::uint64_t reserved_until_;  // ids below it may be used
};

}  // namespace bftgate::runtime
