// Writes .npy files (NumPy format 1.0: magic, header dict, raw little-endian data), so that
// numpy.load and any other tool can read what a run dumped.
#pragma once

#include <string>
#include <vector>

namespace shardrt {

void writeNpy(const std::string& path, const float* data, const std::vector<long>& shape);

// Reads back a float32 C-order .npy written by writeNpy (tests use it).
std::vector<float> readNpy(const std::string& path, std::vector<long>* shape);

}  // namespace shardrt
