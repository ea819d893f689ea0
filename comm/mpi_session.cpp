#include "comm/mpi_session.h"

#include <mpi.h>

#include <string>
#include <utility>
#include <vector>

#include "comm/lifeline.h"
#include "comm/progress_board.h"
#include "common/mpi_check.h"
#include "common/rank_label.h"

namespace shardrt::comm {

MpiSession::MpiSession(int* argc, char*** argv) {
  MPI_CHECK(MPI_Init(argc, argv));
  MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank_));
  MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world_size_));
  MPI_Comm node = MPI_COMM_NULL;
  MPI_CHECK(
      MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank_, MPI_INFO_NULL, &node));
  MPI_CHECK(MPI_Comm_size(node, &node_size_));
  MPI_CHECK(MPI_Comm_rank(node, &node_rank_));
  MPI_CHECK(MPI_Comm_free(&node));
  // Every rank's host, so that a line about another rank can say where it runs.
  constexpr int kHostChars = 64;
  std::vector<char> mine(kHostChars, '\0');
  thisHost().copy(mine.data(), kHostChars - 1);
  std::vector<char> all(static_cast<std::size_t>(kHostChars) * world_size_);
  MPI_CHECK(MPI_Allgather(mine.data(), kHostChars, MPI_CHAR, all.data(), kHostChars, MPI_CHAR,
                          MPI_COMM_WORLD));
  std::vector<std::string> hosts;
  for (int r = 0; r < world_size_; ++r)
    hosts.emplace_back(&all[static_cast<std::size_t>(r) * kHostChars]);
  setRankHosts(std::move(hosts));
  setThisRank(world_rank_);
  Lifeline::open(world_rank_);
}

MpiSession::~MpiSession() {
  ProgressBoard::close();  // collective, like MPI_Finalize: every rank that opened it
  Lifeline::close();
  MPI_Finalize();
}

}  // namespace shardrt::comm
