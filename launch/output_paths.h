// The directories a run will write (--out, --dump, --trace), checked at start-up, before any
// work: a path that is empty, names something that is not a directory, or cannot be written or
// created is refused there in one line (exit 2), instead of after the whole run (issue 15,
// item 2). Where the directory does not exist yet, its nearest existing ancestor must be a
// writable directory; nothing is created here, so a refused run leaves nothing behind.
#pragma once

#include <string>

namespace shardrt::launch {

// Empty when `path` can be the directory `option` names; else the reason, as
// "OPTION: PATH ...".
std::string outputDirectoryProblem(const std::string& option, const std::string& path);

// The same for a directory the run replaces whole (--dump, --trace: common/atomic_directory.h):
// also refused when it holds files shardrt did not write, or when its parent, where the new
// one is made before the swap, cannot be written.
std::string replacedDirectoryProblem(const std::string& option, const std::string& path);

}  // namespace shardrt::launch
