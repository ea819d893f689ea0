// Fuzzes `shardrt dag check FILE.dot`: the DOT reader, then the DAG checker on whatever it
// accepted. DotParseError is the expected answer to a malformed file (a broken DAG comes back
// as violations); any other exception, a crash or a sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "dag/dag_check.h"
#include "dag/dot_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace shardrt::dag;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    const DotGraph graph = readDot(in);
    checkDag(graph);
  } catch (const DotParseError&) {
  }
  return 0;
}
