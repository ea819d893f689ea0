// Where every rank is, readable by every other rank without that rank's help: a small MPI
// window (one-sided, passive target) on which each rank publishes the sequence number of the
// last collective it entered in each of its groups, the collective it is waiting in, and the
// runtime's op. A rank whose collective times out reads its group's entries to say which
// ranks have not arrived and what they are doing instead.
#pragma once

#include <mpi.h>

#include <string>

namespace shardrt::comm {

class ProgressBoard {
 public:
  static constexpr int kSlots = 8;  // groups tracked per rank, by name (world, tp, pp, ...)

  struct Entry {
    long long entered[kSlots];  // per slot: the last collective's sequence number entered
    long long waiting_slot;     // -1: in no collective
    long long waiting_seq;
    char waiting_op[24];
    char op[48];                // the runtime's op ("" before any)
    long long layer, microbatch;
    long long progress;         // rises with every op and tick(): a waiting rank tells work
                                // that goes on (rank-local, long) from a rank that is stuck
  };

  // Collective over MPI_COMM_WORLD; close() before MPI_Finalize, on every rank that opened.
  static void open();
  static void close();
  static bool isOpen();

  // The slot of a group name, the same on every rank; -1 when it has none (names beyond
  // kSlots, or rank-local groups such as "self").
  static int slotOf(const std::string& group_name);
  static const char* slotName(int slot);  // "world", "tp", ...; "?" for none

  static void entered(int slot, long long seq, const char* op);
  static void left();
  static void publishOp(const char* op, int layer, int microbatch);
  // Progress in rank-local work that runs no op for long (writing the dump, rendering the
  // trace, reading a checkpoint): what the watchdog of a rank waiting for this one looks for.
  static void tick();

  // Reads a rank's entry, waiting at most `seconds` (a rank whose MPI makes no progress may
  // not answer); false when it did not answer in time.
  static bool read(int world_rank, Entry& out, double seconds);
};

}  // namespace shardrt::comm
