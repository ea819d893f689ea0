// Where the meta backend's tensors "live": addresses from this base up are never dereferenced.
// The meta Communicator moves no data for them, and does move host buffers (the per-expert
// counts an MoE layer exchanges), so that the dry run's control flow is the real one.
#pragma once

#include <cstdint>

namespace shardrt::comm {

inline constexpr std::uintptr_t kMetaAddressBase = std::uintptr_t{1} << 52;

inline bool isMetaAddress(const void* pointer) {
  return reinterpret_cast<std::uintptr_t>(pointer) >= kMetaAddressBase;
}

}  // namespace shardrt::comm
