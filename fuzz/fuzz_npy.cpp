// Fuzzes the .npy header reader (`run --weights`, readNpy): the input is a whole file.
// ConfigError from the parser is the expected answer to a bad file; anything else escaping, a
// crash or a sanitizer report is a finding. What it accepts is read back and checked
// (fuzz/stored_tensor_checks.h), then read whole by readNpy too, as the tests read dumps.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/errors.h"
#include "fuzz/stored_tensor_checks.h"
#include "runtime/npy.h"

using namespace shardrt;
using namespace shardrt::fuzzing;

const char* const shardrt::fuzzing::kFuzzTarget = "fuzz_npy";

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const TempFile file;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  StoredTensor t;
  try {
    t = parseNpyHeader(bytes, size, "fuzz", "w");
  } catch (const ConfigError&) {
    return 0;
  }
  if (t.name != "w" || (t.dtype != StoredDType::F32 && t.dtype != StoredDType::F16)) {
    finding(t, "accepted with another name or a dtype other than <f4 and <f2");
  }
  // Accepted: the file holds the preamble (10 bytes in version 1, 12 in 2 and 3) and header.
  const std::uint64_t prefix = data[6] == 1 ? 10 : 12;
  std::uint64_t len = 0;
  for (std::uint64_t i = prefix; i-- > 8;) len = (len << 8) | data[i];
  if (t.offset != prefix + len) finding(t, "the data does not start right after the header");
  bool written = false;
  exercise(t, data, size, prefix + len, file, &written);
  // readNpy (the tests' and --dump's reader) reads any rank, a 3-D one as (rows, last dimension):
  // it may refuse (a dimension over 2^31 - 1), but what it returns must be the file's data.
  if (t.numel() > kMaxReadElements) return 0;
  if (!written) file.write(data, size);
  std::vector<long> shape;
  std::vector<float> got;
  try {
    got = readNpy(file.path, &shape);
  } catch (const ConfigError&) {
    return 0;
  }
  if (shape != std::vector<long>(t.shape.begin(), t.shape.end())) finding(t, "readNpy's shape differs");
  if (got.size() != static_cast<std::size_t>(t.numel())) finding(t, "readNpy read another count");
  for (std::size_t i = 0; i < got.size(); ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, &got[i], sizeof bits);
    if (bits != expectedBits(t, data, i)) finding(t, "readNpy's value " + std::to_string(i) + " differs");
  }
  return 0;
}
