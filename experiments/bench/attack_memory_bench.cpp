// What a member of the cluster can make a validator and the store hold (the attacker holds the
// operator's key, which may ask anything a client may: a peer with no key in the config is
// refused during the CURVE handshake and gets no frame read at all): a real cluster of
// processes on 127.0.0.1 (the store and 4 validators), one attack per benchmark, the target's
// resident memory (VmRSS) and open descriptors read from /proc before, at the peak during the
// attack, and 6 s after the attacker left (processes give free memory back every 5 s).
//
//   BM_StoreUnreadReplies        1,000 gets of a 1 MiB chunk on one connection, never read
//   BM_StoreUnfinishedUploads    2,000 uploads begun (1 MiB declared, one 4 KiB chunk each)
//   BM_ValidatorUnreadStatus     8 connections x 1,000 status queries, never read (the register
//                                holds 64 proposed versions)
//   BM_ValidatorHeldConnections  1,100 TCP connections held open
//   BM_ValidatorEndlessMessage   one multi-part message of empty parts that never ends (10 MiB on
//                                the wire), sent by hand in plaintext ZMTP, as a stranger: the
//                                validator refuses the connection at the handshake
//
// Counters: rss_peak_delta_mib, rss_after_delta_mib, fds_peak_delta, budget_mib and
// within_budget (1 when the peak stayed within budget_mib and the memory came back to within a
// quarter of it).
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "bftgate/config/key_file.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/runtime/client/operator.hpp"
#include "bftgate/runtime/harness/local_cluster.hpp"
#include "bftgate/runtime/net/envelope.hpp"
#include "bftgate/runtime/store/artifact_store.hpp"

namespace {

using namespace bftgate;
using std::chrono::milliseconds;

constexpr double kBudgetMib = 256;
constexpr int kVersions = 64;

// One cluster for every benchmark of the run, removed at exit.
struct Target {
  std::filesystem::path dir;
  std::unique_ptr<runtime::LocalCluster> cluster;
  crypto::Digest chunk_digest;

  Target() {
    dir = std::filesystem::temp_directory_path() / fmt::format("bftgate-attack-{}", ::getpid());
    auto made = runtime::LocalCluster::create(
        {.binary = BFTGATE_BINARY, .dir = dir, .validators = 4, .nodes = 0});
    if (!made) throw std::runtime_error(made.error().message);
    cluster = std::move(made.value());
    check(cluster->start_store());
    for (std::uint32_t id = 0; id < 4; ++id) {
      check(cluster->start_validator(
          id, {"--validate-cmd", R"(echo '{"pass": true, "metrics": {}}')"}));
    }
    std::this_thread::sleep_for(milliseconds(1500));
    auto artifact = dir / "chunk.bin";
    check(write_file_atomic(artifact, Bytes(runtime::kStoreChunk, 0x5a)));
    runtime::StoreClient store(runtime::StoreLink::of(cluster->config(), cluster->operator_link()));
    auto digest = store.put(artifact);
    if (!digest) throw std::runtime_error(digest.error().message);
    chunk_digest = *digest;
    // A register of some length, so that a status answer is as large as it gets (one page).
    auto key = crypto::read_key_file(cluster->operator_key_path());
    if (!key) throw std::runtime_error(key.error().message);
    for (int v = 0; v < kVersions; ++v) {
      auto file = dir / fmt::format("adapter-{}.bin", v);
      check(write_file_atomic(file, as_bytes(fmt::format("adapter {}", v))));
      auto proposed =
          runtime::propose_adapter(cluster->config(), cluster->operator_link(), key->key, file, 0,
                                   true, std::chrono::milliseconds(30'000));
      if (!proposed) throw std::runtime_error(proposed.error().message);
    }
  }
  ~Target() {
    cluster->stop_all();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  static void check(const Status& s) {
    if (!s) throw std::runtime_error(s.error().message);
  }
  pid_t pid(const std::string& name) const {
    auto pid = cluster->pid(name);
    if (!pid) throw std::runtime_error(name + " is not running");
    return *pid;
  }
};

Target& target() {
  static Target t;
  return t;
}

double resident_mib(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

double descriptors(pid_t pid) {
  std::error_code ec;
  double n = 0;
  for (auto it = std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", pid), ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

// CPU time a process has used, in clock ticks (/proc/PID/stat: utime + stime).
long cpu_ticks(pid_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) {
      stime = std::stol(field);
      break;
    }
  }
  return utime + stime;
}

// Until the process uses less than 5% of a core over half a second (at most a minute).
void wait_until_idle(pid_t pid) {
  const long per_half_second = ::sysconf(_SC_CLK_TCK) / 2;
  for (int i = 0; i < 120; ++i) {
    auto before = cpu_ticks(pid);
    std::this_thread::sleep_for(milliseconds(500));
    if ((cpu_ticks(pid) - before) * 20 < per_half_second) return;
  }
}

int connect_loopback(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Runs `attack` (which holds its sockets until it returns) against process `name`, sampling
// memory and descriptors every 100 ms for `during`, then measures again 6 s after it left.
void measure(benchmark::State& state, const std::string& name, milliseconds during,
             const std::function<void(const std::function<void()>& wait)>& attack) {
  for (auto _ : state) {
    const auto pid = target().pid(name);
    const double rss_before = resident_mib(pid);
    const double fds_before = descriptors(pid);
    double rss_peak = rss_before;
    double fds_peak = fds_before;
    // The attacker holds on for `during` and then until the target has worked off what it
    // queued (its CPU falls idle; a minute at most), sampling all along.
    attack([&] {
      const long per_half_second = ::sysconf(_SC_CLK_TCK) / 2;
      long ticks = cpu_ticks(pid);
      for (auto waited = milliseconds(0); waited < milliseconds(60'000);
           waited += milliseconds(100)) {
        std::this_thread::sleep_for(milliseconds(100));
        rss_peak = std::max(rss_peak, resident_mib(pid));
        fds_peak = std::max(fds_peak, descriptors(pid));
        if (waited.count() % 500 == 400) {
          const long now = cpu_ticks(pid);
          const bool idle = (now - ticks) * 20 < per_half_second;
          ticks = now;
          if (idle && waited >= during) break;
        }
      }
    });
    // Once the target has worked off what the attacker queued, and one housekeeping round later.
    wait_until_idle(pid);
    std::this_thread::sleep_for(milliseconds(6000));
    const double rss_after = resident_mib(pid);
    state.counters["rss_before_mib"] = rss_before;
    state.counters["rss_peak_delta_mib"] = rss_peak - rss_before;
    state.counters["rss_after_delta_mib"] = rss_after - rss_before;
    state.counters["fds_peak_delta"] = fds_peak - fds_before;
    state.counters["budget_mib"] = kBudgetMib;
    state.counters["within_budget"] =
        rss_peak - rss_before <= kBudgetMib && rss_after - rss_before <= kBudgetMib / 4 ? 1 : 0;
  }
}

// A DEALER under the operator's key, to the member whose identity is `server`.
zmq::socket_t member_socket(zmq::context_t& context, const crypto::PublicKey& server) {
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  if (!target().cluster->operator_link().secure_client(socket, server))
    throw std::runtime_error("a member key without an X25519 form");
  return socket;
}

zmq::socket_t store_socket(zmq::context_t& context) {
  return member_socket(context, target().cluster->config().artifact_store_public_key.value());
}

void BM_StoreUnreadReplies(benchmark::State& state) {
  measure(state, "store", milliseconds(4000), [](const auto& wait) {
    zmq::context_t context;
    auto socket = store_socket(context);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::sndhwm, 0);
    socket.set(zmq::sockopt::rcvhwm, 1);
    socket.set(zmq::sockopt::rcvbuf, 4096);
    socket.connect(target().cluster->config().artifact_store_endpoint);
    auto get = fmt::format(R"({{"op":"get","digest":"{}","offset":0,"length":1048576}})",
                           target().chunk_digest.hex());
    for (int i = 0; i < 1000; ++i) (void)socket.send(zmq::buffer(get), zmq::send_flags::none);
    wait();
  });
}

void BM_StoreUnfinishedUploads(benchmark::State& state) {
  measure(state, "store", milliseconds(2000), [](const auto& wait) {
    zmq::context_t context;
    auto socket = store_socket(context);
    socket.set(zmq::sockopt::linger, 0);
    socket.connect(target().cluster->config().artifact_store_endpoint);
    Bytes chunk(4096, 1);
    for (int i = 0; i < 2000; ++i) {
      auto digest = crypto::sha256(as_bytes(fmt::format("upload {}", i))).hex();
      auto begin = fmt::format(R"({{"op":"put-begin","digest":"{}","size":1048576}})", digest);
      auto put = fmt::format(R"({{"op":"put-chunk","digest":"{}","offset":0}})", digest);
      (void)socket.send(zmq::buffer(begin), zmq::send_flags::none);
      (void)socket.send(zmq::buffer(put), zmq::send_flags::sndmore);
      (void)socket.send(zmq::buffer(chunk.data(), chunk.size()), zmq::send_flags::none);
    }
    wait();
    std::uint64_t on_disk = 0;
    std::error_code ec;
    for (const auto& item :
         std::filesystem::directory_iterator(target().cluster->data_dir("store") / "partial", ec))
      on_disk += item.file_size(ec);
    std::printf("unfinished uploads on disk: %llu bytes\n",
                static_cast<unsigned long long>(on_disk));
  });
}

void BM_ValidatorUnreadStatus(benchmark::State& state) {
  measure(state, runtime::LocalCluster::validator_name(1), milliseconds(4000),
          [](const auto& wait) {
            zmq::context_t context;
            std::vector<zmq::socket_t> sockets;
            auto query = runtime::make_envelope(runtime::EnvelopeKind::kQuery,
                                                as_bytes(std::string(R"({"query":"status"})")));
            for (int c = 0; c < 8; ++c) {
              auto& socket = sockets.emplace_back(
                  member_socket(context, target().cluster->config().find_validator(1)->public_key));
              socket.set(zmq::sockopt::linger, 0);
              socket.set(zmq::sockopt::sndhwm, 0);
              // It reads nothing: its own queue and the kernel's take almost nothing either.
              socket.set(zmq::sockopt::rcvhwm, 1);
              socket.set(zmq::sockopt::rcvbuf, 4096);
              socket.connect(target().cluster->config().find_validator(1)->endpoint);
              for (int i = 0; i < 1000; ++i)
                (void)socket.send(zmq::buffer(query), zmq::send_flags::none);
            }
            wait();
          });
}

void BM_ValidatorHeldConnections(benchmark::State& state) {
  measure(state, runtime::LocalCluster::validator_name(2), milliseconds(2000),
          [](const auto& wait) {
            std::vector<int> held;
            for (int i = 0; i < 1100; ++i) {
              int fd = connect_loopback(target().cluster->validator_port(2));
              if (fd >= 0) held.push_back(fd);
            }
            wait();
            for (int fd : held) ::close(fd);
          });
}

// ZMTP 3.0 by hand (a ZeroMQ socket sends no part of a message before its last): the greeting and
// READY of a DEALER, then empty parts each marked "more", 2 bytes apiece.
void BM_ValidatorEndlessMessage(benchmark::State& state) {
  measure(
      state, runtime::LocalCluster::validator_name(3), milliseconds(3000), [](const auto& wait) {
        int fd = connect_loopback(target().cluster->validator_port(3));
        if (fd < 0) throw std::runtime_error("cannot connect to validator 3");
        std::string greeting(64, '\0');
        greeting[0] = '\xff';
        greeting[9] = '\x7f';
        greeting[10] = 3;
        std::memcpy(&greeting[12], "NULL", 4);
        std::string ready =
            std::string("\x05READY") + "\x0bSocket-Type" + std::string("\0\0\0\x06", 4) + "DEALER";
        std::string command =
            std::string(1, '\x04') + std::string(1, static_cast<char>(ready.size())) + ready;
        std::string parts;
        for (int i = 0; i < (1 << 19); ++i) parts += std::string("\x01\x00", 2);  // 1 MiB
        auto send_all = [fd](const std::string& bytes) {
          for (std::size_t sent = 0; sent < bytes.size();) {
            auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return false;
            sent += static_cast<std::size_t>(n);
          }
          return true;
        };
        int sent_mib = 0;
        if (send_all(greeting + command)) {
          while (sent_mib < 10 && send_all(parts)) ++sent_mib;
        }
        std::printf("endless message: %d MiB of empty parts sent\n", sent_mib);
        wait();
        ::close(fd);
      });
}

}  // namespace

BENCHMARK(BM_StoreUnreadReplies)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(BM_StoreUnfinishedUploads)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(BM_ValidatorUnreadStatus)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(BM_ValidatorHeldConnections)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(BM_ValidatorEndlessMessage)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

BENCHMARK_MAIN();
