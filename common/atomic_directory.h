// A directory of outputs written whole, then put in place in one step: `fill` writes into a
// fresh staging directory beside `dir`, and only then does the staging directory take dir's
// place (renameat2 RENAME_EXCHANGE, then the old one is removed). A reader, a later --weights,
// or a second run writing the same directory at the same time sees one run's files, never a mix
// of two runs' or a file left from an earlier one (issue 15, item 3). A throw from `fill` leaves
// `dir` as it was and removes the staging directory.
//
// The directory also gets a marker, shardrt-output.json ({"written_by", "run", "files": {name:
// {"bytes", "mtime_ns"}}}), so that a later run knows shardrt wrote it (and may replace it) and --weights can
// tell a dump's own files from others put there since (directoryManifestProblem).
#pragma once

#include <functional>
#include <string>

namespace shardrt {

inline constexpr const char* kOutputManifest = "shardrt-output.json";

void writeDirectoryAtomically(const std::string& dir,
                              const std::function<void(const std::string& staging)>& fill);

// For a directory about to be replaced: empty when it does not exist, is empty, or holds the
// marker; else why it must not be replaced ("holds files shardrt did not write").
std::string replaceableDirectoryProblem(const std::string& dir);

// For a directory read back (--weights DIR): empty when it has no marker (not ours to judge) or
// when its files are exactly those the marker lists, with their sizes and modification times
// (a file copied in from another run has the same size but not the same time); else the first
// that is
// not, e.g. "x.npy is not one of the files the run that wrote DIR wrote".
std::string directoryManifestProblem(const std::string& dir);

}  // namespace shardrt
