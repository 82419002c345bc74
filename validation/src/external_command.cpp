#include "bftgate/validation/external_command.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "bftgate/base/strict_json.hpp"

extern char** environ;

namespace bftgate::validation {

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string fill_placeholders(std::string pattern,
                              const std::vector<std::pair<std::string, std::string>>& values) {
  for (const auto& [name, value] : values) {
    auto key = "{" + name + "}";
    for (auto pos = pattern.find(key); pos != std::string::npos;
         pos = pattern.find(key, pos + value.size())) {
      pattern.replace(pos, key.size(), value);
    }
  }
  return pattern;
}

Result<CommandOutcome> run_command(const std::string& command, std::chrono::milliseconds timeout,
                                   std::size_t max_output, const std::atomic<bool>* cancel) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    return Error{fmt::format("pipe: {}", std::strerror(errno))};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Its own process group, so a timeout kills the command and everything it started.
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  std::string shell = "/bin/sh";
  std::string flag = "-c";
  char* argv[] = {shell.data(), flag.data(), const_cast<char*>(command.c_str()), nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    return Error{fmt::format("cannot start /bin/sh: {}", std::strerror(rc))};
  }

  CommandOutcome outcome;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  bool open = true;
  while (open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      outcome.timed_out = true;
      break;
    }
    if (cancel != nullptr && cancel->load()) {
      outcome.cancelled = true;
      break;
    }
    pollfd p{pipe_fds[0], POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 100)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    auto n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      open = false;
    } else if (outcome.output.size() < max_output) {
      outcome.output.append(buffer, std::min<std::size_t>(static_cast<std::size_t>(n),
                                                          max_output - outcome.output.size()));
    }
  }
  ::close(pipe_fds[0]);
  if (outcome.timed_out || outcome.cancelled) ::kill(-pid, SIGKILL);
  // Reap it; give a command that closed its output a moment to exit before the deadline.
  int status = 0;
  for (;;) {
    auto r = ::waitpid(pid, &status, (outcome.timed_out || outcome.cancelled) ? 0 : WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() > deadline) {
      outcome.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  outcome.exit_code =
      (!outcome.timed_out && !outcome.cancelled && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  return outcome;
}

CommandVerdict run_verdict_command(const std::string& command, std::chrono::milliseconds timeout,
                                   const std::atomic<bool>* cancel) {
  CommandVerdict verdict;
  auto outcome = run_command(command, timeout, 1 << 20, cancel);
  if (!outcome) {
    verdict.not_started = true;
    verdict.reason = outcome.error().message;
  } else if (outcome->cancelled) {
    verdict.cancelled = true;
    verdict.reason = "cancelled";
  } else if (outcome->timed_out) {
    verdict.reason = fmt::format("timed out after {} ms", timeout.count());
  } else if (outcome->exit_code != 0) {
    verdict.reason = fmt::format("exited with status {}", outcome->exit_code);
  } else {
    auto j = parse_json(outcome->output, JsonLimits{.max_bytes = 1 << 20, .max_depth = 16});
    if (!j) {
      verdict.reason = fmt::format("output is not JSON: {}", j.error().message);
    } else if (!j->is_object() || !j->contains("pass") || !(*j)["pass"].is_boolean()) {
      verdict.reason = "output has no boolean \"pass\"";
    } else {
      verdict.pass = (*j)["pass"].get<bool>();
      verdict.metrics = j->value("metrics", nlohmann::json::object());
      verdict.reason =
          verdict.pass ? "the command passed the adapter" : "the command failed the adapter";
    }
  }
  return verdict;
}

}  // namespace bftgate::validation
