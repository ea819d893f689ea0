// `mpirun -np N shardrt bench --calibrate`: measures this machine with all N ranks running
// at once, as a deployment runs them, and writes the hardware profile the planner reads in
// place of datasheet rates (planner/hardware_profile.h; docs/planner.md): GEMM rates over a
// spread of shapes, the attention op's FLOP/s, elementwise memory bandwidth, the time of a
// tiny op, and every collective by size among the N ranks.
#pragma once

#include <string>

#include "comm/mpi_session.h"

namespace shardrt::bench {

struct CalibrateOptions {
  bool requested = false;  // `bench --calibrate` was given
  std::string device = "auto";
  std::string out_path = "hardware-profile.json";
};

int calibrate(const CalibrateOptions& options, const comm::MpiSession& mpi);

}  // namespace shardrt::bench
