#include "runtime/op_context.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "comm/progress_board.h"

namespace shardrt {

OpContext& currentOp() {
  static OpContext context;
  return context;
}

namespace {
OpFault g_fault = nullptr;
}  // namespace

long enterOp(std::string_view label) {
  OpContext& c = currentOp();
  const std::size_t n = std::min(label.size(), sizeof c.op - 1);
  std::memcpy(c.op, label.data(), n);
  c.op[n] = '\0';
  comm::ProgressBoard::publishOp(c.op, c.layer, c.microbatch);
  ++c.in_layer;
  return ++c.index;
}

void enterLayer(int layer, int microbatch) {
  OpContext& c = currentOp();
  c.layer = layer;
  c.microbatch = microbatch;
  c.in_layer = 0;
}

long long callSite() {
  const OpContext& c = currentOp();
  if (c.layer < 0) return 0;
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the label, then the numbers
  for (const char* p = c.op; *p; ++p) h = (h ^ static_cast<unsigned char>(*p)) * 1099511628211ull;
  for (long x : {static_cast<long>(c.layer), static_cast<long>(c.microbatch), c.in_layer}) {
    h = (h ^ static_cast<std::uint64_t>(x)) * 1099511628211ull;
  }
  return static_cast<long long>(h & 0x7fffffffffffffffull) | 1;  // never 0
}

void setOpFault(OpFault fault) { g_fault = fault; }
OpFault opFault() { return g_fault; }

std::string describeCurrentOp() {
  const OpContext& c = currentOp();
  if (c.op[0] == '\0') return "";
  std::string out = "op " + std::string(c.op);
  if (c.layer >= 0) out += " of layer " + std::to_string(c.layer);
  if (c.microbatch >= 0) out += ", microbatch " + std::to_string(c.microbatch);
  return out;
}

}  // namespace shardrt
