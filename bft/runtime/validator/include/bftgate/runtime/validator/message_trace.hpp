// A validator's message trace (--trace FILE): one line per protocol message it processed, for
// experiments that attribute a real cluster's work to commands (smr-vs-consensus). The writer
// and the reader of the format live here together.
//
//   # bftgate message trace v1: t_ns,type,sender,view,seq,checks,first_request,last_request
//   1234567890123,3,2,0,17,1,0,0
//
// t_ns: steady clock (CLOCK_MONOTONIC, shared by the processes of one machine) after the message
// was handled; type: bft::MessageType; view and seq: the message's own (0 when it has none);
// checks: the signatures checked while handling it (a catch-up counts what it carried); for a
// pre-prepare the first and last request ids of its batch, for a request its id.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <istream>
#include <vector>

#include "bftgate/base/result.hpp"
#include "bftgate/core/messages.hpp"

namespace bftgate::runtime {

struct TraceRecord {
  std::int64_t t_ns = 0;
  bft::MessageType type = bft::MessageType::kRequest;
  bft::PrincipalId sender = 0;
  std::uint64_t view = 0;
  std::uint64_t seq = 0;
  std::uint64_t checks = 0;
  std::uint64_t first_request = 0;
  std::uint64_t last_request = 0;

  static TraceRecord of(const bft::SignedMessage& message, std::uint64_t checks,
                        std::chrono::steady_clock::time_point at);
  bool operator==(const TraceRecord&) const = default;
};

class MessageTraceWriter {
 public:
  static Result<MessageTraceWriter> open(const std::filesystem::path& path);
  void record(const TraceRecord& record);
  // Writes what is buffered (the validator calls it every tick and when it stops, so a killed
  // validator loses at most one tick's records).
  void flush();

 private:
  std::ofstream out_;
};

// Reads a trace; a torn last line (the writer was killed mid-line) is left out. Refuses, naming
// the line, anything else that is not the format, and traces of more than `max_records`.
Result<std::vector<TraceRecord>> read_message_trace(std::istream& in,
                                                    std::size_t max_records = 20'000'000);

}  // namespace bftgate::runtime
