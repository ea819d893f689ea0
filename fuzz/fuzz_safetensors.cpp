// Fuzzes the .safetensors header reader (`run --weights`): the input is a whole file.
// ConfigError from the parser is the expected answer to a bad file; anything else escaping, a
// crash or a sanitizer report is a finding. What it accepts is then read back and checked
// (fuzz/stored_tensor_checks.h).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/errors.h"
#include "fuzz/stored_tensor_checks.h"
#include "runtime/safetensors.h"

using namespace shardrt;
using namespace shardrt::fuzzing;

const char* const shardrt::fuzzing::kFuzzTarget = "fuzz_safetensors";

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const TempFile file;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::vector<StoredTensor> tensors;
  try {
    tensors = parseSafetensorsHeader(bytes, size, "fuzz");
  } catch (const ConfigError&) {
    return 0;
  }
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];  // accepted: the file holds 8 + n bytes
  bool written = false;
  for (const StoredTensor& t : tensors) exercise(t, data, size, 8 + n, file, &written);
  return 0;
}
