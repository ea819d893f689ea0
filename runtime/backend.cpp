#include "runtime/backend.h"

#include <chrono>

namespace shardrt {

void Backend::beginCapture() {
  throw std::logic_error(std::string(name()) + " backend: no graph capture");
}
int Backend::endCapture() {
  throw std::logic_error(std::string(name()) + " backend: no graph capture");
}
void Backend::replay(int) {
  throw std::logic_error(std::string(name()) + " backend: no graph capture");
}

std::size_t Backend::mark() {
  host_marks_.push_back(
      std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count());
  return host_marks_.size() - 1;
}

double Backend::markMicroseconds(std::size_t mark) {
  return (host_marks_.at(mark) - host_marks_.at(0)) * 1e6;
}

void Backend::clearMarks() { host_marks_.clear(); }

}  // namespace shardrt
