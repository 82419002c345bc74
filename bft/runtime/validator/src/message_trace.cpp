#include "bftgate/runtime/validator/message_trace.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <string>

namespace bftgate::runtime {

namespace {
constexpr std::string_view kHeader =
    "# bftgate message trace v1: t_ns,type,sender,view,seq,checks,first_request,last_request";
constexpr std::size_t kFields = 8;
constexpr std::size_t kMaxLine = 256;
}  // namespace

TraceRecord TraceRecord::of(const bft::SignedMessage& message, std::uint64_t checks,
                            std::chrono::steady_clock::time_point at) {
  TraceRecord r;
  r.t_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  r.type = message.type();
  r.sender = message.sender;
  r.checks = checks;
  if (const auto* m = message.as<bft::PrePrepare>()) {
    r.view = m->view;
    r.seq = m->seq;
    for (const auto& request : m->requests) {
      const auto id = request->as<bft::Request>()->request_id;
      r.first_request = r.first_request == 0 ? id : std::min(r.first_request, id);
      r.last_request = std::max(r.last_request, id);
    }
  } else if (const auto* p = message.as<bft::Prepare>()) {
    r.view = p->view;
    r.seq = p->seq;
  } else if (const auto* c = message.as<bft::Commit>()) {
    r.view = c->view;
    r.seq = c->seq;
  } else if (const auto* q = message.as<bft::Request>()) {
    r.first_request = r.last_request = q->request_id;
  } else if (const auto* k = message.as<bft::Checkpoint>()) {
    r.seq = k->seq;
  }
  return r;
}

Result<MessageTraceWriter> MessageTraceWriter::open(const std::filesystem::path& path) {
  MessageTraceWriter writer;
  writer.out_.open(path, std::ios::out | std::ios::trunc);
  if (!writer.out_) return Error{fmt::format("cannot write the message trace {}", path.string())};
  writer.out_ << kHeader << '\n';
  return writer;
}

void MessageTraceWriter::record(const TraceRecord& r) {
  out_ << r.t_ns << ',' << static_cast<unsigned>(r.type) << ',' << r.sender << ',' << r.view << ','
       << r.seq << ',' << r.checks << ',' << r.first_request << ',' << r.last_request << '\n';
}

void MessageTraceWriter::flush() {
  out_.flush();
}

Result<std::vector<TraceRecord>> read_message_trace(std::istream& in, std::size_t max_records) {
  std::vector<TraceRecord> records;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    const bool complete = !in.eof();  // the last line lacks its newline: the writer was killed
    if (number == 1) {
      if (line != kHeader) return Error{"not a bftgate message trace (no v1 header)"};
      continue;
    }
    if (!complete) break;  // even if it parses, its last number may be cut short
    if (line.size() > kMaxLine) return Error{fmt::format("trace line {} is too long", number)};
    std::array<std::uint64_t, kFields> fields{};
    std::int64_t t_ns = 0;
    const char* at = line.data();
    const char* end = line.data() + line.size();
    bool ok = true;
    for (std::size_t f = 0; f < kFields && ok; ++f) {
      auto parsed = f == 0 ? std::from_chars(at, end, t_ns) : std::from_chars(at, end, fields[f]);
      ok = parsed.ec == std::errc() &&
           (f + 1 == kFields ? parsed.ptr == end : parsed.ptr != end && *parsed.ptr == ',');
      at = parsed.ptr + 1;
    }
    if (!ok) {
      return Error{fmt::format("trace line {} is not {} comma-separated numbers", number, kFields)};
    }
    if (fields[1] == 0 || fields[1] >= bft::kMessageTypeCount || fields[2] > 0xffff'ffffu)
      return Error{fmt::format("trace line {} names no message type or sender", number)};
    if (records.size() == max_records)
      return Error{fmt::format("the trace holds more than {} records", max_records)};
    records.push_back({t_ns, static_cast<bft::MessageType>(fields[1]),
                       static_cast<bft::PrincipalId>(fields[2]), fields[3], fields[4], fields[5],
                       fields[6], fields[7]});
  }
  if (number == 0) return Error{"an empty message trace (no header)"};
  return records;
}

}  // namespace bftgate::runtime
