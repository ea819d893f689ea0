#include "runtime/op_context.h"

#include <algorithm>
#include <cstring>

namespace shardrt {

OpContext& currentOp() {
  static OpContext context;
  return context;
}

long enterOp(std::string_view label) {
  OpContext& c = currentOp();
  const std::size_t n = std::min(label.size(), sizeof c.op - 1);
  std::memcpy(c.op, label.data(), n);
  c.op[n] = '\0';
  return ++c.index;
}

std::string describeCurrentOp() {
  const OpContext& c = currentOp();
  if (c.op[0] == '\0') return "";
  std::string out = "op " + std::string(c.op);
  if (c.layer >= 0) out += " of layer " + std::to_string(c.layer);
  if (c.microbatch >= 0) out += ", microbatch " + std::to_string(c.microbatch);
  return out;
}

}  // namespace shardrt
