#include "comm/collective_log.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "common/rank_label.h"

namespace shardrt::comm {
namespace {

constexpr int kRecords = 32;

struct Log {
  CollectiveRecord records[kRecords];
  long total = 0;  // records ever begun; the newest is (total - 1) % kRecords
};

Log& log() {
  static Log l;
  return l;
}

const auto kStart = std::chrono::steady_clock::now();

std::string (*g_describe)() = nullptr;
long long (*g_call_site)() = nullptr;

void copyName(char* dst, std::size_t size, const char* src) {
  std::strncpy(dst, src, size - 1);
  dst[size - 1] = '\0';
}

}  // namespace

ReliabilitySettings& reliabilitySettings() {
  static ReliabilitySettings s;
  return s;
}

double secondsSinceLogStart() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - kStart).count();
}

int beginCollective(const char* group, const char* op, long seq, std::size_t bytes) {
  Log& l = log();
  const int slot = static_cast<int>(l.total % kRecords);
  CollectiveRecord& r = l.records[slot];
  copyName(r.group, sizeof r.group, group);
  copyName(r.op, sizeof r.op, op);
  r.seq = seq;
  r.bytes = bytes;
  r.start = secondsSinceLogStart();
  r.end = 0.0;
  ++l.total;
  return slot;
}

void endCollective(int slot) { log().records[slot].end = secondsSinceLogStart(); }

void dumpCollectiveLog(int fd) {
  const char* rank = thisRankPrefix();
  const Log& l = log();
  const long n = l.total < kRecords ? l.total : kRecords;
  char line[256];
  int len =
      std::snprintf(line, sizeof line, "%s: the last %ld collectives (of %ld), oldest first:\n",
                    rank, n, l.total);
  if (::write(fd, line, static_cast<std::size_t>(len)) < 0) return;
  for (long i = l.total - n; i < l.total; ++i) {
    const CollectiveRecord& r = l.records[i % kRecords];
    if (r.end > 0.0) {
      len = std::snprintf(line, sizeof line,
                          "%s:   %-6s %-15s #%-6ld %12zu bytes  start %10.6f s  "
                          "end %10.6f s\n",
                          rank, r.group, r.op, r.seq, r.bytes, r.start, r.end);
    } else {
      len = std::snprintf(line, sizeof line,
                          "%s:   %-6s %-15s #%-6ld %12zu bytes  start %10.6f s  "
                          "still waiting\n",
                          rank, r.group, r.op, r.seq, r.bytes, r.start);
    }
    if (::write(fd, line, static_cast<std::size_t>(len)) < 0) return;
  }
}

void setContextDescriber(std::string (*describe)()) { g_describe = describe; }

std::string describeContext() { return g_describe ? g_describe() : std::string(); }

void setCallSiteProvider(long long (*call_site)()) { g_call_site = call_site; }

long long callSite() { return g_call_site ? g_call_site() : 0; }

}  // namespace shardrt::comm
