#include "comm/lifeline.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <mpi.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "comm/collective_log.h"
#include "common/errors.h"
#include "common/mpi_check.h"
#include "common/rank_label.h"

namespace shardrt::comm {
namespace {

constexpr int kMaxAddresses = 8;
constexpr std::uint32_t kMagic = 0x53524c4c;  // "SRLL": a shardrt lifeline, not a stray peer
constexpr char kFarewell = 'B';
constexpr int kConnectMillis = 3000;  // per address
constexpr int kMaxPeers = 1024;       // hosts a first rank can watch

// What every rank publishes at open: where its host's first rank listens (port 0: not a first
// rank). Addresses and port in network byte order.
struct Endpoint {
  std::uint32_t addresses[kMaxAddresses];
  std::int32_t count;
  std::uint16_t port;
  std::uint16_t pad;
};

struct Peer {
  int fd = -1;
  int world_rank = -1;
  bool farewell = false;
};

struct State {
  std::atomic<bool> open{false};
  int listen_fd = -1;
  int wake[2] = {-1, -1};  // close() writes here to stop the thread
  std::vector<Endpoint> endpoints;
  std::vector<int> leaders;  // the first rank of each host, by world rank
  int me = -1;
  // Connected sockets, for farewell(): plain ints so that a signal handler can read them.
  std::atomic<int> fds[kMaxPeers];
  std::atomic<int> fd_count{0};
  std::atomic<bool> said_farewell{false};
  std::thread watcher;
};

State& state() {
  static State s;
  return s;
}

// False when the table is full: the connection is then not kept (an unremembered one would
// get no farewell, and its peer would report this rank lost at a normal end).
bool remember(int fd) {
  State& s = state();
  const int i = s.fd_count.load();
  if (i >= kMaxPeers) return false;
  s.fds[i] = fd;
  s.fd_count = i + 1;
  return true;
}

// This host's IPv4 addresses that are up and not loopback: where other hosts may reach it.
Endpoint localEndpoint(std::uint16_t port) {
  Endpoint e{};
  e.port = port;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return e;
  for (ifaddrs* a = list; a && e.count < kMaxAddresses; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
    if (!(a->ifa_flags & IFF_UP) || (a->ifa_flags & IFF_LOOPBACK)) continue;
    e.addresses[e.count++] = reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr;
  }
  freeifaddrs(list);
  return e;
}

std::string addressText(std::uint32_t address, std::uint16_t port) {
  char text[INET_ADDRSTRLEN] = "?";
  in_addr a{};
  a.s_addr = address;
  inet_ntop(AF_INET, &a, text, sizeof text);
  return std::string(text) + ":" + std::to_string(ntohs(port));
}

void writeLine(const std::string& line) {
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

bool writeAll(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Reads exactly `size` bytes within `millis`; false on EOF, error or time.
bool readAll(int fd, void* data, std::size_t size, int millis) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, millis) <= 0) return false;
    const ssize_t n = ::recv(fd, p, size, 0);
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// A non-blocking connect bounded by kConnectMillis, then the handshake: both sides send the
// magic and their world rank, and each checks it reached the rank it meant.
int connectTo(std::uint32_t address, std::uint16_t port, int expect_rank, int me,
              std::string& why) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    why = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = port;
  to.sin_addr.s_addr = address;
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd pfd{fd, POLLOUT, 0};
    rc = ::poll(&pfd, 1, kConnectMillis) == 1 ? 0 : -1;
    int error = rc == 0 ? 0 : ETIMEDOUT;
    socklen_t len = sizeof error;
    if (rc == 0) getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      errno = error;
      rc = -1;
    }
  }
  if (rc != 0) {
    why = addressText(address, port) + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const std::uint32_t hello[2] = {kMagic, static_cast<std::uint32_t>(me)};
  std::uint32_t reply[2] = {0, 0};
  if (!writeAll(fd, hello, sizeof hello) || !readAll(fd, reply, sizeof reply, kConnectMillis) ||
      reply[0] != kMagic || static_cast<int>(reply[1]) != expect_rank) {
    why = addressText(address, port) + ": another process answered";
    ::close(fd);
    return -1;
  }
  return fd;
}

// The connection to `peer` closed without a farewell: say so and end this rank.
[[noreturn]] void reportLost(int peer) {
  const std::string& host = hostOfRank(peer);
  std::string others;
  int count = 0;
  const int world = static_cast<int>(state().endpoints.size());
  for (int r = 0; r < world; ++r) {
    if (r == peer || hostOfRank(r) != host) continue;
    others += (count++ ? ", " : "") + std::to_string(r);
  }
  std::string line = std::string(thisRankPrefix()) + ": error: lost " + rankName(peer) +
                     ": its lifeline closed without a farewell (the process was killed, or " +
                     host + " went away)";
  if (count > 0) line += "; " + host + " also ran " + (count == 1 ? "rank " : "ranks ") + others;
  const std::string context = describeContext();
  line += context.empty() ? "; this rank ends" : "; this rank ends in " + context;
  writeLine(line + "\n");
  Lifeline::farewell();  // this rank's end is reported: its own peers need not report it
  std::_Exit(kExitTimeout);
}

// The thread: connects to the first ranks of the hosts after this one, accepts those before,
// then watches every connection until close().
void watch() {
  State& s = state();
  std::vector<Peer> peers;
  std::size_t expected_accepts = 0;
  for (const int leader : s.leaders) {
    if (leader < s.me) ++expected_accepts;
    if (leader <= s.me) continue;
    const Endpoint& e = s.endpoints[static_cast<std::size_t>(leader)];
    std::string why = "no address to try";
    int fd = -1;
    for (int i = 0; i < e.count && fd < 0; ++i)
      fd = connectTo(e.addresses[i], e.port, leader, s.me, why);
    if (fd < 0) {
      writeLine(std::string(thisRankPrefix()) + ": note: no lifeline to " + rankName(leader) +
                " (" + why + "): its host's loss will be found by the watchdog at --timeout\n");
      continue;
    }
    if (!remember(fd)) {
      ::close(fd);
      continue;
    }
    peers.push_back({fd, leader, false});
  }
  while (s.open) {
    std::vector<pollfd> polled;
    polled.push_back({s.wake[0], POLLIN, 0});
    if (expected_accepts > 0) polled.push_back({s.listen_fd, POLLIN, 0});
    for (const Peer& p : peers) polled.push_back({p.fd, POLLIN, 0});
    if (::poll(polled.data(), polled.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (polled[0].revents) return;  // close()
    std::size_t first_peer = 1;
    if (expected_accepts > 0) {
      first_peer = 2;
      if (polled[1].revents & POLLIN) {
        const int fd = ::accept4(s.listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        std::uint32_t hello[2] = {0, 0};
        if (fd >= 0 && readAll(fd, hello, sizeof hello, kConnectMillis) && hello[0] == kMagic) {
          const std::uint32_t reply[2] = {kMagic, static_cast<std::uint32_t>(s.me)};
          if (writeAll(fd, reply, sizeof reply) && remember(fd)) {
            peers.push_back({fd, static_cast<int>(hello[1]), false});
            --expected_accepts;
          } else {
            ::close(fd);
          }
        } else if (fd >= 0) {
          ::close(fd);  // not a lifeline: something else found the port
        }
      }
    }
    for (std::size_t i = first_peer; i < polled.size(); ++i) {
      if (!polled[i].revents) continue;
      Peer& p = peers[i - first_peer];
      char byte = 0;
      const ssize_t n = ::recv(p.fd, &byte, 1, 0);
      if (n == 1 && byte == kFarewell) {
        p.farewell = true;
        continue;
      }
      if (n == 1) continue;  // nothing else is sent; ignore
      if (!p.farewell && s.open && !s.said_farewell) reportLost(p.world_rank);
      ::close(p.fd);
      p.fd = -1;
    }
    std::erase_if(peers, [](const Peer& p) { return p.fd < 0; });
  }
}

}  // namespace

void Lifeline::open(int world_rank) {
  State& s = state();
  int world = 1;
  MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world));
  if (hostCount() <= 1) return;  // the same on every rank: the host table is
  s.me = world_rank;
  std::set<std::string> seen;  // a host's first rank is its leader
  for (int r = 0; r < world; ++r) {
    if (seen.insert(hostOfRank(r)).second) s.leaders.push_back(r);
  }
  const bool leader = std::find(s.leaders.begin(), s.leaders.end(), world_rank) != s.leaders.end();
  Endpoint mine{};
  if (leader) {
    s.listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in any{};
    any.sin_family = AF_INET;
    any.sin_addr.s_addr = htonl(INADDR_ANY);
    socklen_t len = sizeof any;
    if (s.listen_fd >= 0 && ::bind(s.listen_fd, reinterpret_cast<sockaddr*>(&any), len) == 0 &&
        ::listen(s.listen_fd, static_cast<int>(s.leaders.size())) == 0 &&
        ::getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&any), &len) == 0) {
      mine = localEndpoint(any.sin_port);
    }
  }
  s.endpoints.resize(static_cast<std::size_t>(world));
  MPI_CHECK(MPI_Allgather(&mine, sizeof mine, MPI_BYTE, s.endpoints.data(), sizeof mine, MPI_BYTE,
                          MPI_COMM_WORLD));
  if (!leader) return;
  if (::pipe2(s.wake, O_CLOEXEC) != 0) return;
  s.open = true;
  s.watcher = std::thread(watch);
}

void Lifeline::farewell() {
  State& s = state();
  if (s.said_farewell.exchange(true)) return;
  const int n = s.fd_count.load();
  for (int i = 0; i < n; ++i) {
    const char byte = kFarewell;
    [[maybe_unused]] const ssize_t sent = ::send(s.fds[i].load(), &byte, 1, MSG_NOSIGNAL);
  }
}

void Lifeline::close() {
  State& s = state();
  if (!s.open) return;
  farewell();
  s.open = false;
  const char byte = 0;
  [[maybe_unused]] const ssize_t n = ::write(s.wake[1], &byte, 1);
  s.watcher.join();
  for (int i = 0; i < s.fd_count.load(); ++i) ::close(s.fds[i].load());
  if (s.listen_fd >= 0) ::close(s.listen_fd);
  ::close(s.wake[0]);
  ::close(s.wake[1]);
}

bool Lifeline::isOpen() { return state().open; }

}  // namespace shardrt::comm
