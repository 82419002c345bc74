#include "bftgate/runtime/harness/local_processes.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace bftgate::runtime {

namespace {
bool port_free(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

// The kernel's range for outgoing connections' local ports: a port there that is free now can
// be taken by any process's next connect() before our server binds it.
std::pair<int, int> ephemeral_ports() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768, high = 60999;
  if (!(in >> low >> high) || low > high) return {32768, 60999};
  return {low, high};
}

int exit_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
}  // namespace

std::optional<std::uint16_t> free_port_range(int count) {
  std::mt19937_64 rng(std::random_device{}() ^ static_cast<std::uint64_t>(::getpid()));
  // Candidates avoid the ephemeral range (else a racing connect() steals a port after the check).
  auto [low, high] = ephemeral_ports();
  std::vector<int> bases;
  for (int base = 10000; base + count <= 65536; base += count)
    if (base + count <= low || base > high) bases.push_back(base);
  if (bases.empty()) return std::nullopt;
  for (int attempt = 0; attempt < 200; ++attempt) {
    int base = bases[rng() % bases.size()];
    bool all = true;
    for (int p = base; p < base + count && all; ++p) all = port_free(p);
    if (all) return static_cast<std::uint16_t>(base);
  }
  return std::nullopt;
}

Status ChildProcesses::spawn(const std::string& key, const std::vector<std::string>& argv,
                             const std::filesystem::path& log) {
  std::vector<std::string> args = argv;
  std::vector<char*> pointers;
  for (auto& a : args) pointers.push_back(a.data());
  pointers.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args.at(0).c_str(), &actions, nullptr, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return fail(fmt::format("cannot start {}: {}", key, std::strerror(rc)));
  children_[key] = pid;
  return ok_status();
}

int ChildProcesses::signal_and_wait(const std::string& key, int signal) {
  auto it = children_.find(key);
  if (it == children_.end()) return -1;
  ::kill(it->second, signal);
  int status = 0;
  ::waitpid(it->second, &status, 0);
  children_.erase(it);
  return exit_code(status);
}

std::vector<std::string> ChildProcesses::stop_all(std::chrono::milliseconds grace,
                                                  const std::vector<int>& clean) {
  std::vector<std::string> unclean;
  for (const auto& [key, pid] : children_) ::kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  for (const auto& [key, pid] : children_) {
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (std::find(clean.begin(), clean.end(), exit_code(status)) == clean.end())
      unclean.push_back(key);
  }
  children_.clear();
  return unclean;
}

}  // namespace bftgate::runtime
