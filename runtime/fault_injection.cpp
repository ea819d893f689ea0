#include "runtime/fault_injection.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "common/errors.h"
#include "runtime/op_context.h"

namespace shardrt {
namespace {

enum class Mode { Throw, Alloc, Exit, Stall, Segv, Skip };

struct Fault {
  long index = 0;     // > 0: the op with this index
  std::string label;  // else: the `occurrence`-th op with this label
  long occurrence = 1;
  long seen = 0;
  Mode mode = Mode::Throw;
};

Fault g_fault;

bool strike(long index, std::string_view label) {
  Fault& f = g_fault;
  if (f.index > 0 ? index != f.index : (label != f.label || ++f.seen != f.occurrence)) {
    return false;
  }
  switch (f.mode) {
    case Mode::Throw:
      throw std::runtime_error("test fault: op " + std::to_string(index) + " (" +
                               std::string(label) + ") failed on purpose");
    case Mode::Alloc: {
      // A real failed allocation, not a thrown stand-in: 2^56 bytes is past any machine's
      // address space, so operator new throws std::bad_alloc even with overcommit. volatile
      // keeps the compiler from eliding the unused allocation.
      volatile std::size_t huge = std::size_t{1} << 56;
      ::operator delete(::operator new(huge));
      return false;
    }
    case Mode::Exit:
      std::_Exit(7);
    case Mode::Stall:
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    case Mode::Segv:
      std::raise(SIGSEGV);
      return false;
    case Mode::Skip:
      return true;
  }
  return false;
}

long parseNumber(const std::string& text, const std::string& spec) {
  std::size_t used = 0;
  long x = -1;
  try {
    x = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || x < 0) {
    throw ConfigError("--test-fault " + spec, "\"" + text + "\" is not a non-negative number");
  }
  return x;
}

}  // namespace

void installTestFault(const std::string& spec, int world_rank) {
  const auto first = spec.find(':'), last = spec.rfind(':');
  if (first == std::string::npos || first == last) {
    throw ConfigError("--test-fault " + spec, "must have the form RANK:WHERE:MODE");
  }
  const long rank = parseNumber(spec.substr(0, first), spec);
  const std::string where = spec.substr(first + 1, last - first - 1);
  const std::string mode = spec.substr(last + 1);
  Fault f;
  if (mode == "throw")
    f.mode = Mode::Throw;
  else if (mode == "alloc")
    f.mode = Mode::Alloc;
  else if (mode == "exit")
    f.mode = Mode::Exit;
  else if (mode == "stall")
    f.mode = Mode::Stall;
  else if (mode == "segv")
    f.mode = Mode::Segv;
  else if (mode == "skip")
    f.mode = Mode::Skip;
  else
    throw ConfigError("--test-fault " + spec,
                      "MODE must be throw, alloc, exit, stall, segv or skip");
  if (!where.empty() && where.find_first_not_of("0123456789") == std::string::npos) {
    f.index = parseNumber(where, spec);
    if (f.index == 0) throw ConfigError("--test-fault " + spec, "ops are counted from 1");
  } else {
    const auto at = where.find('@');
    f.label = where.substr(0, at);
    if (at != std::string::npos) f.occurrence = parseNumber(where.substr(at + 1), spec);
    if (f.label.empty() || f.occurrence < 1) {
      throw ConfigError("--test-fault " + spec, "WHERE must be an op index or LABEL[@k]");
    }
  }
  if (rank != world_rank) return;
  g_fault = f;
  setOpFault(&strike);
}

}  // namespace shardrt
