// MPI's lifetime for one process: init on construction, finalize on destruction.
#pragma once

namespace shardrt::comm {

class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int worldRank() const { return world_rank_; }
  int worldSize() const { return world_size_; }
  // Ranks sharing this node's memory (MPI_COMM_TYPE_SHARED): how many share its cores.
  int ranksOnThisNode() const { return node_size_; }
  // This rank's index among them: which local GPU it takes.
  int nodeRank() const { return node_rank_; }

 private:
  int world_rank_ = 0;
  int world_size_ = 1;
  int node_size_ = 1;
  int node_rank_ = 0;
};

}  // namespace shardrt::comm
