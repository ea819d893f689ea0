#include "launch/startup_watch.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "comm/lifeline.h"
#include "common/errors.h"
#include "common/rank_label.h"

namespace shardrt::launch {
namespace {

std::atomic<const char*> g_phase{nullptr};  // null: in no watched phase
std::atomic<double> g_phase_start{0.0};
double g_seconds = 0.0;

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void watch() {
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const char* phase = g_phase.load();
    if (!phase) continue;
    const double waited = now() - g_phase_start.load();
    if (waited <= g_seconds) continue;
    if (g_phase.load() != phase) continue;  // it ended meanwhile
    char line[512];
    const int len =
        std::snprintf(line, sizeof line,
                      "%s: error: start-up: %s has not finished after %.1f s (--timeout %.1f): "
                      "another rank is stopped, gone or unreachable\n",
                      thisRankPrefix(), phase, waited, g_seconds);
    [[maybe_unused]] const ssize_t written =
        ::write(STDERR_FILENO, line, static_cast<std::size_t>(len));
    // Not MPI_Abort: MPI may be what is stuck. mpirun ends the job when a rank exits non-zero.
    comm::Lifeline::farewell();
    std::_Exit(kExitTimeout);
  }
}

}  // namespace

void startStartupWatch(double seconds) {
  g_seconds = seconds;
  if (seconds <= 0.0) return;
  std::thread(watch).detach();
}

double timeoutFromArguments(int argc, char** argv) {
  const char* text = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) text = argv[i + 1];
    if (std::strncmp(argv[i], "--timeout=", 10) == 0) text = argv[i] + 10;
  }
  if (!text) return 300.0;
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  // What the parser will refuse is watched with the default until it does.
  return end != text && *end == '\0' && allowedTimeout(v) ? v : 300.0;
}

bool allowedTimeout(double seconds) {
  return seconds == 0.0 || (seconds >= 0.1 && seconds <= 86400.0);  // false for NaN
}

StartupPhase::StartupPhase(const char* name) {
  g_phase_start = now();
  g_phase = name;
}

StartupPhase::~StartupPhase() { g_phase = nullptr; }

}  // namespace shardrt::launch
