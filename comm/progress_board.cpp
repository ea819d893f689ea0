#include "comm/progress_board.h"

#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "common/rank_label.h"

namespace shardrt::comm {
namespace {

struct Board {
  MPI_Win win = MPI_WIN_NULL;
  ProgressBoard::Entry* mine = nullptr;
};

Board& board() {
  static Board b;
  return b;
}

// Slots by name, the same table on every rank; names not listed are not tracked.
const char* const kNames[ProgressBoard::kSlots] = {"world", "tp", "pp", "ep", "dp", "", "", ""};

void copyName(char* dst, std::size_t size, const char* src) {
  std::strncpy(dst, src, size - 1);
  dst[size - 1] = '\0';
}

}  // namespace

void ProgressBoard::open() {
  Board& b = board();
  if (b.win != MPI_WIN_NULL) return;
  void* base = nullptr;
  // Failing to open the board costs the report its "who has not arrived", not the run; rank 0
  // says so once. Open MPI 4.1 over TCP across hosts is where it fails (docs/multi-host.md).
  const int rc = MPI_Win_allocate(sizeof(Entry), 1, MPI_INFO_NULL, MPI_COMM_WORLD, &base, &b.win);
  if (rc != MPI_SUCCESS) {
    b.win = MPI_WIN_NULL;
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) {
      char text[MPI_MAX_ERROR_STRING] = "";
      int len = 0;
      MPI_Error_string(rc, text, &len);
      const std::string line = std::string(thisRankPrefix()) +
                               ": note: the progress board is off (MPI_Win_allocate: " + text +
                               "): a watchdog report cannot say which ranks have not arrived\n";
      [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
    }
    return;
  }
  b.mine = static_cast<Entry*>(base);
  std::memset(b.mine, 0, sizeof(Entry));
  b.mine->waiting_slot = -1;
  b.mine->layer = b.mine->microbatch = -1;
  MPI_Win_lock_all(MPI_MODE_NOCHECK, b.win);
  MPI_Barrier(MPI_COMM_WORLD);  // every entry initialised before anyone reads one
}

void ProgressBoard::close() {
  Board& b = board();
  if (b.win == MPI_WIN_NULL) return;
  MPI_Win_unlock_all(b.win);
  MPI_Win_free(&b.win);
  b.win = MPI_WIN_NULL;
  b.mine = nullptr;
}

bool ProgressBoard::isOpen() { return board().mine != nullptr; }

int ProgressBoard::slotOf(const std::string& group_name) {
  for (int i = 0; i < kSlots; ++i) {
    if (kNames[i][0] != '\0' && group_name == kNames[i]) return i;
  }
  return -1;
}

const char* ProgressBoard::slotName(int slot) {
  return slot >= 0 && slot < kSlots && kNames[slot][0] != '\0' ? kNames[slot] : "?";
}

void ProgressBoard::entered(int slot, long long seq, const char* op) {
  Entry* e = board().mine;
  if (!e || slot < 0) return;
  e->entered[slot] = seq;
  copyName(e->waiting_op, sizeof e->waiting_op, op);
  e->waiting_seq = seq;
  e->waiting_slot = slot;
}

void ProgressBoard::left() {
  if (Entry* e = board().mine) e->waiting_slot = -1;
}

void ProgressBoard::publishOp(const char* op, int layer, int microbatch) {
  Entry* e = board().mine;
  if (!e) return;
  copyName(e->op, sizeof e->op, op);
  e->layer = layer;
  e->microbatch = microbatch;
  ++e->progress;
}

void ProgressBoard::tick() {
  if (Entry* e = board().mine) ++e->progress;
}

bool ProgressBoard::read(int world_rank, Entry& out, double seconds) {
  Board& b = board();
  if (b.win == MPI_WIN_NULL) return false;
  MPI_Request request = MPI_REQUEST_NULL;
  if (MPI_Rget(&out, sizeof(Entry), MPI_BYTE, world_rank, 0, sizeof(Entry), MPI_BYTE, b.win,
               &request) != MPI_SUCCESS) {
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int done = 0;
  while (!done) {
    if (MPI_Test(&request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return false;
    if (!done && std::chrono::steady_clock::now() > deadline) return false;  // left pending
    if (!done) sched_yield();
  }
  return true;
}

}  // namespace shardrt::comm
