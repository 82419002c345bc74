// libFuzzer target: reading a validator's message trace (runtime/message_trace.hpp), a file
// experiments read back after a run.
//
// Properties checked on every input:
//   - nothing throws or crashes;
//   - a refusal's text is safe to log (UTF-8, dumps as JSON);
//   - what is read names only known message types, and writing it back and reading that gives
//     the same records.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "bftgate/runtime/validator/message_trace.hpp"
#include "fuzz_support.hpp"

using bftgate::ByteView;
using bftgate::fuzz::fail;
namespace runtime = bftgate::runtime;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  auto read = runtime::read_message_trace(in, 4096);
  if (!read) {
    bftgate::fuzz::check_safe_text("error", read.error().message, input);
    return 0;
  }
  for (const auto& r : *read) {
    const auto type = static_cast<std::size_t>(r.type);
    if (type == 0 || type >= bftgate::bft::kMessageTypeCount)
      fail("an unknown message type read", input);
  }
  // The round trip, through the writer (TMPDIR is the target's own scratch folder).
  const auto path =
      std::filesystem::temp_directory_path() / ("trace-" + std::to_string(::getpid()));
  {
    auto writer = runtime::MessageTraceWriter::open(path);
    if (!writer) fail("cannot write a trace", input);
    for (const auto& r : *read) writer->record(r);
    writer->flush();
  }
  std::ifstream again(path);
  auto reread = runtime::read_message_trace(again, 4096);
  if (!reread || *reread != *read) fail("a trace did not read back as written", input);
  return 0;
}
