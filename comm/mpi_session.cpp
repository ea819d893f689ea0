#include "comm/mpi_session.h"

#include <mpi.h>

#include "comm/progress_board.h"
#include "common/mpi_check.h"

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
}

MpiSession::~MpiSession() {
  ProgressBoard::close();  // collective, like MPI_Finalize: every rank that opened it
  MPI_Finalize();
}

}  // namespace shardrt::comm
